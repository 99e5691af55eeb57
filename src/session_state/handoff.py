"""The handoff package: what the next context needs to continue the work, and nothing else.

Built from the validated state, written as TOON (tables for todos, files, decisions,
subagents) for the model and as markdown for people. What gets injected is the critical part
only, capped below Claude Code's 10,000-character preview limit: lower-priority fields are cut
first (task, next step, blockers and decisions go last), and the text always ends with the
path of the full file so the model can Read the rest.
"""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path
from typing import Any, Callable

from session_state import checkpoints, journal, project, store
from session_state.models import (
    ContextSnapshot,
    HandoffPackage,
    RecoveryInfo,
    SessionContext,
    SessionState,
    TaskContext,
)

TOON = "handoff.toon"
MARKDOWN = "handoff.md"
ACTIVE = ("in_progress", "blocked", "pending")


def build(state: SessionState, root: Path, settings: dict[str, Any]) -> HandoffPackage:
    budget = state.budget
    available = None
    if budget is not None:
        room = budget.model_extra.get("tokens_to_autocompact") if budget.model_extra else None
        if isinstance(room, int):
            available = room
        elif budget.context_tokens is not None:
            available = budget.context_window - budget.context_tokens
    tasks = state.tasks
    active = sorted((t for t in tasks if t.status in ACTIVE), key=lambda t: ACTIVE.index(t.status))
    done = [t.subject for t in tasks if t.status == "completed"]
    in_progress = next((t for t in tasks if t.status == "in_progress"), None)
    pending = next((t for t in tasks if t.status == "pending"), None)
    last_request = state.requests[-1].text if state.requests else None
    if in_progress is not None:
        phase = in_progress.subject
        next_step = f"continue: {in_progress.active_form or in_progress.subject}"
    elif pending is not None:
        phase = pending.subject
        next_step = f"start: {pending.subject}"
    elif last_request:
        phase = _clip(last_request, 200)
        next_step = "confirm with the user whether the last request is finished, then continue"
    else:
        phase = "no task recorded yet"
        next_step = "ask the user what to work on"
    constraints = [f"blocked: {t.subject}" for t in tasks if t.status == "blocked"]
    if budget is not None and budget.level in ("warning", "critical"):
        constraints.append(
            f"context at {budget.percent:.0f}% ({budget.level}): finish the current step, record decisions, "
            "prefer /compact or a fresh session with this handoff"
        )
    critical = [f"user asked: {_clip(r.text, 400)}" for r in state.requests[-3:]]
    if state.last_assistant:
        critical.append(f"last assistant message: {_clip(state.last_assistant, 400)}")
    files = sorted(state.files, key=lambda f: (f.edits == 0, -(f.edits + f.reads)))[:15]
    floor = int(settings.get("available_tokens_floor", 30000))
    flags = []
    if available is not None and available < floor:
        flags.append("low_available_tokens")
    if state.status == "recovered":
        flags.append("recovered_from_checkpoint")
    now = journal.now_iso()
    return HandoffPackage(
        handoff_id=f"{state.session_id}@{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
        timestamp=now,
        from_agent=f"claude-code session {state.session_id}",
        to_agent="the next context of this work (after compaction, /clear, resume or a new session)",
        session_context=SessionContext(
            session_id=state.session_id,
            model=state.model,
            context_position_percent=None if budget is None or budget.percent is None else round(budget.percent, 1),
            available_tokens=available,
            user_language=user_language([r.text for r in state.requests]),
        ),
        task_context=TaskContext(
            current_phase=phase,
            completed_steps=done[-10:],
            next_step=next_step,
            constraints=constraints,
        ),
        context_snapshot=ContextSnapshot(
            critical_context=critical,
            recent_checkpoints=checkpoints.refs(root / "sessions" / _dir_name(state.session_id), limit=5),
            active_todos=active[:30],
            decisions=project.decisions(root)[-10:],
            files=files,
            subagents=state.subagents[-5:],
        ),
        recovery_info=RecoveryInfo(
            last_checkpoint=state.last_checkpoint,
            tokens_reserved=floor,
            fork_available=bool(state.transcript_path),
            resume_command=f"claude --resume {state.session_id}",
        ),
        flags=flags,
    )


def _dir_name(session_id: str) -> str:
    from session_state.paths import safe_id

    return safe_id(session_id)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_language(texts: list[str]) -> str | None:
    """The writing system of the user's requests, when they tell one (never a guess at prose)."""
    counts: dict[str, int] = {}
    for text in texts:
        for ch in text:
            if not ch.isalpha():
                continue
            name = unicodedata.name(ch, "")
            script = name.split(" ")[0] if name else ""
            key = {"HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HANGUL": "Korean", "CJK": "Chinese or Japanese",
                   "CYRILLIC": "Cyrillic script", "GREEK": "Greek", "ARABIC": "Arabic", "HEBREW": "Hebrew",
                   "DEVANAGARI": "Devanagari script", "THAI": "Thai", "LATIN": "Latin script"}.get(script)
            if key:
                counts[key] = counts.get(key, 0) + 1
    if not counts:
        return None
    if counts.get("Japanese") and counts.get("Chinese or Japanese"):
        counts["Japanese"] += counts.pop("Chinese or Japanese")
    return max(counts, key=lambda k: counts[k])


# --- rendering ------------------------------------------------------------------------------


def as_data(pkg: HandoffPackage) -> dict[str, Any]:
    return pkg.model_dump(mode="json")


def render_toon(pkg: HandoffPackage) -> str:
    import toons

    return toons.dumps(as_data(pkg)) + "\n"


def render_markdown(pkg: HandoffPackage, toon_path: Path) -> str:
    """The handoff for people (and for /session-state:handoff, which feeds it to the model):
    every item from the conversation or a file is one inert line (see session_state.inert)."""
    from session_state.inert import line as q

    t, s, c = pkg.task_context, pkg.session_context, pkg.context_snapshot
    lines = [
        f"# Handoff — session {q(s.session_id)}",
        "",
        f"Saved {q(pkg.timestamp)}. Model {q(s.model or 'unknown')}; context "
        + (f"{s.context_position_percent}%" if s.context_position_percent is not None else "unknown")
        + (f", {s.available_tokens:,} tokens left before auto-compaction." if s.available_tokens is not None else "."),
        "",
        "## Quick context",
        f"- Working on: {q(t.current_phase)}",
        *[f"- {q(item)}" for item in c.critical_context],
        "",
        "## Done",
        *([f"- {q(step)}" for step in t.completed_steps] or ["- (nothing recorded as completed)"]),
        "",
        "## Next steps",
        f"- {q(t.next_step)}",
        *[f"- [{q(todo.status)}] {q(todo.subject)}" for todo in c.active_todos],
        *[f"- constraint: {q(x)}" for x in t.constraints],
    ]
    if c.decisions:
        lines += ["", "## Decisions", *[f"- {q(d.choice)} — {q(d.why)}" if d.why else f"- {q(d.choice)}" for d in c.decisions]]
    if c.files:
        lines += ["", "## Files", *[f"- {q(f.path)} ({f.edits} edits, {f.reads} reads)" for f in c.files]]
    lines += [
        "",
        "## How to resume",
        f"- `{q(pkg.recovery_info.resume_command)}` continues this session; add `--fork-session` to branch off it.",
        f"- In a new session, ask Claude to read `{q(str(toon_path))}`.",
        f"- Last checkpoint: {q(pkg.recovery_info.last_checkpoint or 'none yet')}.",
        "",
    ]
    return "\n".join(lines)


def write(session_dir: Path, pkg: HandoffPackage) -> Path:
    path = session_dir / TOON
    store.write_toon(path, as_data(pkg))
    from session_state import fsutil

    fsutil.atomic_write(session_dir / MARKDOWN, render_markdown(pkg, path).encode("utf-8"), state=True)
    return path


def read(session_dir: Path) -> HandoffPackage | None:
    """The session's handoff, validated; None when absent. Raises ValidationError naming the field."""
    data = store.read_toon(session_dir / TOON)
    if data is None:
        return None
    return HandoffPackage.model_validate(data)


# --- injection ----------------------------------------------------------------------------

# Cut first → cut last. Task, next step, blockers and decisions are never cut before the rest.
_DROP_ORDER: list[tuple[str, Callable[[dict[str, Any]], list[Any] | None]]] = [
    ("subagents", lambda d: d["context_snapshot"]["subagents"]),
    ("files", lambda d: d["context_snapshot"]["files"]),
    ("completed steps", lambda d: d["task_context"]["completed_steps"]),
    ("earlier context", lambda d: d["context_snapshot"]["critical_context"]),
    ("todos", lambda d: d["context_snapshot"]["active_todos"]),
    ("decisions", lambda d: d["context_snapshot"]["decisions"]),
    ("constraints", lambda d: d["task_context"]["constraints"]),
]


def injection(pkg: HandoffPackage, full_path: Path, cap: int, *, heading: str) -> str:
    """The handoff's critical part as TOON, under `cap` characters, ending with the file path.

    Every string in it is an inert line (session_state.inert): the text is for the model, and
    task subjects, paths and decisions come from the conversation and from files. `heading` is
    the caller's own sentence; any id in it must already be inert.
    """
    import toons

    from session_state import inert

    data = inert.data(as_data(pkg))
    # Identity and timing fields change on every write; leaving them out keeps the text equal
    # when the state is, so a repeated SessionStart is recognised by its fingerprint.
    for volatile in ("recovery_info", "schema_version", "handoff_id", "timestamp"):
        data.pop(volatile, None)
    data["context_snapshot"].pop("recent_checkpoints", None)
    footer = f"\nFull handoff (Read it for anything cut here): {inert.line(str(full_path))}"
    size_note = "\n(about 00000 tokens, estimated with tiktoken-cl100k×1.60)"  # room kept for the real note
    omitted: list[str] = []

    def text() -> str:
        body = toons.dumps(data)
        note = f"\n(cut to fit: {', '.join(omitted)})" if omitted else ""
        return f"{heading}\n{body}{note}{footer}"

    cap -= len(size_note)

    out = text()
    for name, getter in _DROP_ORDER:
        if len(out) <= cap:
            break
        items = getter(data)
        while len(out) > cap and items:
            del items[len(items) // 2 :]
            if name not in omitted:
                omitted.append(name)
            out = text()
    if len(out) > cap:  # a single huge field (e.g. a very long task title): clip hard
        keep = max(cap - len(footer) - 1, 0)
        out = out[:keep] + "…" + footer
    return _with_estimate(out, footer, pkg.session_context.model)


def _with_estimate(text: str, footer: str, model: str | None) -> str:
    """Say what the injection costs, in the model's tokens as estimated (labelled so)."""
    from session_state import tokens

    est = tokens.estimate(text, model)
    body = text[: -len(footer)]
    return f"{body}\n(about {est['tokens']:,} tokens, estimated with {est['method']}){footer}"


def sizes(pkg: HandoffPackage, model: str | None = None) -> dict[str, Any]:
    """The handoff's size as TOON and as JSON, in characters and estimated tokens."""
    import json

    from session_state import tokens

    toon_text = render_toon(pkg)
    json_text = json.dumps(as_data(pkg), indent=2, ensure_ascii=False)
    toon_est = tokens.estimate(toon_text, model)
    json_est = tokens.estimate(json_text, model)
    saving = 100.0 * (1 - toon_est["tokens"] / json_est["tokens"]) if json_est["tokens"] else 0.0
    return {
        "toon_chars": len(toon_text),
        "json_chars": len(json_text),
        "toon_tokens": toon_est["tokens"],
        "json_tokens": json_est["tokens"],
        "saving_percent": round(saving, 1),
        "method": toon_est["method"],
        "estimate": True,
    }

"""The handoff package: what the next context needs to continue the work, and nothing else.

Built from the validated state and written whole as TOON (handoff.toon: identity, budget,
checkpoints, flags and the work) and as markdown for people. What the model reads is a
rendering of the work part only (session_state.state.inject), ending with the path of the full file.
"""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path
from typing import Any

from session_state.state import checkpoints, project_files as project, store
from session_state.core import journal, paths
from session_state.state.models import ContextSnapshot, HandoffPackage, RecoveryInfo, SessionContext, SessionState, Task, TaskContext
from session_state.core.settings import Settings

ACTIVE = ("in_progress", "blocked", "pending")
MARKDOWN_CAP = 1_000_000  # handoff.md is for people: nothing is cut


def build(state: SessionState, root: Path, settings: Settings) -> HandoffPackage:
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
    if in_progress is not None:
        phase = in_progress.subject
    elif pending is not None:
        phase = pending.subject
    elif state.requests:
        phase = "no task list: the latest request below"
    else:
        phase = "no task recorded yet"
    next_step, stated = _next_step(state, in_progress, pending)
    constraints = [f"blocked: {t.subject}" for t in tasks if t.status == "blocked"]
    if budget is not None and budget.level in ("warning", "critical"):
        constraints.append(
            f"context at {budget.percent:.0f}% ({budget.level}): finish the current step, record decisions, "
            "prefer /compact or a fresh session with this handoff"
        )
    critical = [f"last assistant message: {_clip(state.last_assistant, 400)}"] if state.last_assistant else []
    # the files edited most recently are the ones the next context touches again (benchmarks/handoff_recall.py)
    recent = list(reversed(state.files))
    files = ([f for f in recent if f.edits] + [f for f in recent if not f.edits])[:20]
    floor = settings["available_tokens_floor"]
    flags = []
    if available is not None and available < floor:
        flags.append("low_available_tokens")
    if state.status == "recovered":
        flags.append("recovered_from_checkpoint")
    chain = list(state.lineage.chain)
    parent = state.lineage.parent_session_id
    if parent and not any(link.startswith(parent) for link in chain):
        chain.append(f"{parent} (forked)")
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
            chain=chain,
        ),
        task_context=TaskContext(
            current_phase=phase,
            goal=state.goal.text if state.goal else None,
            requests=state.requests,
            completed_steps=done[-10:],
            next_step=next_step,
            next_step_stated=stated,
            constraints=constraints,
        ),
        context_snapshot=ContextSnapshot(
            critical_context=critical,
            recent_checkpoints=checkpoints.refs(paths.session_dir(root, state.session_id, create=False), limit=5),
            active_todos=active[:30],
            decisions=project.decisions(root)[-10:],
            files=files,
            failures=state.failures,
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


def _next_step(state: SessionState, in_progress: Task | None, pending: Task | None) -> tuple[str, bool]:
    """The next step in the model's own words when its latest message stated one, else from the tasks."""
    if state.next_step:
        return state.next_step, True
    if in_progress is not None:
        return f"finish the task in progress: {in_progress.subject}", False
    if pending is not None:
        return f"start the next task: {pending.subject}", False
    if state.requests:
        return "check whether the latest request is finished, then continue", False
    return "ask the user what to work on", False


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
    """The handoff for people (and for /session-state:handoff, which feeds it to the model): what
    the model is given after a compaction, then how to resume; every item is an inert line."""
    from session_state.state import inject
    from session_state.core.inert import line as q

    s = pkg.session_context
    heading = (
        f"# Handoff — session {q(s.session_id)}\n\nSaved {q(pkg.timestamp)}. Model {q(s.model or 'unknown')}; context "
        + (f"{s.context_position_percent}%" if s.context_position_percent is not None else "unknown")
        + (f", {s.available_tokens:,} tokens left before auto-compaction." if s.available_tokens is not None else ".")
    )
    body = inject.render(pkg, toon_path, MARKDOWN_CAP, heading=heading)
    return "\n".join([
        body,
        "",
        "## How to resume",
        f"- `{q(pkg.recovery_info.resume_command)}` continues this session; add `--fork-session` to branch off it.",
        f"- In a new session, ask Claude to read `{q(str(toon_path))}`.",
        f"- Last checkpoint: {q(pkg.recovery_info.last_checkpoint or 'none yet')}.",
        "",
    ])


def write(session_dir: Path, pkg: HandoffPackage) -> Path:
    path = session_dir / paths.HANDOFF
    store.write_toon(path, as_data(pkg))
    from session_state.core import fsutil

    fsutil.atomic_write(session_dir / paths.HANDOFF_MD, render_markdown(pkg, path).encode("utf-8"), state=True)
    return path


def read(session_dir: Path) -> HandoffPackage | None:
    """The session's handoff, validated; None when absent. Raises ValidationError naming the field."""
    data = store.read_toon(session_dir / paths.HANDOFF)
    if data is None:
        return None
    return HandoffPackage.model_validate(data)


def sizes(pkg: HandoffPackage, model: str | None = None) -> dict[str, Any]:
    """The handoff's size as TOON and as JSON, in characters and estimated tokens."""
    import json

    from session_state.state import tokens

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

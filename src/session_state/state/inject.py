"""What the model reads of a handoff: a short rendering of handoff.toon, work first.

Full tier. handoff.toon keeps the whole package (identity, budget, checkpoints, flags); the
model gets only what lets the work go on, measured by benchmarks/handoff_recall.py: the goal
and the requests along the way, the task list with status, the next step (in the model's own
words when it stated one), decisions with reasons, files in play, the last failures, what
subagents found and the chain of sessions. After a compaction whose summary is known, the
items the summary lacks come first and the rest is named briefly. Every item passes through
`_item`, the one place an item becomes text: one inert line (session_state.core.inert).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from session_state.core.inert import block, line
from session_state.state.models import HandoffPackage

# The heading after a compaction with no summary to compare against; `handoff show --format
# inject` prints the same text, so it shows the user exactly what the model would be told.
COMPACTED_HEADING = "session-state handoff: the conversation was just compacted; this is the saved state of the work."
REQUESTS_SHOWN = 4
FILES_SHOWN = 20
TASKS_SHOWN = 15
DONE_SHOWN = 10
DECISIONS_SHOWN = 6
SUBAGENTS_SHOWN = 3
FAILURES_SHOWN = 2
BRIEF = 100
MEANINGFUL = 12  # characters an earlier request needs to be worth a line


@dataclass
class Item:
    """One thing the next context may need: `key` identifies it across renderings."""

    key: str
    section: str
    text: str
    match: str  # what must be in a summary for it to count as held there
    priority: int  # lower survives a cut longer
    brief: str = ""  # how it is named when the summary already holds it (default: the text, clipped)

    def __post_init__(self) -> None:
        self.brief = self.brief or _item(self.text, BRIEF)


def _item(text: str, limit: int) -> str:
    """One item from the conversation or a file as one inert line of at most `limit` characters."""
    return line(" ".join(text.split()), limit)


def items(pkg: HandoffPackage) -> list[Item]:
    """The package's content as items, in reading order."""
    t, c, s = pkg.task_context, pkg.context_snapshot, pkg.session_context
    out: list[Item] = []
    if t.goal:
        out.append(Item("goal", "Goal (the first request)", _item(t.goal, 400), t.goal, 0, "goal: " + _item(t.goal, 200)))
    requests = [r.text for r in t.requests if r.text != t.goal]
    # the latest request always; earlier ones only when they say more than "y" or "ok"
    shown = [text for n, text in enumerate(reversed(requests)) if n == 0 or len(text) >= MEANINGFUL][:REQUESTS_SHOWN]
    for n, text in enumerate(shown):
        out.append(Item(f"request:{text[:60]}", "Requests, newest first", _item(text, 300 if n == 0 else 160), text, 0 if n == 0 else 5,
                        ("latest request: " if n == 0 else "earlier request: ") + _item(text, 200 if n == 0 else 120)))
    if requests and requests[0] not in shown:
        oldest, skipped = requests[0], len(requests) - len(shown) - 1
        out.append(Item(f"request:{oldest[:60]}", "Requests, newest first",
                        (f"(… {skipped} more) " if skipped else "") + f"oldest kept: {_item(oldest, 160)}", oldest, 6))
    for todo in c.active_todos[:TASKS_SHOWN]:
        out.append(Item(f"task:{todo.subject[:60]}", "Tasks", f"[{todo.status}] {_item(todo.subject, 140)}", todo.subject, 1,
                        f"[{todo.status}] {_item(todo.subject, 100)}"))
    if t.completed_steps:
        done = t.completed_steps[-DONE_SHOWN:]
        more = len(t.completed_steps) - len(done)
        out.append(Item("done", "Tasks", "[completed] " + "; ".join(_item(d, 50) for d in done) + (f" (+{more} earlier)" if more else ""),
                        " ".join(done), 7))
    out.append(Item("next", "Next step", _item(t.next_step, 300) + ("" if t.next_step_stated else " (inferred, not stated)"), t.next_step, 0,
                    "next: " + _item(t.next_step, BRIEF)))
    for x in t.constraints:
        out.append(Item(f"constraint:{x[:60]}", "Constraints", _item(x, 200), x, 2))
    for d in reversed(c.decisions[-DECISIONS_SHOWN:]):  # newest first: a cut keeps the latest
        text = f"{d.choice} — because {d.why}" if d.why else d.choice
        out.append(Item(f"decision:{d.id}", "Decisions, newest first", _item(text, 220), text, 2, "decided: " + _item(d.choice, 100)))
    files = c.files[:FILES_SHOWN]
    base = _common_dir([f.path for f in files])
    for f in files:
        what = f"{f.edits} edit{'s' if f.edits > 1 else ''}" if f.edits else "read"
        out.append(Item(f"file:{f.path}", f"Files in play{f' (under {_item(base, 200)})' if base else ''}",
                        f"{_item(f.path[len(base):] if base else f.path, 120)} ({what})", os.path.basename(f.path), 4 if f.edits else 8,
                        os.path.basename(f.path)))
    for failure in c.failures[-FAILURES_SHOWN:]:
        said = f" → {_item(failure.error, 160)}" if failure.error else ""
        out.append(Item(f"failure:{failure.command[:60]}", "Last failing commands", f"`{_item(failure.command, 150)}`{said}", failure.command, 3,
                        f"failed: `{_item(failure.command, 100)}`"))
    for sub in c.subagents[-SUBAGENTS_SHOWN:]:
        if sub.last_message:
            out.append(Item(f"subagent:{sub.agent_id}", "What subagents found",
                            f"{sub.agent_type or 'agent'}: {_item(sub.last_message, 200)}", sub.last_message, 6))
    if s.chain:
        out.append(Item("chain", "Sessions of this work, oldest first (the last one wrote this handoff)",
                        " → ".join(_item(x, 120) for x in [*s.chain, s.session_id]), " ".join(s.chain), 3,
                        "sessions: " + " → ".join(_item(x, 120) for x in [*s.chain, s.session_id])))
    return out


def _common_dir(paths: list[str]) -> str:
    """The folder all paths share, ending with a separator ('' when that saves nothing)."""
    if len(paths) < 2 or not all(p.startswith("/") for p in paths):
        return ""
    base = os.path.commonpath(paths)
    if base in ("/", "") or len(base) < 8:
        return ""
    return base.rstrip("/") + "/"


def show_command(session_id: str) -> str:
    """The one command that prints a handoff. The state lives outside the project, where a `Read`
    by the model needs the user's permission (refused outright in `claude -p`, measured on 2.1.330)."""
    import shlex

    return line(f"session-state handoff show --session {shlex.quote(session_id)}")


def footer(session_id: str, full_path: Path) -> str:
    """The injected handoff's last line: how to get anything not shown."""
    return f"Full handoff (for anything not here): `{show_command(session_id)}`; its file: {line(str(full_path))}"


def render(pkg: HandoffPackage, full_path: Path, cap: int, *, heading: str, covered: set[str] | None = None) -> str:
    """The text for the model, under `cap` characters, ending with the full file's path.

    With `covered` (the keys a compaction summary holds), the items it lacks lead, and the
    others are listed briefly after them. Over the cap, the least needed items go first.
    """
    all_items = items(pkg)
    last = footer(pkg.session_context.session_id, full_path)
    dropped: list[Item] = []
    while True:
        kept = [i for i in all_items if i not in dropped]
        text = _compose(kept, heading, last, covered, len(dropped))
        if len(text) <= cap or not kept:
            break
        dropped.append(max(kept, key=lambda i: (i.priority, kept.index(i))))
    if len(text) > cap:  # only the heading and footer are left and still too long
        text = text[: max(cap - len(last) - 2, 0)] + "…\n" + last
    return block(text)  # the last gate: the caller's heading is the only text not made inert here


def _compose(kept: list[Item], heading: str, footer: str, covered: set[str] | None, cut: int) -> str:
    lines = [heading]
    if covered is None:
        lines += _sections(kept)
    else:
        missing = [i for i in kept if i.key not in covered]
        held = [i for i in kept if i.key in covered]
        if missing:
            lines += ["", "Not in Claude Code's summary above:"] + _sections(missing)
        if held:
            lines += ["", "Also saved (the summary has these): " + "; ".join(i.brief for i in held)]
    if cut:
        lines.append(f"({cut} lower-priority items left out here)")
    lines += ["", footer]
    return "\n".join(lines)


def _sections(kept: list[Item]) -> list[str]:
    lines: list[str] = []
    section = None
    for i in kept:
        if i.section != section:
            section = i.section
            lines.append(f"{section}:")
        lines.append(f"- {i.text}")
    return lines

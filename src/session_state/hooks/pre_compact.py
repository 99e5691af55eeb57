"""PreCompact: checkpoint and write the handoff, then tell the summariser what must survive.

PreCompact cannot add context, but its plain stdout is appended to the compaction prompt,
so it shapes the summary itself; the handoff written here is what SessionStart `compact`
injects afterwards.
"""

from __future__ import annotations

from pathlib import Path

from session_state.hooks import events
from session_state.state.models import HandoffPackage


def validate(payload: object) -> events.PreCompact:
    return events.PreCompact.model_validate(payload)


def handle(inp: events.PreCompact) -> str | None:
    from session_state.state import compact_summary, handoff, materialize as refresh
    from session_state.core import turn

    where = turn.locate(inp.session_id, inp.cwd)
    compact_summary.forget(where.session_dir)  # the summary of an earlier compaction
    turn.record_turn(where, "PreCompact", inp.transcript_path, reported=inp.context_window, spawn=False)
    result = refresh.materialize(
        where.project, inp.session_id, transcript_path=inp.transcript_path,
        checkpoint=f"pre-compact-{inp.trigger or 'auto'}",
    )
    pkg = handoff.build(result.state, where.root, where.settings)
    return summary_instructions(pkg, result.handoff_path)


def summary_instructions(pkg: HandoffPackage, path: Path | None) -> str:
    """The lines appended to the compaction prompt; each item in them is an inert line, so a task
    subject or a file path cannot add a line of its own to the summariser's instructions."""
    from session_state.core.inert import block, line as q

    t, c = pkg.task_context, pkg.context_snapshot
    lines = [
        "session-state: the summary must preserve, in its own section:",
        *([f"- The goal of the work (the first request): {q(t.goal)}"] if t.goal else []),
        f"- The task in hand: {q(t.current_phase)}",
        f"- The next step: {q(t.next_step)}",
    ]
    active = [f"[{q(x.status)}] {q(x.subject)}" for x in c.active_todos[:12]]
    if active:
        lines.append("- Open task items, with status: " + "; ".join(active))
    if t.constraints:
        lines.append("- Blockers and constraints: " + "; ".join(q(x) for x in t.constraints))
    if c.decisions:
        lines.append("- Decisions (with reasons): " + "; ".join(
            f"{q(d.choice)} ({q(d.why)})" if d.why else q(d.choice) for d in c.decisions[-8:]))
    edited = [q(f.path) for f in c.files if f.edits][:12]
    if edited:
        lines.append("- Files being changed: " + ", ".join(edited))
    if path is not None:
        lines.append(f"- That the full handoff is saved at {q(str(path))}")
    return block("\n".join(lines)) + "\n"

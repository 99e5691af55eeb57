"""PostCompact: keep Claude Code's summary and record which handoff items it already holds.

Runs after SessionStart `compact` (measured on 2.1.330), so it cannot shape that injection;
the compaction's SubagentStop already saved the same summary for it. This record, from the
field made for the summary, replaces that one in `compact-summary.json` with the keys of the
handoff items the summary kept and dropped (for people and tools reading the session's folder).
"""

from __future__ import annotations

from session_state.hooks import events


def validate(payload: object) -> events.PostCompact:
    return events.PostCompact.model_validate(payload)


def handle(inp: events.PostCompact) -> None:
    from session_state.state import compact_summary, handoff, materialize as refresh
    from session_state.core import turn

    if not inp.compact_summary:
        return None
    where = turn.locate(inp.session_id, inp.cwd)
    result = refresh.materialize(where.project, inp.session_id, transcript_path=inp.transcript_path)
    compact_summary.save(where.session_dir, inp.compact_summary, "PostCompact",
                         handoff.build(result.state, where.root, where.settings),
                         where.settings["redact_extra"])
    return None

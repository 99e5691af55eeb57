"""SessionEnd: mark how the session ended, then a last checkpoint and handoff.

Best effort: Claude Code kills this hook after about 1.5 s. So the one fact a successor
depends on (that this session ended by /clear) is written first, with the stdlib only,
before pydantic is even imported; the checkpoint and handoff follow if time allows, and
nothing depends on them alone (Stop keeps the handoff current).
"""

from __future__ import annotations

from session_state.hooks import inputs


def validate(payload: object) -> inputs.SessionEndInput:
    return inputs.session_end(payload)


def handle(inp: inputs.SessionEndInput) -> None:
    from session_state.core import facts, fsutil, journal, paths
    from session_state.core import turn

    where = turn.locate(inp["session_id"], inp["cwd"])
    reason = inp["reason"] or "other"  # null as well as absent
    journal.record(where.session_dir, facts.SESSION_END, facts.event_id("end", reason, journal.now_iso()), reason=reason)
    fsutil.create_exclusive(where.session_dir / (paths.ENDED_BY_CLEAR if reason == "clear" else paths.ENDED))
    from session_state.state import materialize as refresh

    refresh.materialize(
        where.project, inp["session_id"], transcript_path=inp["transcript_path"],
        checkpoint=f"session-end-{reason}",
    )
    return None

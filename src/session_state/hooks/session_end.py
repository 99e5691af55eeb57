"""SessionEnd: a last checkpoint and handoff (best effort: Claude Code kills it after ~1.5 s).

Nothing depends on this hook alone: Stop keeps the handoff current, and the next
SessionStart folds whatever this one did not get to.
"""

from __future__ import annotations

from typing import Any

from session_state import events


def validate(payload: Any) -> events.SessionEnd:
    return events.SessionEnd.model_validate(payload)


def handle(inp: events.SessionEnd) -> None:
    from session_state import journal, refresh
    from session_state.hooks import turn

    payload = inp.model_dump()
    where = turn.locate(payload)
    reason = inp.reason or "other"
    refresh.materialize(
        where.project, inp.session_id, transcript_path=inp.transcript_path,
        facts=[("session_end", f"end:{reason}:{journal.now_iso()}", {"reason": reason})],
        checkpoint=f"session-end-{reason}",
    )
    return None

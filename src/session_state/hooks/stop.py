"""Stop (every turn, hot tier): record the turn, judge the budget, refresh state off the hook path.

Stdlib only: pydantic alone would cost more than this hook's whole budget. The validated
state and handoff are brought up to date by a detached refresh (session_state.state.materialize).
"""

from __future__ import annotations

from typing import Any

from session_state.hooks import inputs


def validate(payload: Any) -> dict[str, Any]:
    return inputs.stop(payload)


def handle(payload: dict[str, Any]) -> dict[str, Any] | None:
    from session_state.core import turn

    turn.await_flush(payload.get("transcript_path"), payload.get("last_assistant_message"))
    outcome = turn.record_turn(payload, "Stop")
    if outcome.critical_block:
        from session_state.hooks import output

        return output.block("Stop", outcome.critical_block)
    return None

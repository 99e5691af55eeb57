"""Stop (every turn, hot tier): record the turn, judge the budget, refresh state off the hook path.

Stdlib only: pydantic alone would cost more than this hook's whole budget. The validated
state and handoff are brought up to date by a detached refresh (session_state.state.materialize).
"""

from __future__ import annotations

from typing import Any

from session_state.hooks import inputs


def validate(payload: object) -> inputs.StopInput:
    return inputs.stop(payload)


def handle(inp: inputs.StopInput) -> dict[str, Any] | None:
    from session_state.core import turn

    turn.await_flush(inp["transcript_path"], inp["last_assistant_message"])
    where = turn.locate(inp["session_id"], inp["cwd"])
    outcome = turn.record_turn(where, "Stop", inp["transcript_path"], reported=inp["context_window"],
                               stop_hook_active=inp["stop_hook_active"])
    if outcome.critical_block:
        from session_state.hooks import output

        return output.block("Stop", outcome.critical_block)
    return None

"""UserPromptSubmit (every prompt, hot tier): judge the budget, deliver pending notices.

The only per-turn event that can speak to the model: budget crossings found by any hook
are told here, once per crossing, as context for the model and a line for the user.
The prompt itself is not written here: it reaches the journal from the transcript, through
the full tier's redactor (journal.sync_facts), like every other conversation text.
"""

from __future__ import annotations

from typing import Any

from session_state.hooks import inputs


def validate(payload: object) -> inputs.UserPromptSubmitInput:
    return inputs.user_prompt_submit(payload)


def handle(inp: inputs.UserPromptSubmitInput) -> dict[str, Any] | None:
    from session_state.core import inert, notices
    from session_state.hooks import output
    from session_state.core import turn

    where = turn.locate(inp["session_id"], inp["cwd"])
    turn.record_turn(where, "UserPromptSubmit", inp["transcript_path"], reported=inp["context_window"], spawn=False)
    user, model = notices.merge(notices.take(where.session_dir))
    if model:
        return output.context("UserPromptSubmit", inert.block(model)[:9000], user)
    if user:
        return output.notice(user)
    return None

"""UserPromptSubmit (every prompt, hot tier): record the request, deliver pending notices.

The only per-turn event that can speak to the model: budget crossings found by any hook
are told here, once per crossing, as context for the model and a line for the user.
"""

from __future__ import annotations

from typing import Any

from session_state import inputs


def validate(payload: Any) -> dict[str, Any]:
    return inputs.user_prompt_submit(payload)


def handle(payload: dict[str, Any]) -> dict[str, Any] | None:
    from session_state import inert, journal, notices, output
    from session_state.hooks import turn
    from session_state.redact import redact_text

    where = turn.locate(payload)
    prompt = payload.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        fact_id = f"prompt:{payload.get('prompt_id') or journal.now_iso()}"
        journal.record(where.session_dir, "prompt", fact_id, text=redact_text(prompt, where.settings.get("redact_extra") or ())[:2000])
    turn.record_turn(payload, "UserPromptSubmit", where=where, spawn=False)
    user, model = notices.merge(notices.take(where.session_dir))
    if model:
        return output.context("UserPromptSubmit", inert.block(model)[:9000], user)
    if user:
        return output.notice(user)
    return None

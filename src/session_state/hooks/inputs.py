"""Cheap checks of hook input for the per-turn hooks, conformant with `events.py`.

Stdlib only. The pydantic models in `session_state.hooks.events` define what each event's input
is; importing pydantic costs more than the whole per-turn budget, so Stop and
UserPromptSubmit check the few fields they use here, and tests/test_inputs.py proves on
generated payloads that these checks accept exactly what the models accept for those fields.
"""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Hook input that cannot be used; the message names the field, the value and what is accepted."""


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def require_str(payload: dict[str, Any], field: str, *, allow_empty: bool = False) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or (not allow_empty and not value):
        raise InputError(f"field {field!r} is {_describe(value)}; a non-empty string is required")
    return value


def optional_str(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"field {field!r} is {_describe(value)}; a string or null is accepted")
    return value


def optional_bool(payload: dict[str, Any], field: str) -> bool:
    value = payload.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(f"field {field!r} is {_describe(value)}; true or false is accepted")
    return value


def common(payload: Any) -> dict[str, Any]:
    """The fields every event carries; returns the payload when they are usable."""
    if not isinstance(payload, dict):
        raise InputError(f"hook input is {type(payload).__name__}; a JSON object is required")
    require_str(payload, "session_id")
    require_str(payload, "hook_event_name")
    optional_str(payload, "transcript_path")
    optional_str(payload, "cwd")
    return payload


def stop(payload: Any) -> dict[str, Any]:
    data = common(payload)
    optional_bool(data, "stop_hook_active")
    optional_str(data, "last_assistant_message")
    return data


def user_prompt_submit(payload: Any) -> dict[str, Any]:
    data = common(payload)
    optional_str(data, "prompt")
    optional_str(data, "prompt_id")
    return data

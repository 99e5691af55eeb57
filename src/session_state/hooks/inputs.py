"""Hook input as typed data, checked with the standard library, for the hooks that cannot
afford pydantic.

Stdlib only. The pydantic models in `session_state.hooks.events` define what each event's input
is; importing pydantic costs more than the whole per-turn budget, so Stop, UserPromptSubmit and
SessionEnd (which must be done in about 1.5 s) check their fields here and get back a typed dict
holding exactly those fields. tests/test_inputs.py proves, on generated payloads, that these
checks accept what the models accept and that each typed dict declares the fields and types of
its model.
"""

from __future__ import annotations

from typing import TypedDict


class InputError(ValueError):
    """Hook input that cannot be used; the message names the field, the value and what is accepted."""


class HookInput(TypedDict):
    """The fields every event carries (`events.HookInput`)."""

    session_id: str
    hook_event_name: str
    transcript_path: str | None
    cwd: str | None
    # Claude Code's own context figures, should a release send them to hooks as it does to the
    # status line (2.1.330 does not); any JSON value: `budget.with_reported` judges it.
    context_window: object


class StopInput(HookInput):
    stop_hook_active: bool
    last_assistant_message: str | None


class UserPromptSubmitInput(HookInput):
    prompt: str | None
    prompt_id: str | None
    permission_mode: str | None


class SessionEndInput(HookInput):
    reason: str | None


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(payload: object) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise InputError(f"hook input is {type(payload).__name__}; a JSON object is required")
    return payload


def require_str(payload: dict[str, object], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise InputError(f"field {field!r} is {_describe(value)}; a non-empty string is required")
    return value


def optional_str(payload: dict[str, object], field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"field {field!r} is {_describe(value)}; a string or null is accepted")
    return value


def optional_bool(payload: dict[str, object], field: str) -> bool:
    value = payload.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(f"field {field!r} is {_describe(value)}; true or false is accepted")
    return value


def common(payload: object) -> HookInput:
    """The fields every event carries, checked; other fields are left out."""
    data = _fields(payload)
    return {
        "session_id": require_str(data, "session_id"),
        "hook_event_name": require_str(data, "hook_event_name"),
        "transcript_path": optional_str(data, "transcript_path"),
        "cwd": optional_str(data, "cwd"),
        "context_window": data.get("context_window"),
    }


def stop(payload: object) -> StopInput:
    base = common(payload)
    data = _fields(payload)
    return {
        **base,
        "stop_hook_active": optional_bool(data, "stop_hook_active"),
        "last_assistant_message": optional_str(data, "last_assistant_message"),
    }


def user_prompt_submit(payload: object) -> UserPromptSubmitInput:
    base = common(payload)
    data = _fields(payload)
    return {**base, "prompt": optional_str(data, "prompt"), "prompt_id": optional_str(data, "prompt_id"),
            "permission_mode": optional_str(data, "permission_mode")}


def session_end(payload: object) -> SessionEndInput:
    base = common(payload)
    data = _fields(payload)
    return {**base, "reason": optional_str(data, "reason") if "reason" in data else "other"}  # the model's default

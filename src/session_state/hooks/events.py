"""Hook inputs, one pydantic model per Claude Code event.

Only `session_id` and `hook_event_name` are required; unknown fields are kept and
enumerations are open strings, because every Claude Code release adds fields and values (`SessionStart` gained `compact` and `fork`; closed enums in
other libraries broke on them).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class HookInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    session_id: str = Field(min_length=1)
    hook_event_name: str = Field(min_length=1)
    transcript_path: str | None = None
    cwd: str | None = None
    # Claude Code's own context figures, should a release send them to hooks (2.1.330 does not);
    # any JSON value: budget.with_reported judges it (inputs.HookInput declares the same)
    context_window: Any = None


class SessionStart(HookInput):
    source: str | None = "startup"
    model: str | None = None
    context_tokens: int | None = None
    seconds_since_last_response: float | None = None


class UserPromptSubmit(HookInput):
    prompt: str | None = None
    prompt_id: str | None = None
    permission_mode: str | None = None


class PreCompact(HookInput):
    trigger: str | None = "auto"
    custom_instructions: str | None = None


class PostCompact(HookInput):
    trigger: str | None = "auto"
    compact_summary: str | None = None


class Stop(HookInput):
    stop_hook_active: StrictBool | None = False  # JSON true or false, as the stdlib check in inputs.py
    last_assistant_message: str | None = None


class SubagentStop(HookInput):
    agent_id: str | None = None
    agent_type: str | None = None
    agent_transcript_path: str | None = None
    last_assistant_message: str | None = None
    stop_hook_active: StrictBool | None = False  # JSON true or false, as the stdlib check in inputs.py


class SessionEnd(HookInput):
    reason: str | None = "other"


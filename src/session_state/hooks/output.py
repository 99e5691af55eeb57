"""Hook outputs that each event actually accepts (measured on Claude Code 2.1.330).

Stdlib only. Claude Code rejects `hookSpecificOutput` without `hookEventName` and rejects
`additionalContext` on Stop, SubagentStop and PreCompact, silently losing what we meant to
say; building outputs only through these functions makes those mistakes impossible.
"""

from __future__ import annotations

from typing import Any

from session_state.core.inert import block as _inert

CONTEXT_EVENTS = frozenset({"SessionStart", "UserPromptSubmit", "PostToolUse", "SubagentStart"})
BLOCK_EVENTS = frozenset({"Stop", "SubagentStop"})
# Claude Code replaces additionalContext over 10,000 characters by a preview and a file path.
CONTEXT_HARD_LIMIT = 10_000


def context(event: str, text: str, system_message: str | None = None) -> dict[str, Any]:
    """Text for the model (and optionally a line for the user) on an event that takes context.

    Both pass the last inert gate (session_state.core.inert.block): whatever an item brought in,
    no control, bidi or invisible formatting character reaches the model or the terminal.
    """
    text = _inert(text)
    if event not in CONTEXT_EVENTS:
        raise ValueError(f"{event} does not accept additionalContext (accepted: {sorted(CONTEXT_EVENTS)})")
    if len(text) >= CONTEXT_HARD_LIMIT:
        raise ValueError(f"additionalContext of {len(text)} characters would be replaced by a preview")
    out: dict[str, Any] = {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}
    if system_message:
        out["systemMessage"] = _inert(system_message)
    return out


def notice(text: str) -> dict[str, Any]:
    """A line shown to the user only; every event accepts it."""
    return {"systemMessage": _inert(text)}


def block(event: str, reason: str) -> dict[str, Any]:
    """Make the model run one more turn with `reason` (Stop/SubagentStop only)."""
    if event not in BLOCK_EVENTS:
        raise ValueError(f"{event} cannot block (accepted: {sorted(BLOCK_EVENTS)})")
    return {"decision": "block", "reason": _inert(reason)}

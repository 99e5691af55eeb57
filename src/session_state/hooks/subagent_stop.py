"""SubagentStop: record the subagent (id, type, trimmed last message, token totals) and checkpoint.

Each compaction also runs as a subagent (empty type, no transcript file): it is not a
subagent of the user's work and is not recorded as one, but its last message is Claude Code's
summary, kept for the SessionStart `compact` that follows (see compact_summary).
"""

from __future__ import annotations

import os
from typing import Any

from session_state.hooks import events


def validate(payload: object) -> events.SubagentStop:
    return events.SubagentStop.model_validate(payload)


def handle(inp: events.SubagentStop) -> None:
    from session_state.state import compact_summary, handoff, redactor, materialize as refresh
    from session_state.core import facts, transcript
    from session_state.core import turn

    where = turn.locate(inp.session_id, inp.cwd)
    agent_path = inp.agent_transcript_path
    is_compaction = not inp.agent_type and not (agent_path and os.path.isfile(agent_path))
    new_facts: list[tuple[str, str, dict[str, Any]]] = []
    if not is_compaction:
        totals: dict[str, Any] = {}
        if agent_path and os.path.isfile(agent_path):
            cursor, _ = transcript.update(None, agent_path, facts=False)
            totals = cursor.get("totals") or {}
        red = redactor.for_settings(where.settings, where.session_dir)
        agent_id = red(inp.agent_id or "unknown", 200)
        new_facts.append((facts.SUBAGENT, facts.event_id("subagent", agent_id), {
            "agent_id": agent_id, "agent_type": red(inp.agent_type or "", 200),
            "last_message": red(inp.last_assistant_message or "", facts.MESSAGE_CHARS),
            "totals": {k: int(totals.get(k, 0)) for k in transcript.USAGE_KEYS},
        }))
    turn.record_turn(where, "SubagentStop", inp.transcript_path, reported=inp.context_window, spawn=False)
    result = refresh.materialize(
        where.project, inp.session_id, transcript_path=inp.transcript_path, facts=new_facts,
        checkpoint=None if is_compaction else "subagent-stop",
    )
    if is_compaction and inp.last_assistant_message:
        # the summary, before SessionStart `compact` runs (PostCompact comes only after it)
        compact_summary.save(where.session_dir, inp.last_assistant_message or "", "SubagentStop",
                             handoff.build(result.state, where.root, where.settings),
                             where.settings["redact_extra"])
    return None

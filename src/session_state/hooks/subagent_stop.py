"""SubagentStop: record the subagent (id, type, trimmed last message, token totals) and checkpoint.

Each compaction also runs as a subagent (empty type, no transcript file): it is not a
subagent of the user's work and is not recorded as one, but its last message is Claude Code's
summary, kept for the SessionStart `compact` that follows (see compact_summary).
"""

from __future__ import annotations

import os
from typing import Any

from session_state import events


def validate(payload: Any) -> events.SubagentStop:
    return events.SubagentStop.model_validate(payload)


def handle(inp: events.SubagentStop) -> None:
    from session_state import compact_summary, handoff, refresh, transcript
    from session_state.hooks import turn
    from session_state.redact import redact_text

    payload = inp.model_dump()
    where = turn.locate(payload)
    agent_path = inp.agent_transcript_path
    is_compaction = not inp.agent_type and not (agent_path and os.path.isfile(agent_path))
    facts = []
    if not is_compaction:
        totals: dict[str, Any] = {}
        if agent_path and os.path.isfile(agent_path):
            cursor, _ = transcript.update(None, agent_path, facts=False)
            totals = cursor.get("totals") or {}
        message = redact_text(inp.last_assistant_message or "", where.settings.get("redact_extra") or ())
        agent_id = inp.agent_id or "unknown"
        facts.append(("subagent", f"subagent:{agent_id}", {
            "agent_id": agent_id, "agent_type": inp.agent_type or "", "last_message": message[:500],
            "totals": {k: int(totals.get(k, 0)) for k in (
                "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")},
        }))
    turn.record_turn(payload, "SubagentStop", where=where, spawn=False)
    result = refresh.materialize(
        where.project, inp.session_id, transcript_path=inp.transcript_path, facts=facts,
        checkpoint=None if is_compaction else "subagent-stop",
    )
    if is_compaction and inp.last_assistant_message:
        # the summary, before SessionStart `compact` runs (PostCompact comes only after it)
        compact_summary.save(where.session_dir, inp.last_assistant_message or "", "SubagentStop",
                             handoff.build(result.state, where.root, where.settings),
                             where.settings.get("redact_extra") or ())
    return None

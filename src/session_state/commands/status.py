"""`session-state status`: the session's task, items, budget, last checkpoint, handoff and lineage.

It materializes first (cheap and idempotent: it folds only the journal's new facts), so what
it prints is what the next context would receive, not a picture from the last hook run.
"""

from __future__ import annotations

import argparse
from typing import Any

from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "status",
        "the session's task, items, budget, checkpoint, handoff and lineage",
        "What session-state knows about a session, brought up to date with its transcript first.",
        ["session-state status", "session-state status --session 258c7280-ae70-4798-800f-63464d01a85d --json"],
    )
    _common.add_session(p)
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project, root, sid, folder = _common.resolve(args)
    result = _common.materialize(project, sid, folder)
    data = summary(result)
    from session_state.core import settings

    data["config_errors"] = settings.problems(project)
    if args.json:
        _common.print_json(data)
    else:
        from session_state.core.inert import data as inert_data

        print(render(inert_data(data)))
        if data["config_errors"]:
            from session_state.core.inert import line

            print(line(_common.config_line(data["config_errors"])))
    return 0


def summary(result: Any) -> dict[str, Any]:
    """Plain data for both outputs."""
    st = result.state
    lineage = st.lineage
    budget = result.budget if result.budget is not None else (st.budget.model_dump() if st.budget else None)
    current = next((t for t in st.tasks if t.status == "in_progress"), None)
    return {
        "session_id": st.session_id,
        "status": st.status,
        "project": st.project,
        "model": st.model,
        "git_branch": st.git_branch,
        "updated": st.updated,
        "task": current.subject if current else (st.requests[-1].text if st.requests else None),
        "items": [{"id": t.id, "subject": t.subject, "status": t.status, "source": t.source} for t in st.tasks],
        "budget": budget,
        "last_checkpoint": st.last_checkpoint,
        "last_checkpoint_at": st.last_checkpoint_at,
        "handoff": str(result.handoff_path) if result.handoff_path else None,
        "transcript": st.transcript_path,
        "lineage": {
            "parent": lineage.parent_session_id,
            "previous": lineage.previous_session_id,
            "cleared_into": lineage.cleared_into,
            "forks": list(lineage.forks),
            "resume_count": lineage.resume_count,
        },
        "recovered": result.recovered,
    }


def budget_line(budget: dict[str, Any] | None) -> str:
    if not budget or budget.get("context_tokens") is None:
        why = "compacted, no response since" if budget and budget.get("compacted") else "no response measured yet"
        return f"unknown ({why})"
    from session_state.core import forecast

    room = budget.get("tokens_to_autocompact")
    tail = f"; {room:,} tokens before auto-compaction" if isinstance(room, int) else ""
    turns = forecast.phrase(budget.get("turns_forecast"))
    tail += f", {turns}" if turns and tail else ""
    return (
        f"{budget['context_tokens']:,} of {budget['context_window']:,} tokens = {budget.get('percent')}% "
        f"[{budget.get('level')}]{tail}"
    )


def render(data: dict[str, Any]) -> str:
    lines = [
        f"Session {data['session_id']}  ({data['status']})",
        f"  model {data['model'] or 'unknown'}; branch {data['git_branch'] or '-'}; updated {data['updated']}",
        f"Task: {data['task'] or 'none recorded yet'}",
    ]
    from session_state.core.basic_handoff import task_lines

    lines += task_lines(data["items"], "Items") or ["Items: none (the task list is empty)"]
    lines.append(f"Budget: {budget_line(data['budget'])}")
    from session_state.core import pricing

    cost = pricing.cost_line(data["budget"])
    if cost:
        lines.append(f"Cost: {cost}")
    if data["last_checkpoint"]:
        lines.append(f"Last checkpoint: {data['last_checkpoint']} ({data['last_checkpoint_at']})")
    else:
        lines.append("Last checkpoint: none yet")
    lines.append(f"Handoff: {data['handoff'] or 'not written'}")
    lin = data["lineage"]
    lines.append(
        "Lineage: "
        + "; ".join(
            [
                f"parent {lin['parent'] or '-'}",
                f"previous {lin['previous'] or '-'}",
                f"cleared into {lin['cleared_into'] or '-'}",
                f"forks {', '.join(lin['forks']) or '-'}",
                f"resumed {lin['resume_count']}×",
            ]
        )
    )
    if data["recovered"]:
        lines.append(f"Note: {data['recovered']}")
    return "\n".join(lines)

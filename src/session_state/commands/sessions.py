"""`session-state sessions`: every session of the project, newest first, and how they relate.

Read-only: states are validated but never set aside here (a listing must not move files), and
sessions are not materialized (that could take a while for many sessions); `status` does that.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "sessions",
        "the project's sessions with status, budget and lineage",
        "List the project's sessions, newest first (by transcript activity, the `updated` column): status, budget, tasks and lineage "
        "(parent, forks, cleared into).",
        ["session-state sessions", "session-state sessions --json"],
    )
    _common.add_project(p)
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = _common.project(args)
    root = _common.root(project)
    from session_state.core import paths

    rows = [describe(folder) for folder in _common.session_dirs(root)]
    recorded = paths.recorded_project(root) or str(project)
    for row in rows:
        row["project"] = recorded
    if args.json:
        _common.print_json(rows)
        return 0
    table = []
    for r in rows:
        pct = r["percent"]
        budget = f"{pct}% {r['level']}" if pct is not None else (r["level"] or "-")
        lineage = []
        if r["parent"]:
            lineage.append(f"parent {r['parent']}")
        if r["previous"]:
            lineage.append(f"previous {r['previous']}")
        if r["forks"]:
            lineage.append(f"forks {', '.join(r['forks'])}")
        if r["cleared_into"]:
            lineage.append(f"cleared into {r['cleared_into']}")
        table.append([r["session_id"], r["updated"] or "-", r["status"], budget, r["tasks"], "; ".join(lineage) or "-"])
    print(f"project {recorded}; state in {root}")
    print(_common.table(table, ["session", "updated", "status", "budget", "tasks", "lineage"]))
    return 0


def describe(folder: Path) -> dict[str, Any]:
    from session_state.core import paths
    from session_state.state import store
    from session_state.state.models import SessionState

    try:
        st = store.read_model(folder / paths.STATE, SessionState, quarantine=False)
        problem = None
    except store.CorruptFile as exc:
        st, problem = None, exc.reason
    activity = _common.last_activity(folder)
    row: dict[str, Any] = {
        "session_id": st.session_id if st else paths.session_id_of(folder),
        "status": st.status if st else ("invalid state" if problem else "no state yet"),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(activity)) if activity else (st.updated if st else None),
        "percent": st.budget.percent if st and st.budget else None,
        "level": st.budget.level if st and st.budget else None,
        "tasks": f"{sum(t.status == 'completed' for t in st.tasks)}/{len(st.tasks)}" if st else "-",
        "parent": st.lineage.parent_session_id if st else None,
        "previous": st.lineage.previous_session_id if st else None,
        "forks": list(st.lineage.forks) if st else [],
        "cleared_into": st.lineage.cleared_into if st else None,
        "resume_count": st.lineage.resume_count if st else 0,
        "problem": problem,
        "folder": str(folder),
    }
    return row

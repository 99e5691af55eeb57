"""`session-state decide`: record a project decision so no later context re-litigates it.

Decisions live in the project's decisions.toon (they outlive sessions) and appear in every
handoff; the current session's handoff is refreshed at once so that a compaction right after
the decision already carries it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from session_state.core import paths
from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "decide",
        "record a decision in the project's decisions.toon",
        "Record a decision (a choice and why) for this project; it is part of every later handoff.",
        [
            'session-state decide "use orjson for state files" --why "pydantic round-trips it 3x faster"',
            'session-state decide "no background summarising" --why "it spends tokens" --by model --json',
        ],
    )
    p.add_argument("choice", help="what was decided")
    p.add_argument("--why", required=True, help="the reason (kept with the decision)")
    p.add_argument("--by", choices=("user", "model"), default="user", help="who decided (default: user)")
    _common.add_session(p)
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from session_state.state import project_files

    if not args.choice.strip():
        raise _common.error("the decision is empty; give the choice as the first argument")
    project = _common.project(args)
    root = paths.state_root(project)
    sid, folder = _current(args, root)
    decision = project_files.decide(root, args.choice, args.why, session_id=sid, by=args.by)
    handoff_path = _common.materialize(project, sid, folder).handoff_path if sid and folder else None
    if args.json:
        _common.print_json({**decision.model_dump(mode="json"), "handoff": str(handoff_path) if handoff_path else None})
    else:
        from session_state.core.inert import line

        where = f"; handoff refreshed: {line(str(handoff_path))}" if handoff_path else ""
        print(f"recorded decision {decision.id} in {line(str(root / paths.DECISIONS))}{where}")
    return 0


def _current(args: argparse.Namespace, root: Path) -> tuple[str | None, Path | None]:
    """The session to credit and refresh; none yet is fine for a project-level decision."""
    if args.session or os.environ.get(_common.SESSION_ENV):
        return _common.session(args, root)
    dirs = _common.session_dirs(root)
    if not dirs:
        return None, None
    return paths.session_id_of(dirs[0]), dirs[0]

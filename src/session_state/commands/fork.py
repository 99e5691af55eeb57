"""`session-state fork`: mark where a parallel line of work branches off a session.

Claude Code itself makes the fork (`claude --resume ID --fork-session` starts a new session on
a copy of the conversation); this command takes a checkpoint with trigger `fork` first, so
the state at the branching point is kept however far either line goes afterwards.
"""

from __future__ import annotations

import argparse
from typing import Any

from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "fork",
        "checkpoint the session as a fork point and print how to start the fork",
        "Snapshot the session's state as a checkpoint with trigger `fork` and print the Claude Code command "
        "that starts a parallel session from it.",
        ["session-state fork", "session-state fork --session 258c7280-ae70-4798-800f-63464d01a85d --json"],
    )
    _common.add_session(p)
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project, root, sid, folder = _common.resolve(args)
    result = _common.materialize(project, sid, folder, checkpoint="fork")
    command = f"claude --resume {sid} --fork-session"
    cp = result.checkpoint
    if args.json:
        _common.print_json({"session_id": sid, "checkpoint": cp.id, "created": cp.created, "command": command})
    else:
        print(f"fork point saved: checkpoint {cp.id} of session {sid}")
        print(f"start the parallel session with:\n  {command}")
    return 0

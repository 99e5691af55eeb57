"""Start the full-tier refresh of a session in a detached process, from a hot-tier hook.

Stdlib only. The per-turn Stop hook must not import pydantic, so it leaves folding the
journal, checkpointing and rendering the handoff to `python -m`-style child that it starts
and never waits for; a pending marker coalesces a burst of turns into one refresh.
"""

from __future__ import annotations

import os
from pathlib import Path

from session_state.core import paths
from session_state.core.fsutil import create_exclusive_or_stale

PENDING_STALE_S = 60.0


def spawn_refresh(project_dir: Path, session_id: str, transcript_path: str | None, python: str | None) -> bool:
    """Start a detached refresh unless one is already queued; never waits, never raises OSError."""
    if python is None:
        return False
    sdir = paths.session_dir(paths.state_root(project_dir), session_id)
    pending = sdir / paths.REFRESH_PENDING
    if not create_exclusive_or_stale(pending, PENDING_STALE_S):
        return False
    src = str(paths.source_root())
    code = f"import sys; sys.path.insert(0, {src!r}); from session_state.state.materialize import main; main()"
    argv = [python, "-I", "-X", "utf8", "-c", code, str(project_dir), session_id, transcript_path or ""]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        if hasattr(os, "posix_spawn"):
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ]
            os.posix_spawn(python, argv, env, file_actions=actions, setsid=True)
        else:
            import subprocess

            flags = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
            subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, creationflags=flags, close_fds=True)
    except (OSError, ValueError):  # ValueError: a NUL in an argument (hostile session id)
        try:
            os.unlink(pending)
        except OSError:
            pass
        return False
    return True

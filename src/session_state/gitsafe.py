"""Run git in a folder that may be a stranger's repository without letting the repository run anything.

Stdlib only. A repository's own configuration can name programs for git to run
(`core.fsmonitor`, hooks, pagers, external diff) and a committed bare repository inside a project
can be discovered as the repository; the command line settings below win over every config
file, the environment's GIT_* variables (which can point git elsewhere) are dropped, and a
timeout bounds the call.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SAFE_CONFIG = (
    "-c", "core.fsmonitor=false",
    "-c", "safe.bareRepository=explicit",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.pager=cat",
    "-c", "diff.external=",
    "-c", "core.untrackedCache=false",
)
TIMEOUT_S = 10.0


def run(cwd: Path, args: list[str], *, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[bytes] | None:
    """git with the safe settings in `cwd`; None when git is missing or did not finish in time."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    try:
        return subprocess.run(
            ["git", "--no-pager", *SAFE_CONFIG, *args],
            cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def tracked(project: Path, relative: str) -> list[str] | None:
    """Files under `relative` that the project's git tracks; [] outside a repository; None if unknown."""
    done = run(project, ["ls-files", "-z", "--cached", "--", relative])
    if done is None:
        return None
    if done.returncode != 0:
        return [] if b"not a git repository" in done.stderr else None
    return [name for name in done.stdout.decode("utf-8", "replace").split("\0") if name]

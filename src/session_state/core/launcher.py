"""The `session-state` command for the Bash tool and the user's shell.

Stdlib only: SessionStart calls this with or without the full environment, so the command
exists after the very first hook (a first session runs while the environment is built).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from session_state.core import fsutil, paths

def expose_cli() -> None:
    """Put the `session-state` command on the PATH of the Bash tool.

    Claude Code runs the lines a SessionStart hook appends to $CLAUDE_ENV_FILE before each
    Bash call. The folder put there is the plugin data folder's bin/, whose launcher names the
    data folder itself: tools do not get CLAUDE_PLUGIN_DATA (measured on 2.1.330), and without
    it the CLI would not find the environment the plugin provisioned.
    """
    launcher = stable_launcher(paths.plugin_bin())
    env_file = os.environ.get("CLAUDE_ENV_FILE")
    if not env_file or launcher is None:
        return
    line = f'export PATH={shlex.quote(str(launcher.parent))}:"$PATH"\n'
    try:
        with open(env_file, "a+", encoding="utf-8") as handle:
            handle.seek(0)
            if line not in handle.read():
                handle.write(line)
    except OSError:
        pass


def stable_launcher(bin_dir: Path) -> Path | None:
    """Keep <plugin data>/bin/session-state pointing at this version of the plugin.

    The plugin folder is a versioned cache copy that changes on every update; the Bash tool's
    PATH and the status line command in the user's settings need a path that does not.
    """
    data = paths.data_root()
    target = paths.launcher_path()
    body = (
        "#!/bin/sh\n# session-state: kept current by the plugin at each session start\n"
        f"CLAUDE_PLUGIN_DATA={shlex.quote(str(data))} exec sh {shlex.quote(str(bin_dir / paths.LAUNCHER))} \"$@\"\n"
    ).encode()
    try:
        if fsutil.read_bytes(target) != body:
            paths.ensure_dir(target.parent)
            fsutil.atomic_write(target, body)
            os.chmod(target, 0o700)
    except OSError:
        return None
    return target

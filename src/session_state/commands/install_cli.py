"""`session-state install-cli`: the `session-state` command in your own shell, not only in Claude Code.

Inside Claude Code the Bash tool finds the command because SessionStart puts the plugin data
folder's bin/ on its PATH; a terminal has no such help. This writes a two-line script into a
folder on the user's PATH (default ~/.local/bin) that runs the plugin's stable launcher, so
it keeps working across plugin updates. Run it once, from where the command already works:

    sh ~/.claude/plugins/data/session-state-<marketplace>/bin/session-state install-cli
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from session_state.commands import _common

MARK = "# session-state: installed by `session-state install-cli`"


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "install-cli",
        "put the `session-state` command on your own shell's PATH",
        "Write DIR/session-state (default ~/.local/bin), a small script that runs the plugin's launcher "
        "(which follows plugin updates). Says what to add to your shell profile when DIR is not on your PATH.",
        ["session-state install-cli", "session-state install-cli --dir ~/bin"],
    )
    p.add_argument("--dir", metavar="DIR", help="folder to put the command in (default: ~/.local/bin)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from session_state.core import fsutil, paths

    stable = paths.launcher_path()
    if not stable.is_file():
        raise _common.error(
            f"the plugin's launcher {stable} does not exist yet; start a Claude Code session with the plugin "
            "installed, then run this command again"
        )
    folder = Path(args.dir).expanduser() if args.dir else Path.home() / paths.USER_BIN
    target = folder / paths.LAUNCHER
    body = f'#!/bin/sh\n{MARK}\nexec sh {shlex.quote(str(stable))} "$@"\n'.encode()
    existing = fsutil.read_bytes(target)
    if existing is not None and MARK.encode() not in existing:
        raise _common.error(f"{target} exists and is not session-state's; remove it or choose another --dir")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write(target, body, durable=False)
        os.chmod(target, 0o755)
    except OSError as exc:
        raise _common.error(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"installed {target}")
    on_path = any(Path(d).expanduser().resolve() == folder.resolve() for d in os.environ.get("PATH", "").split(os.pathsep) if d)
    if not on_path:
        print(f"{folder} is not on your PATH; add it: echo 'export PATH=\"{folder}:$PATH\"' >> ~/.profile")
    return 0

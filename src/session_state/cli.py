"""`session-state` command line: one module per command under session_state.commands.

Each command module defines `register(subparsers)` which adds its parser and sets
`func(args) -> int`. Modules import their heavy dependencies inside `func`, so that
`session-state --help` and the statusline stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, NoReturn, TextIO

# Order is the order of `--help`.
COMMANDS = [
    "status",
    "budget",
    "statusline",
    "checkpoints",
    "handoff",
    "decide",
    "export",
    "prune",
    "scrub",
    "recover",
    "usage_log",
    "sessions",
    "fork",
    "config",
    "report",
    "doctor",
    "migrate",
    "install_statusline",
    "install_cli",
]


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors that name the (sub)command and where its help is.

    argparse's own error prints the usage block of the parser that noticed the problem, which
    for a flag a subcommand does not know is the top-level parser: two lines about the wrong
    command. Subparsers are made with this class too (argparse uses the parent's class).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's module is loaded (the status line runs
    on every redraw and should not pay for importing sixteen other commands)."""
    parser = Parser(
        prog="session-state",
        description="Session state, token budget, checkpoints and handoffs for Claude Code.",
    )
    from session_state import __version__

    parser.add_argument("--version", action="version", version=f"session-state {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [only] if only else COMMANDS:
        try:
            module = importlib.import_module(f"session_state.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"session_state.commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


class InertStream:
    """A terminal stream that escapes every control, bidi and invisible formatting character.

    The last gate for everything a command prints: task subjects, paths, ids and values read
    from state files reach the terminal, where a raw ESC or BEL acts and a right-to-left
    override reorders what the user reads. Newlines stay (the commands' own line structure;
    items that could hold one are made single lines where they are rendered). The escapes are
    JSON's own, so `--json` output stays valid JSON with the same meaning. `unescaped` is the
    stream below, for the progress line's own carriage returns.
    """

    def __init__(self, stream: TextIO) -> None:
        self.unescaped = stream

    def write(self, text: str) -> int:
        from session_state.core.inert import block

        return self.unescaped.write(block(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unescaped, name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = InertStream(sys.stdout), InertStream(sys.stderr)
    try:
        return _run(argv)
    finally:
        from session_state.core import fsutil

        for message in fsutil.QUARANTINED:  # one line each: what was set aside and where it is
            print(message, file=sys.stderr)
        fsutil.QUARANTINED.clear()
        sys.stdout, sys.stderr = saved


def _run(argv: list[str]) -> int:
    first = argv[0].replace("-", "_") if argv else ""
    parser = build_parser(first if first in COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    if extra:
        _deepest(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except CliError as exc:
        print(f"session-state: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or folder that cannot be used: one line, the details in the log
        from session_state.core import log

        where = log.write(f"{args.command}: {exc.__class__.__name__}: {exc}", exc)
        print(f"session-state: {exc.strerror or exc}: {exc.filename or ''} (details: {where})", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


def _deepest(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)command parser the arguments reached: the one whose help a user needs."""
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        chosen = getattr(args, sub.dest, None) if sub is not None else None
        if sub is None or chosen not in sub.choices:
            return parser
        parser = sub.choices[chosen]


if __name__ == "__main__":
    # `python -m session_state.cli` runs this file as __main__: use the package's module, so
    # that the CliError the commands raise is the one caught above.
    from session_state.cli import main as package_main

    sys.exit(package_main())

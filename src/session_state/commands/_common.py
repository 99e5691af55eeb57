"""What every user-facing command shares: which project and session it means, and how it prints.

Stdlib only at import (the command registry imports every command module for `--help`).
A command never guesses silently: `--session ID` wins, then Claude Code's own
`CLAUDE_CODE_SESSION_ID` (set inside a session, so slash commands mean *this* session), then
the project's newest session by transcript activity: what the user last worked in, never
the session some command last touched (commands write state files; transcripts only grow
when the user works). When the project has no state yet the error
says that the hooks write it, since that is what a first-time user needs to know.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from session_state.core import paths

SESSION_ENV = "CLAUDE_CODE_SESSION_ID"
# Files only the hooks write: a session's activity when its transcript cannot be read.
_HOOK_FILES = (paths.USAGE, paths.JOURNAL)


def parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str, description: str, examples: list[str]) -> argparse.ArgumentParser:
    """A command parser whose `--help` ends with runnable examples."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    return subparsers.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_project(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="DIR", help="project folder (default: $CLAUDE_PROJECT_DIR, else the current folder)")


def add_session(p: argparse.ArgumentParser) -> None:
    add_project(p)
    p.add_argument(
        "--session",
        metavar="ID",
        help=f"session id (default: ${SESSION_ENV}, else the project's newest session by transcript activity)",
    )


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def error(message: str) -> Exception:
    """A CliError (exit 2, one line) without importing the CLI at module import time."""
    from session_state.cli import CliError

    return CliError(message)


def project(args: argparse.Namespace) -> Path:
    given = getattr(args, "project", None)
    if given:
        path = Path(given).expanduser()
        if not path.is_dir():
            raise error(f"project folder {given} does not exist")
        return path.resolve()
    return paths.project_dir()


def root(project_dir: Path) -> Path:
    """The project's state root; an error when no session has written state there yet."""
    found = paths.state_root(project_dir, create=False)
    if found.is_symlink():  # never read state through a link (the hooks move it aside)
        raise error(f"the state folder {found} is a symlink to {os.readlink(found)!r}; refused. "
                    "The next hook moves it aside and starts a fresh one")
    if not paths.sessions_dir(found).is_dir() or not any(_session_dirs(found)):
        raise error(
            f"no session-state data in {found}; it is written by the plugin's hooks during a Claude Code session"
        )
    return found


def _session_dirs(root_dir: Path) -> list[Path]:
    try:
        entries = list(paths.sessions_dir(root_dir).iterdir())
    except OSError:
        return []
    return [p for p in entries if p.is_dir() and not p.is_symlink()]


def last_activity(session_dir: Path) -> float:
    """When the session was last worked in: its transcript's mtime, else the hooks' records'."""
    path = transcript_path(session_dir)
    if path:
        try:
            return os.stat(path).st_mtime
        except OSError:
            pass
    newest = 0.0
    for name in _HOOK_FILES:
        try:
            newest = max(newest, (session_dir / name).stat().st_mtime)
        except OSError:
            continue
    return newest


def session_dirs(root_dir: Path) -> list[Path]:
    """The project's session folders, newest transcript activity first."""
    return sorted(_session_dirs(root_dir), key=lambda p: (last_activity(p), p.name), reverse=True)


def session(args: argparse.Namespace, root_dir: Path) -> tuple[str, Path]:
    """(session id, its folder) for `--session`, the environment, or the latest session."""
    given = getattr(args, "session", None)
    source = "--session"
    if not given and os.environ.get(SESSION_ENV):
        given, source = os.environ[SESSION_ENV], f"${SESSION_ENV}"
    if given:
        folder = paths.session_dir(root_dir, given, create=False)
        if not folder.is_dir():
            known = ", ".join(p.name for p in session_dirs(root_dir)[:5])
            raise error(f"unknown session {given!r} (from {source}) in {root_dir}; known: {known}")
        return given, folder
    folder = session_dirs(root_dir)[0]
    return paths.session_id_of(folder), folder


def transcript_path(folder: Path) -> str | None:
    """The transcript the hooks follow for this session (from the cursor, else the state), only
    when it lies in Claude Code's projects folder: a stored path may have been planted."""
    from session_state.core import journal, paths

    cursor = journal.load_cursor(folder) or {}
    path = paths.trusted_transcript(cursor.get("path"))
    if path:
        return path
    try:
        data = json.loads((folder / paths.STATE).read_bytes())
    except (OSError, ValueError):
        return None
    return paths.trusted_transcript(data.get("transcript_path") if isinstance(data, dict) else None)


def materialize(project_dir: Path, session_id: str, folder: Path, **kwargs: Any) -> Any:
    """refresh.materialize with the session's own transcript; a busy lock becomes a clear error."""
    from session_state.state import materialize as refresh, store

    try:
        return refresh.materialize(project_dir, session_id, transcript_path=transcript_path(folder), **kwargs)
    except store.LockTimeout as exc:
        raise error(f"session {session_id} is busy ({exc}); try again in a moment") from exc


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def progress(label: str) -> Callable[[int, int], None] | None:
    """A progress callback drawing on the terminal, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    stream = getattr(sys.stderr, "unescaped", sys.stderr)  # its own \r redraws the line; the label is ours

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        pct = 100 if total <= 0 else min(100, done * 100 // total)
        stream.write(f"\r{label}: {pct:3d}% ({done:,}/{total:,}){end}")
        stream.flush()

    return show


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def validation_reason(exc: Exception) -> str:
    """The first problem of a pydantic ValidationError, naming the field."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
        got = json.dumps(first.get("input"), default=str)
        return f"field {where}: {first.get('msg')} (got {got[:60]})"
    return str(exc)


def config_line(problems: list[str]) -> str:
    """One line about a broken configuration, for commands whose subject is something else."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"Config: {problems[0]}{more}; see `session-state config show`"


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Plain aligned columns (no dependency for a dozen rows); no cell can break its row."""
    from session_state.core.inert import escape

    rows = [[escape(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def resolve(args: argparse.Namespace) -> tuple[Path, Path, str, Path]:
    """Project, state root, session id and session folder of a command's arguments."""
    project_dir = project(args)
    state_root = root(project_dir)
    session_id, folder = session(args, state_root)
    return project_dir, state_root, session_id, folder

"""`session-state statusline`: one short line for Claude Code's status bar.

Claude Code runs the statusline command after every message with a JSON object on stdin; it
must answer fast and must never fail (a failing command blanks the bar), so this path is stdlib
only and any surprise ends in a minimal line. Runnable as `python -m
session_state.commands.statusline` to skip loading the other commands.

Figures: the payload's `context_window` (`used_percentage`, `context_window_size`,
`current_usage`) when present — Claude Code measured them (budget.with_reported). Without
those, the transcript. Turns left and, without the payload's `cost`, the cost come from the
transcript too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the type only: the status line imports the settings module lazily
    from session_state.core.settings import Settings

BAR_CELLS = 10
FALLBACK_LINE = "ctx ?"


def register(subparsers: Any) -> None:
    from session_state.commands import _common

    parser = _common.parser(
        subparsers,
        "statusline",
        "one status line from Claude Code's statusline JSON on stdin",
        "Reads Claude Code's statusline JSON on stdin and prints one short line "
        "(`session-state install-statusline` sets Claude Code up to run it).",
        ["echo '{\"session_id\": \"demo\", \"cwd\": \".\"}' | session-state statusline"],
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace | None = None) -> int:
    try:
        raw = sys.stdin.buffer.read(1 << 20)
        line = render(json.loads(raw) if raw.strip() else {})
    except Exception:  # the bar must show something whatever arrives on stdin
        line = FALLBACK_LINE
    from session_state.core.inert import escape  # the model name and folder come from its input

    sys.stdout.write(escape(line) + "\n")
    sys.stdout.flush()
    return 0


def render(payload: Any) -> str:
    """The status line for one statusline payload.

    `ctx 43% ▰▰▰▰▱▱▱▱▱▱ ok · 81k ~6 turns to compact · $1.23 · ckpt 12m ago`: context figures from
    the payload's `context_window` when Claude Code gives them, else from the transcript; turns
    from this session's growth per turn (the transcript); cost from the payload's
    `cost.total_cost_usd` (Claude Code's own), else from the transcript (cost-state or prices).
    """
    if not isinstance(payload, dict):
        return FALLBACK_LINE
    from session_state.core import budget, paths

    project = _project(payload)
    conf = _settings(project)
    cursor = _cursor(payload, project)
    if cursor is not None:
        info = budget.compute(cursor, conf)
    else:
        info = {"percent": None, "level": "unknown", "tokens_to_autocompact": None}
    info = budget.with_reported(info, payload.get("context_window"), conf, "statusline JSON", (cursor or {}).get("turns"))
    parts = [_gauge(info)]
    if info.get("tokens_to_autocompact") is not None:
        turns = info.get("turns_to_autocompact")
        ahead = f" ~{turns} turn{'s' * (turns != 1)}" if isinstance(turns, int) else ""
        parts.append(f"{_short(info['tokens_to_autocompact'])}{ahead} to compact")
    cost = _cost(payload, cursor, conf)
    if cost is not None:
        parts.append(cost)
    session_id = payload.get("session_id")
    if isinstance(session_id, str) and session_id:
        age = _checkpoint_age(paths.state_root(project, create=False), session_id)
        if age is not None:
            parts.append(f"ckpt {age} ago")
    return " · ".join(parts)


def _cost(payload: dict[str, Any], cursor: dict[str, Any] | None, conf: Settings) -> str | None:
    """The session's cost: Claude Code's own figure from the payload, else the transcript's."""
    from session_state.core import budget, pricing

    block = payload.get("cost")
    usd = block.get("total_cost_usd") if isinstance(block, dict) else None
    if budget.is_number(usd) and usd >= 0:
        return pricing.money(float(usd))
    if cursor is None:
        return None
    found = pricing.session_cost(cursor, conf).get("cost_usd")
    return pricing.money(found) if found is not None else None


def _project(payload: dict[str, Any]) -> Any:
    from session_state.core import paths

    workspace = payload.get("workspace")
    cwd = None
    if isinstance(workspace, dict):
        cwd = workspace.get("project_dir") or workspace.get("current_dir")
    if not isinstance(cwd, str):
        cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    return paths.project_dir(cwd)


def _settings(project: Any) -> Settings:
    from session_state.core import settings

    try:
        return settings.load(project)
    except Exception:  # a broken config must not blank the bar; config.py reports it elsewhere
        return settings.defaults()


def _cursor(payload: dict[str, Any], project: Any) -> dict[str, Any] | None:
    """The transcript's figures, read on from the furthest cursor we have for it (None without one).

    The hooks' cursor.json is only read (advancing it would make them miss facts); the
    statusline keeps its own figures-only cursor beside it, so that without hooks, or between
    two Stops, a redraw reads only the bytes appended since the last one.
    """
    from session_state.core import fsutil, paths, transcript

    path = payload.get("transcript_path")
    if not isinstance(path, str) or not path:
        return None
    folder = None
    start: dict[str, Any] | None = None
    session_id = payload.get("session_id")
    if isinstance(session_id, str) and session_id:
        folder = paths.session_dir(paths.state_root(project, create=False), session_id, create=False)
        for name in (paths.CURSOR, paths.STATUSLINE_CURSOR):
            try:
                candidate = json.loads((folder / name).read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(candidate, dict) and candidate.get("path") == path:
                if start is None or _offset(candidate) > _offset(start):
                    start = candidate
    before = _offset(start) if start is not None else -1
    cursor, _ = transcript.update(start, path, facts=False)
    if folder is not None and folder.is_dir() and not cursor.get("error") and cursor["offset"] != before:
        try:
            fsutil.atomic_write(folder / paths.STATUSLINE_CURSOR, json.dumps(cursor, separators=(",", ":")).encode(), durable=False)
        except OSError:
            pass  # a cache: the next redraw reads a little more
    return None if cursor.get("error") and not cursor.get("offset") else cursor


def _offset(cursor: dict[str, Any]) -> int:
    value = cursor.get("offset")
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def _gauge(info: dict[str, Any]) -> str:
    percent = info.get("percent")
    if percent is None:
        return f"ctx ? {'▱' * BAR_CELLS} {info.get('level', 'unknown')}"
    filled = min(BAR_CELLS, max(0, round(percent * BAR_CELLS / 100)))
    bar = "▰" * filled + "▱" * (BAR_CELLS - filled)
    return f"ctx {int(percent + 0.5)}% {bar} {info['level']}"


def _checkpoint_age(root: Any, session_id: str) -> str | None:
    """Age of the newest checkpoint file of the session, as `45s` / `12m` / `3h` / `2d`."""
    from session_state.core import paths

    folder = os.path.join(root, paths.SESSIONS, paths.safe_id(session_id), paths.CHECKPOINTS)
    newest = None
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file():
                    mtime = entry.stat().st_mtime
                    newest = mtime if newest is None or mtime > newest else newest
    except OSError:
        return None
    if newest is None:
        return None
    seconds = max(0, int(time.time() - newest))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _short(tokens: int) -> str:
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.1f}M"
    if tokens >= 1000:
        return f"{tokens // 1000}k"
    return str(tokens)


def main() -> int:
    return run()


if __name__ == "__main__":
    sys.exit(main())

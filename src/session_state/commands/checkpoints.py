"""`session-state checkpoints`: a session's snapshots with when, why, how full and how big.

Each checkpoint is validated as it is listed, so a damaged one shows up here as `invalid`
before `recover` would need it. Archived (gzip) checkpoints are listed with `--all`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from session_state.core import paths
from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "checkpoints",
        "list a session's checkpoints (id, time, trigger, context %%, size)",
        "List checkpoints, newest first. Without --all: the session's live checkpoints; with --all: every "
        "session of the project, archived checkpoints included.",
        [
            "session-state checkpoints",
            "session-state checkpoints --all --json",
            "session-state checkpoints --session 258c7280-ae70-4798-800f-63464d01a85d",
        ],
    )
    _common.add_session(p)
    p.add_argument("--all", action="store_true", help="every session of the project, archives included")
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = _common.project(args)
    root = _common.root(project)
    if args.all:
        folders = [(paths.session_id_of(f), f) for f in _common.session_dirs(root)]
    else:
        folders = [_common.session(args, root)]
    files: list[tuple[str, Path, bool]] = []
    for sid, folder in folders:
        files += [(sid, path, archived) for path, archived in _files(folder, archived=args.all)]
    show = _common.progress("reading checkpoints") if len(files) > 200 else None
    rows = []
    for n, (sid, path, archived) in enumerate(files):
        rows.append(describe(sid, path, archived))
        if show:
            show(n + 1, len(files))
    rows.sort(key=lambda r: r["id"], reverse=True)
    if args.json:
        _common.print_json(rows)
        return 0
    if not rows:
        print(f"no checkpoints yet for session {folders[0][0]}" if not args.all else "no checkpoints in this project")
        return 0
    headers = ["id", "time", "trigger", "context", "size"] + (["session", "where"] if args.all else [])
    table = [
        [
            r["id"],
            r["created"] or "?",
            r["trigger"],
            "invalid" if not r["valid"] else (f"{r['percent']}%" if r["percent"] is not None else "-"),
            _common.human_bytes(r["bytes"]),
        ]
        + ([r["session_id"], "archive" if r["archived"] else "live"] if args.all else [])
        for r in rows
    ]
    print(_common.table(table, headers))
    return 0


def _files(folder: Path, *, archived: bool) -> list[tuple[Path, bool]]:
    from session_state.state import checkpoints

    out = [(paths.checkpoints_dir(folder) / name, False) for name in checkpoints.names(folder)]
    if archived:
        archive = paths.archive_dir(folder)
        out += [(archive / name, True) for name in checkpoints.archived_names(folder)]
    return out


def describe(session_id: str, path: Path, archived: bool) -> dict[str, Any]:
    """One checkpoint file as a row; an unreadable or invalid one says so instead of failing."""
    from session_state.state import checkpoints

    size = 0
    try:
        size = path.stat().st_size
        cp = checkpoints.read_file(path, archived=archived)
    except (OSError, ValueError, EOFError) as exc:  # ValidationError and JSONDecodeError are ValueErrors
        parsed = checkpoints.parse_name(path.name)
        return {
            "id": parsed.id,
            "session_id": session_id,
            "created": None,
            "trigger": parsed.trigger,
            "percent": None,
            "level": None,
            "bytes": size,
            "archived": archived,
            "valid": False,
            "problem": _common.validation_reason(exc),
            "path": str(path),
        }
    return {
        "id": cp.id,
        "session_id": cp.session_id,
        "created": cp.created,
        "trigger": cp.trigger,
        "percent": cp.budget.percent if cp.budget else None,
        "level": cp.budget.level if cp.budget else None,
        "bytes": size,
        "archived": archived,
        "valid": True,
        "problem": None,
        "path": str(path),
    }

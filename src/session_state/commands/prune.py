"""`session-state prune`: apply the retention rules now, with a dry run to see what would go.

Retention also runs on its own (after each checkpoint and at startup); this command is for a
user who wants the disk back now, or wants to see what the caps would remove first.
"""

from __future__ import annotations

import argparse
from typing import Any

from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "prune",
        "archive and delete old checkpoints per the retention settings",
        "Archive checkpoints beyond `checkpoints_keep` or older than `archive_after_days` (gzip), then delete "
        "the oldest archives and checkpoints while the project exceeds `project_cap_bytes`. Each session's "
        "newest checkpoint is always kept.",
        ["session-state prune --dry-run", "session-state prune --json"],
    )
    _common.add_project(p)
    p.add_argument("--dry-run", action="store_true", help="report what would be archived or deleted; change nothing")
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from session_state.state import checkpoints
    from session_state.core import settings

    project = _common.project(args)
    root = _common.root(project)
    report = checkpoints.prune(
        root, settings.load(project), dry_run=args.dry_run, progress=_common.progress("pruning sessions")
    )
    data = {
        "dry_run": args.dry_run,
        "archived": report.archived,
        "deleted": report.deleted,
        "bytes_before": report.bytes_before,
        "bytes_after": report.bytes_after,
    }
    if args.json:
        _common.print_json(data)
        return 0
    verb = ("would archive", "would delete") if args.dry_run else ("archived", "deleted")
    print(
        f"{verb[0]} {len(report.archived)} checkpoint(s), {verb[1]} {len(report.deleted)} file(s); "
        f"checkpoint bytes {_common.human_bytes(report.bytes_before)} → {_common.human_bytes(report.bytes_after)}"
        + (" (dry run: nothing changed)" if args.dry_run else "")
    )
    from session_state.core.inert import line

    for path in report.deleted:
        print(f"  {verb[1]}: {line(path)}")
    return 0

"""`session-state scrub`: re-redact what is already on disk with the current rules.

For a user who added a `redact_extra` pattern, updated the plugin (new detector rules) or
found a secret in a handoff: one command rewrites the project's whole state with today's rules.
"""

from __future__ import annotations

import argparse
from typing import Any

from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "scrub",
        "re-redact everything already saved for this project with the current rules",
        "Pass every journal, usage log, cursor, state file, notice, handoff (TOON and Markdown), checkpoint "
        "and gzip archive of the project's sessions, and the project-level TOON files, through the current "
        "redaction rules (built-in rules, the secret detector and your redact_extra patterns). Files are "
        "rewritten atomically under the session locks, only when something changed; symlinks are skipped.",
        ["session-state scrub --dry-run", "session-state scrub --json"],
    )
    _common.add_project(p)
    p.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from session_state.state import scrub
    from session_state.core import settings

    project = _common.project(args)
    root = _common.root(project)
    report = scrub.scrub(root, settings.load(project), dry_run=args.dry_run)
    if args.json:
        _common.print_json(
            {
                "dry_run": args.dry_run,
                "files_scanned": report.scanned,
                "files_changed": report.changed,
                "redactions_added": report.redactions,
                "skipped": report.skipped,
            }
        )
        return 0
    verb = "would rewrite" if args.dry_run else "rewrote"
    print(
        f"scrubbed {report.scanned} file(s): {verb} {len(report.changed)}, "
        f"{report.redactions} new redaction(s)" + (" (dry run: nothing changed)" if args.dry_run else "")
    )
    for path in report.changed:
        print(f"  {verb}: {path}")
    for path in report.skipped:
        print(f"  skipped (symlink or unreadable): {path}")
    return 0

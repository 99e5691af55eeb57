"""`session-state report`: one self-contained HTML page of a session's context over time.

Works on a session of the project (its transcript, checkpoints and handoff) or on any bare
transcript file (`--transcript`), so it can be tried on an old session or someone else's
corpus without the plugin ever having run there.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "report",
        "write an HTML page charting the session's context over time",
        "Write one self-contained HTML file (no scripts, no network): context % per response over time with the "
        "thresholds and the auto-compaction line, compactions, checkpoints and subagent runs marked, token totals "
        "by kind, and the current handoff.",
        [
            "session-state report",
            "session-state report --out /tmp/session.html",
            "session-state report --transcript tests/fixtures/transcripts/marot-spotter/258c7280-ae70-4798-800f-63464d01a85d.jsonl --out /tmp/r.html",
        ],
    )
    _common.add_session(p)
    p.add_argument("--transcript", metavar="FILE", help="chart this transcript (.jsonl) instead of a session of the project")
    p.add_argument("--out", metavar="FILE", help="where to write the page (default: report.html in the session folder, "
                   "or <transcript name>-report.html in the current folder)")
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from session_state.core import fsutil, paths, settings
    from session_state.report import collect
    from session_state.report.page import render

    project = _common.project(args)
    folder: Path | None = None
    sid: str | None = None
    if args.transcript:
        path = Path(args.transcript)
        if not path.is_file():
            raise _common.error(f"transcript {path} does not exist or is not a file")
        found = paths.session_dir(paths.state_root(project, create=False), path.stem, create=False)
        folder = found if found.is_dir() else None
        out = Path(args.out) if args.out else Path.cwd() / f"{path.stem}-report.html"
    else:
        root = _common.root(project)
        sid, folder = _common.session(args, root)  # read-only: the handoff shown is the one on disk
        transcript = _common.transcript_path(folder)
        if not transcript or not Path(transcript).is_file():
            raise _common.error(
                f"session {sid} has no readable transcript ({transcript or 'none recorded'}); use --transcript FILE"
            )
        path = Path(transcript)
        out = Path(args.out) if args.out else folder / paths.REPORT
    if out.parent and not out.parent.is_dir():
        raise _common.error(f"cannot write {out}: the folder {out.parent} does not exist")
    data = collect.gather(
        str(path),
        settings.load(project),
        session_id=sid,
        session_dir=folder,
        progress=_common.progress(f"reading {path.name} (bytes)"),
    )
    page = render(data)
    try:
        fsutil.atomic_write(out, page.encode("utf-8"), durable=False)
    except OSError as exc:
        raise _common.error(f"cannot write {out}: {exc.strerror or exc}") from None
    if args.json:
        _common.print_json(
            {
                "out": str(out.resolve()),
                "session_id": data.session_id,
                "transcript": data.transcript,
                "responses": len(data.points),
                "compactions": len(data.compactions),
                "subagent_runs": len(data.subagents),
                "checkpoints": len(data.checkpoints),
                "bytes": len(page.encode("utf-8")),
            }
        )
    else:
        print(out.resolve())
    return 0

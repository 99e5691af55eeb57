"""`session-state handoff show|create`: the package the next context receives.

`show` prints the handoff file as written (validated), in TOON, markdown, JSON, or exactly
the capped text a compaction would inject, so a user can see what the model will be told.
`create` brings state and handoff up to date now and prints where it is.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from session_state.core import paths
from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "handoff",
        "show or create the session's handoff package",
        "The handoff package: what the next context (after compaction, /clear, resume or a new session) needs "
        "to continue the work.",
        [
            "session-state handoff create",
            "session-state handoff show --format md",
            "session-state handoff show --format inject",
            "session-state handoff show --format size",
        ],
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="print the current handoff",
        description="Print the session's handoff as written by the hooks (validated first).",
        epilog="examples:\n  session-state handoff show\n  session-state handoff show --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common.add_session(show)
    show.add_argument(
        "--format",
        choices=("toon", "md", "json", "inject", "size"),
        default="toon",
        help="toon (as saved), md (for people), json, inject (the capped text a compaction injects), "
        "or size (TOON against JSON, in characters and estimated tokens)",
    )
    _common.add_json(show)
    show.set_defaults(func=run_show)
    create = actions.add_parser(
        "create",
        help="bring state and handoff up to date now; print the path",
        description="Fold the journal, read new transcript lines, write handoff.toon and handoff.md; print the path.",
        epilog="examples:\n  session-state handoff create\n  session-state handoff create --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common.add_session(create)
    _common.add_json(create)
    create.set_defaults(func=run_create)


def run_show(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from session_state.state import handoff
    from session_state.core import settings

    if args.json:
        if args.format not in ("toon", "json"):
            raise _common.error(f"--json and --format {args.format} ask for two different outputs; give one")
        args.format = "json"
    project, root, sid, folder = _common.resolve(args)
    path = folder / paths.HANDOFF
    try:
        pkg = handoff.read(folder)
    except ValidationError as exc:
        raise _common.error(f"{path} does not validate: {_common.validation_reason(exc)}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _common.error(f"{path} is not readable TOON ({str(exc)[:120]})") from exc
    if pkg is None:
        raise _common.error(f"no handoff yet for session {sid}; write one with `session-state handoff create`")
    if args.format == "toon":  # for a terminal: every string an inert line (the file keeps the exact data)
        import toons

        from session_state.core.inert import data as inert_data

        print(toons.dumps(inert_data(handoff.as_data(pkg))))
    elif args.format == "md":
        print(handoff.render_markdown(pkg, path), end="")
    elif args.format == "json":
        print(json.dumps(handoff.as_data(pkg), indent=2, ensure_ascii=False))
    elif args.format == "size":
        size = handoff.sizes(pkg, pkg.session_context.model)
        print(
            f"TOON {size['toon_chars']:,} characters, about {size['toon_tokens']:,} tokens; "
            f"as JSON {size['json_chars']:,} characters, about {size['json_tokens']:,} tokens: "
            f"TOON saves {size['saving_percent']}% (token figures are estimates, {size['method']})"
        )
    else:
        from session_state.state import inject

        cap = settings.load(project)["inject_cap_chars"]
        print(inject.render(pkg, path, cap, heading=inject.COMPACTED_HEADING))
    return 0


def run_create(args: argparse.Namespace) -> int:
    project, root, sid, folder = _common.resolve(args)
    result = _common.materialize(project, sid, folder)
    if args.json:
        _common.print_json(
            {
                "session_id": sid,
                "handoff": str(result.handoff_path),
                "markdown": str(result.handoff_path.with_name(paths.HANDOFF_MD)),
                "checkpoint": result.checkpoint.id if result.checkpoint else None,
            }
        )
    else:
        from session_state.core.inert import line

        print(line(str(result.handoff_path)))
    return 0

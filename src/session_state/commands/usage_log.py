"""`session-state usage-log`: the budget the hooks measured at each event, with the crossings.

usage.jsonl is appended by the per-turn hooks (one record per event); this shows it so a user
can see when the context grew and when a warning was (or was not) announced.
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
        "usage-log",
        "the session's budget at each hook event, threshold crossings marked",
        "Show the session's usage.jsonl: time, context tokens, percent, level, turns left before "
        "auto-compaction, session cost (USD) and event per record; "
        "a record where a threshold was first crossed is marked with the level(s) crossed.",
        ["session-state usage-log", "session-state usage-log --last 20", "session-state usage-log --json"],
    )
    _common.add_session(p)
    p.add_argument("--last", type=int, metavar="N", help="only the last N records")
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project, root, sid, folder = _common.resolve(args)
    records, bad = read(folder / paths.USAGE)
    if args.last is not None:
        if args.last < 1:
            raise _common.error("--last must be 1 or more")
        records = records[-args.last :]
    if args.json:
        _common.print_json(records)
        return 0
    if not records:
        print(f"no usage records yet for session {sid}")
        return 0
    rows = [
        [
            r["ts"],
            f"{r['context_tokens']:,}" if r.get("context_tokens") is not None else "-",
            f"{r['percent']}%" if r.get("percent") is not None else "-",
            r["level"],
            str(r["turns_left"]) if r.get("turns_left") is not None else "-",
            f"${r['cost_usd']:.2f}" if r.get("cost_usd") is not None else "-",
            r["event"],
            ("<< crossed " + ", ".join(r["crossed"])) if r.get("crossed") else "",
        ]
        for r in records
    ]
    print(_common.table(rows, ["time", "context", "percent", "level", "turns left", "cost", "event", "crossing"]))
    if bad:
        print(f"({bad} line(s) of usage.jsonl did not validate and were skipped)")
    return 0


def read(path: Any) -> tuple[list[dict[str, Any]], int]:
    """Validated records, oldest first, and how many lines were skipped as unusable."""
    from pydantic import ValidationError

    from session_state.state.models import UsageRecord

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    records, bad = [], 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            records.append(UsageRecord.model_validate(json.loads(line)).model_dump(mode="json", exclude_none=False))
        except (ValueError, ValidationError):
            bad += 1
    return records, bad

"""Calibration of `budget --breakdown` against Claude Code's own `/context`, category by category.

Run by hand: `.venv/bin/python benchmarks/calibrate_breakdown.py [TRANSCRIPT ...] [--json]`.
Without arguments it reads the transcript in tests/fixtures/transcripts/cli-2.1.330-context/,
made by the real Claude Code 2.1.330 CLI against the stand-in API (tests/e2e: a CLAUDE.md, a
custom agent, a project skill, a Bash call with a 14 KB result, then `/context`);
tests/e2e/test_e2e_breakdown.py makes a fresh one each run and checks the same bounds.

Each transcript must end with a `/context` run: its `local_command` line holds Claude Code's
figures (`contextUsage`). Our breakdown of the same file is compared per category; the error is
(ours − theirs) / theirs. Caveat, stated wherever these figures appear: the stand-in API counts
tokens as request bytes / 4 (its count_tokens, and with `usage_from_body` its usage), so this
measures how the two attribute the same total to categories, not Claude's real tokenizer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from session_state.core import budget, settings, transcript  # noqa: E402
from session_state.state import breakdown, redactor  # noqa: E402

DEFAULT = sorted((REPO / "tests" / "fixtures" / "transcripts" / "cli-2.1.330-context").glob("*.jsonl"))


def compare(path: Path) -> list[dict[str, Any]]:
    """Our breakdown of `path` beside the /context run recorded in it, one row per category."""
    cursor, _ = transcript.update(None, path, facts=False)
    found = breakdown.compute(str(path), budget.compute(cursor, dict(settings.DEFAULTS)), redactor.for_settings(settings.defaults()))
    rows = breakdown.against_context(found)
    if not rows:
        raise SystemExit(f"{path}: no /context output (local_command line with contextUsage) in this transcript")
    theirs = found["claude_code_context"]["total"]
    rows.append({"category": "total", "ours": found["total"], "context": theirs, "error_pct": 0.0 if found["total"] == theirs else None})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("transcripts", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = args.transcripts or DEFAULT
    results = {str(p): compare(p) for p in paths}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for path, rows in results.items():
        print(f"{path}\n| category | ours | /context | error |\n|---|---|---|---|")
        for row in rows:
            err = "n/a" if row["error_pct"] is None else f"{row['error_pct']:+.1f}%"
            print(f"| {row['category']} | {row['ours']:,} | {row['context']:,} | {err} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

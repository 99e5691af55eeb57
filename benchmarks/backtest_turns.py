"""Back-test of "turns left before auto-compaction" on every real auto-compaction in the corpus.

Run by hand: `.venv/bin/python benchmarks/backtest_turns.py [--json]` (reads ../shared beside the
repository, or the folders given with --corpus). For every main transcript with an automatic
compaction, the file is replayed through the real reader (transcript.update on a growing copy,
exactly as the Stop hook reads it) and, just before each typed prompt of the epoch that ended in
that compaction, `budget.compute` gives its forecast. The truth is the number of turns that
completed before the compaction fired: the prompts from this one to the compaction, minus the
turn in which it fired.

Two rooms are scored: the product's (auto-compaction near window − 33,000, what a user sees) and
an oracle room (the compaction's real `preTokens`), which isolates the growth forecast from the
threshold guess (users move it with CLAUDE_AUTOCOMPACT_PCT_OVERRIDE).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from session_state.core import budget, forecast, settings, transcript  # noqa: E402

SHARED = REPO.parent / "shared" / "fixtures"
DEFAULT_CORPORA = (SHARED / "transcripts" / "projects", SHARED / "transcripts-more" / "projects")


def main_files(folders: list[Path]) -> list[Path]:
    """Main transcripts: not in a subagents/ or agents/ folder, not a 2.0.x agent-*.jsonl."""
    return sorted(
        p
        for folder in folders
        for p in folder.rglob("*.jsonl")
        if "subagents" not in p.parts and not p.name.startswith("agent-") and "agents" not in p.parent.name
    )


def events(path: Path) -> list[tuple[int, str, int | None]]:
    """(byte offset, 'prompt' | 'auto' | 'other compaction', preTokens) in file order."""
    out: list[tuple[int, str, int | None]] = []
    offset = 0
    with open(path, "rb") as handle:
        for raw in handle:
            start = offset
            offset += len(raw)
            if b'"user"' not in raw and b"compact_boundary" not in raw:
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            if obj.get("type") == "user" and transcript.starts_turn(obj):
                out.append((start, "prompt", None))
            elif obj.get("subtype") == "compact_boundary" and obj.get("isSidechain") is not True:
                meta = obj.get("compactMetadata") or {}
                kind = "auto" if meta.get("trigger") == "auto" else "other compaction"
                out.append((start, kind, meta.get("preTokens")))
    return out


def backtest(path: Path, conf: dict[str, Any], scratch: Path) -> list[dict[str, Any]]:
    """One row per forecast made before a real auto-compaction of this file."""
    marks = events(path)
    if not any(kind == "auto" for _, kind, _ in marks):
        return []
    data = path.read_bytes()
    copy = scratch / path.name
    copy.write_bytes(b"")
    rows: list[dict[str, Any]] = []
    cursor: dict[str, Any] | None = None
    written = 0
    epoch: list[dict[str, Any]] = []  # what was known just before each prompt since the last compaction
    for offset, kind, pre in marks:
        if kind == "prompt":
            with open(copy, "ab") as handle:
                handle.write(data[written:offset])
            written = offset
            cursor, _ = transcript.update(cursor, copy, facts=False)
            now = budget.compute(cursor, conf)
            epoch.append(
                {
                    "forecast": now.get("turns_forecast"),
                    "context": now.get("context_tokens"),
                    "growths": forecast.growths(cursor.get("turns"), now.get("context_tokens")),
                    "autocompact_at": now["autocompact_at"],
                }
            )
            continue
        if kind == "auto":
            for index, known in enumerate(epoch):
                actual = len(epoch) - index - 1
                if known["forecast"] is None:
                    continue
                row = {"file": path.name, "compaction": offset, "actual": actual, "product": known["forecast"]}
                # Did it fire where the product expects (within 10k tokens)? Elsewhere the user moved it.
                row["default_threshold"] = isinstance(pre, int) and abs(pre - known["autocompact_at"]) <= 10_000
                if isinstance(pre, int) and isinstance(known["context"], int):
                    row["oracle"] = forecast.turns_left(known["growths"], max(pre - known["context"], 0))
                rows.append(row)
        epoch = []
    copy.unlink()
    return rows


def score(pairs: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    errors = [abs(f["turns"] - actual) for actual, f in pairs]
    inside = sum(1 for actual, f in pairs if f["low"] <= actual <= f["high"])
    return {
        "forecasts": len(pairs),
        "median_abs_error_turns": statistics.median(errors) if errors else None,
        "mean_abs_error_turns": round(statistics.fmean(errors), 2) if errors else None,
        "coverage_pct": round(inside * 100 / len(pairs), 1) if pairs else None,
        "median_range_width": statistics.median(f["high"] - f["low"] for _, f in pairs) if pairs else None,
        "within_10_turns": _near(pairs, errors, 10),
        "within_5_turns": _near(pairs, errors, 5),
    }


def _near(pairs: list[tuple[int, dict[str, Any]]], errors: list[int], turns: int) -> dict[str, Any]:
    """The same figures for forecasts made when the compaction was at most `turns` turns away."""
    near = [(actual, f, e) for (actual, f), e in zip(pairs, errors) if actual <= turns]
    if not near:
        return {"forecasts": 0}
    return {
        "forecasts": len(near),
        "median_abs_error_turns": statistics.median(e for _, _, e in near),
        "coverage_pct": round(sum(1 for a, f, _ in near if f["low"] <= a <= f["high"]) * 100 / len(near), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, action="append", help="folder(s) of transcripts (default: ../shared)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folders = args.corpus or [f for f in DEFAULT_CORPORA if f.is_dir()]
    if not folders:
        print(f"no corpus found (looked for {', '.join(map(str, DEFAULT_CORPORA))})", file=sys.stderr)
        return 2
    conf = dict(settings.DEFAULTS)
    rows: list[dict[str, Any]] = []
    compactions = 0
    with tempfile.TemporaryDirectory() as scratch:
        for path in main_files(folders):
            found = backtest(path, conf, Path(scratch))
            compactions += len({r["compaction"] for r in found})
            rows += found
    autos = sum(1 for p in main_files(folders) for _, kind, _ in events(p) if kind == "auto")
    product = score([(r["actual"], r["product"]) for r in rows])
    oracle = score([(r["actual"], r["oracle"]) for r in rows if r.get("oracle")])
    default = score([(r["actual"], r["product"]) for r in rows if r["default_threshold"]])
    moved = {(r["file"], r["compaction"]) for r in rows if not r["default_threshold"]}
    result = {
        "auto_compactions": autos,
        "with_forecasts": compactions,
        "files": len({r["file"] for r in rows}),
        "product_room": product,
        "product_room_default_threshold": default,
        "compactions_at_a_moved_threshold": len(moved),
        "oracle_room": oracle,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{autos} automatic compactions; {compactions} (in {result['files']} files) had forecasts before them")
        print(f"{len(moved)} of them fired far from window − 33k (a threshold the user moved)")
        for name, figures in (
            ("room as the product computes it, all", product),
            ("room as the product computes it, compactions at the default threshold", default),
            ("oracle room (real preTokens), all", oracle),
        ):
            print(f"{name}: {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""benchmarks/handoff_recall.py runs as the README says and scores what it claims to score."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hookrun import COMPACT_TRANSCRIPT, FIXTURES, REPO

pytestmark = pytest.mark.slow  # each runs the benchmark script over the fixture transcripts


def test_the_benchmark_prints_the_table_for_a_real_compaction() -> None:
    """marot-spotter/258c7280 (tests/fixtures) holds one real compaction: the table has the
    summary, handoff and summary + handoff rows, and the handoff carries every file needed."""
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "handoff_recall.py"), str(FIXTURES / "transcripts")],
                         capture_output=True, text=True, timeout=600, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    mains = [p for p in (FIXTURES / "transcripts").rglob("*.jsonl") if "subagents" not in p.parts]
    assert f"cuts (1 at real compactions) in {len(mains)} main transcripts" in out.stdout, out.stdout
    rows = {line.split("|")[2].strip(): line for line in out.stdout.splitlines() if line.startswith("| real compactions")}
    assert set(rows) == {"Claude Code's summary", "handoff", "summary + handoff"}, out.stdout
    files = [cell.strip() for cell in rows["handoff"].split("|")][6]  # | cuts | text | goal | latest | tasks | files
    hits, total = files.split("(")[1].rstrip(")").split("/")
    assert int(total) > 0 and hits == total, rows["handoff"]


def test_show_prints_the_summary_then_the_handoff() -> None:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "handoff_recall.py"), str(FIXTURES / "transcripts"),
                          "--show", COMPACT_TRANSCRIPT.stem], capture_output=True, text=True, timeout=600, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    summary, _, handoff = out.stdout.partition("## session-state handoff")
    assert summary.startswith("## Claude Code's summary") and "continued from a previous conversation" in summary
    assert handoff.strip().startswith("session-state handoff: the conversation was just compacted")

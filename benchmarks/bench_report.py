"""Wall and CPU time of `session-state report --transcript FILE` on a large transcript.

Run by hand: `.venv/bin/python benchmarks/bench_report.py [--runs N] [--transcript FILE | --size-mb N]`.
Without `--transcript` it charts the largest transcript of the shared corpus (../shared, with
its subagent files) when present; `--size-mb` charts a synthetic one built from real turns
(synth.py) instead. The whole command is timed, interpreter start and imports included, with the
file in the page cache as a live session's would be. No target: the report is on demand; the
figure shows what reading the transcript once (issue 12) saves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402

REPO = synth.REPO
COMMAND = REPO / ".venv" / "bin" / "session-state"
CORPUS = REPO.parent / "shared" / "fixtures"


def largest_corpus_transcript() -> Path:
    found = [p for p in CORPUS.glob("transcripts*/projects/*/*.jsonl") if p.is_file()]
    if not found:
        raise SystemExit(f"no transcript under {CORPUS}: pass --transcript FILE or --size-mb N")
    return max(found, key=lambda p: p.stat().st_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--transcript", type=Path, help="the transcript to chart (default: the corpus's largest)")
    parser.add_argument("--size-mb", type=int, help="chart a synthetic transcript of this size instead")
    args = parser.parse_args()
    if args.size_mb:
        source = synth.build(synth.cache_dir() / f"{args.size_mb}m" / f"{synth.SESSION_ID}.jsonl", args.size_mb << 20)
    else:
        source = args.transcript or largest_corpus_transcript()
    command = [str(COMMAND)] if COMMAND.exists() else [sys.executable, "-m", "session_state.cli"]
    times: list[float] = []
    cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ss-report-") as tmp:
        env = synth.cli_env(Path(tmp))
        for run in range(args.runs):
            with open(source, "rb") as handle:  # same page-cache state for every run
                while handle.read(16 << 20):
                    pass
            start = time.perf_counter()
            child = subprocess.Popen(
                [*command, "report", "--transcript", str(source), "--out", str(Path(tmp) / f"r{run}.html")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                cwd=tmp,
            )
            assert child.stderr is not None
            stderr = child.stderr.read()
            _, status, usage = os.wait4(child.pid, 0)
            times.append(time.perf_counter() - start)
            child.stderr.close()
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(stderr.decode(errors="replace"))
            cpu.append(usage.ru_utime + usage.ru_stime)
    size = source.stat().st_size
    print(f"transcript: {source} ({size / 1e6:.1f} MB), {args.runs} runs")
    print(f"wall time: median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    print(f"CPU time: median {statistics.median(cpu) * 1000:.0f} ms, min {min(cpu) * 1000:.0f} ms; "
          f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

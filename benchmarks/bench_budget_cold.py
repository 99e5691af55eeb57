"""MB/s of `session-state budget --json` on a 100 MB transcript it has never read before.

Run by hand: `.venv/bin/python benchmarks/bench_budget_cold.py [--runs N] [--size-mb 100]`.
Every run copies the transcript to a new path (a new inode, no stored cursor), so nothing of an
earlier read can be reused; the copy is in the page cache, as a live session's file would be.
The whole command is timed, interpreter start and imports included. Target: >= 200 MB/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size-mb", type=int, default=100)
    args = parser.parse_args()
    size = args.size_mb << 20
    source = synth.build(synth.cache_dir() / f"{args.size_mb}m" / f"{synth.SESSION_ID}.jsonl", size)
    command = [str(COMMAND)] if COMMAND.exists() else [sys.executable, "-m", "session_state.cli"]
    rates: list[float] = []
    times: list[float] = []
    cpu: list[float] = []  # CPU seconds of the command: what it costs when it has a core to itself
    with tempfile.TemporaryDirectory(prefix="ss-cold-") as tmp:
        env = synth.cli_env(Path(tmp))
        for run in range(args.runs):
            target = Path(tmp) / f"run{run}" / f"{synth.SESSION_ID}.jsonl"
            target.parent.mkdir()
            shutil.copyfile(source, target)
            with open(target, "rb") as handle:  # same page-cache state for every run
                while handle.read(16 << 20):
                    pass
            start = time.perf_counter()
            child = subprocess.Popen(
                [*command, "budget", "--json", str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
            )
            assert child.stderr is not None
            stderr = child.stderr.read()
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - start
            child.stderr.close()
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(stderr.decode(errors="replace"))
            bytes_read = target.stat().st_size
            times.append(elapsed)
            rates.append(bytes_read / elapsed / 1e6)
            cpu.append(usage.ru_utime + usage.ru_stime)
            os.unlink(target)
    print(f"transcript: {bytes_read / 1e6:.1f} MB ({bytes_read / (1 << 20):.1f} MiB), {args.runs} cold runs")
    print(f"wall time: median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    print(f"throughput: median {statistics.median(rates):.0f} MB/s, best {max(rates):.0f} MB/s (target >= 200 MB/s)")
    print(
        f"CPU time: median {statistics.median(cpu) * 1000:.0f} ms = {bytes_read / statistics.median(cpu) / 1e6:.0f} MB/s "
        f"per CPU second; load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()

"""Where the Stop hook's time goes, after one real turn is appended (run by hand).

`.venv/bin/python benchmarks/bench_stop_breakdown.py [--size 10m] [--runs 9]`. Each run is a fresh
interpreter (as for a real hook) that imports the runner, then runs `_runner.run("Stop", payload)`
with the main steps wrapped in timers: transcript.update (of which redaction), budget.compute,
budget.record, the journal append, the cursor save and the refresh spawn. Medians are printed next
to a bare `python -c pass`, so the part each module owes to the 4x-bare-Python target is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_stop_hook as bench  # noqa: E402

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from session_state.hooks import runner as _runner, stop
from session_state.core import turn  # what the hook imports before any work
from session_state.core import background, budget, journal, redact, transcript
t1 = time.perf_counter()
spent = {}
def timer(owner, name, label):
    inner = getattr(owner, name)
    def wrapped(*a, **k):
        start = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - start
    setattr(owner, name, wrapped)
timer(transcript, "update", "transcript.update")
timer(redact, "redact_text", "  of which redact_text")
timer(budget, "compute", "budget.compute")
timer(budget, "record", "budget.record")
timer(journal, "append", "journal.append")
timer(journal, "save_cursor", "journal.save_cursor")
timer(turn, "spawn_refresh", "spawn refresh") if hasattr(turn, "spawn_refresh") else timer(background, "spawn_refresh", "spawn refresh")
raw = sys.stdin.buffer.read()
t2 = time.perf_counter()
_runner.run("Stop", raw)
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "run": t3 - t2, **spent}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="10m", choices=sorted(bench.SIZES))
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    bare, _ = bench.bare_python(15)
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="ss-breakdown-") as tmp:
        session = bench.Session(Path(tmp), args.size)
        session.stop()
        session.wait_for_refresh()
        for _ in range(args.runs):
            session.append_turn()
            done = subprocess.run(
                [bench.PYTHON, "-I", "-X", "utf8", "-c", CHILD, str(bench.REPO / "src")],
                input=session.stop_payload(),
                capture_output=True,
                env=session.env(),
                cwd=str(session.project),
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr.decode(errors="replace"))
            rows.append(json.loads(done.stdout.decode().strip().splitlines()[-1]))
            session.wait_for_refresh()
    print(f"bare `python -c pass`: {bare * 1000:.1f} ms; transcript {args.size}, one real turn appended per run")
    for key in rows[0]:
        values = [row.get(key, 0.0) for row in rows]
        print(f"{key:28s} median {statistics.median(values) * 1000:7.2f} ms")
    print(f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

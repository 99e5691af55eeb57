"""The Stop hook end to end, as Claude Code runs it, on transcripts of 100 KB, 10 MB and 100 MB.

Run by hand: `.venv/bin/python benchmarks/bench_stop_hook.py [--runs N] [--sizes 100k,10m,100m]
[--no-ccusage]`. For each size: prime the cursor with one Stop, then N times append one real turn
(fresh ids) and time `sh bin/ss-hook Stop` with the captured Stop payload on stdin and the
environment Claude Code gives a hook. Reports median / p90 latency, the ratio to a bare
`python -c pass` of the same interpreter, and the child's peak memory (ru_maxrss). Then times
`ccusage statusline` (npm ccusage@20.0.24) and our own statusline on the same files.

Targets (docs/ARCHITECTURE.md): median flat as the transcript grows (100 MB within 1.2× of
100 KB), under 4× bare Python, peak memory under 60 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402

REPO = synth.REPO
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
SIZES = {"100k": 100 << 10, "10m": 10 << 20, "100m": 100 << 20}
CCUSAGE_VERSION = "20.0.24"
CPU_SECONDS: list[float] = []  # of every child timed, in order


GNU_TIME = "/usr/bin/time"


def timed(argv: list[str], stdin: bytes, env: dict[str, str], cwd: str | None = None) -> tuple[float, int, int, bytes]:
    """(seconds, peak RSS in KB, exit status, stderr) of one child process.

    Peak memory: a child started from this (large) Python process inherits its RSS high-water
    mark across exec, so ru_maxrss would report ours. With GNU time the command is forked from
    a 2 MB process instead and `%M` is the command's own peak; without it ru_maxrss is an upper
    bound. The child's CPU seconds (user + system), which barely move when other work shares
    the machine, go to CPU_SECONDS.
    """
    peak_file = None
    if os.path.exists(GNU_TIME):
        handle, peak_file = tempfile.mkstemp(prefix="ss-bench-rss-")
        os.close(handle)
        argv = [GNU_TIME, "-f", "%M", "-o", peak_file, *argv]
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    assert child.stdin is not None and child.stderr is not None
    child.stdin.write(stdin)
    child.stdin.close()
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    CPU_SECONDS.append(usage.ru_utime + usage.ru_stime)
    peak = usage.ru_maxrss
    if peak_file is not None:
        try:
            peak = int(Path(peak_file).read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
        os.unlink(peak_file)
    return elapsed, peak, child.returncode, stderr


def bare_python(runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `python -c pass`."""
    del CPU_SECONDS[:]
    times = [timed([PYTHON, "-c", "pass"], b"", dict(os.environ))[0] for _ in range(runs)]
    return statistics.median(times), statistics.median(CPU_SECONDS)


class Session:
    """A sandboxed project, plugin data folder and transcript, hooked up like Claude Code does."""

    def __init__(self, base: Path, size_name: str) -> None:
        self.base = base
        self.home = base / "home"
        self.project = base / "project"
        self.data = base / "plugin-data"
        self.config = base / "claude"
        self.transcript = self.config / "projects" / "-project" / f"{synth.SESSION_ID}.jsonl"
        for folder in (self.home, self.project, self.data / "envs", self.transcript.parent):
            folder.mkdir(parents=True, exist_ok=True)
        # The launcher's fast path: the interpreter of an environment that has the packages.
        (self.data / "envs" / "probed-python").write_text(PYTHON + "\n")
        source = synth.build(synth.cache_dir() / size_name / f"{synth.SESSION_ID}.jsonl", SIZES[size_name])
        shutil.copyfile(source, self.transcript)
        self.turns = 0
        self.reply = ""  # no reply to wait for in the priming Stop

    def env(self) -> dict[str, str]:
        keep = {k: os.environ[k] for k in ("PATH", "LANG", "TMPDIR") if k in os.environ}
        return {
            **keep,
            "HOME": str(self.home),
            "CLAUDE_PROJECT_DIR": str(self.project),
            "CLAUDE_PLUGIN_ROOT": str(REPO),
            "CLAUDE_PLUGIN_DATA": str(self.data),
            "CLAUDE_CODE_SESSION_ID": synth.SESSION_ID,
            "CLAUDE_CONFIG_DIR": str(self.config),
            "CLAUDECODE": "1",
            "CLAUDE_CODE_ENTRYPOINT": "cli",
        }

    def stop_payload(self) -> bytes:
        captured = json.loads((REPO / "tests" / "fixtures" / "hook-payloads" / "Stop.json").read_text())["stdin"]
        captured.update(session_id=synth.SESSION_ID, transcript_path=str(self.transcript), cwd=str(self.project),
                        last_assistant_message=self.reply)  # the reply just appended, as Claude Code sends it
        return json.dumps(captured).encode()

    def statusline_payload(self) -> bytes:
        return json.dumps(
            {
                "hook_event_name": "Status",
                "session_id": synth.SESSION_ID,
                "transcript_path": str(self.transcript),
                "cwd": str(self.project),
                "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
                "workspace": {"current_dir": str(self.project), "project_dir": str(self.project)},
                "version": "2.1.39",
                "cost": {"total_cost_usd": 0.0, "total_duration_ms": 0},
            }
        ).encode()

    def append_turn(self) -> None:
        self.turns += 1
        turn = synth.one_turn(f"bench-turn-{self.turns}-{time.time_ns()}")
        self.reply = synth.last_reply(turn)
        with open(self.transcript, "ab") as handle:
            handle.write(turn)

    def stop(self) -> tuple[float, int]:
        elapsed, rss, status, stderr = timed(["sh", str(REPO / "bin" / "ss-hook"), "Stop"], self.stop_payload(), self.env(), cwd=str(self.project))
        if status != 0 or stderr.strip():
            raise SystemExit(f"Stop hook failed (exit {status}): {stderr.decode(errors='replace')[:500]}")
        return elapsed, rss

    def wait_for_refresh(self, limit: float = 300.0) -> None:
        """The detached refresh must not share the CPU with the next measured hook (Linux /proc)."""
        deadline = time.time() + limit
        while time.time() < deadline and self._refreshing():
            time.sleep(0.05)
        time.sleep(0.1)

    def _refreshing(self) -> bool:
        mine = str(self.project).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read()
            except OSError:
                continue
            if b"session_state.state.materialize" in cmdline and mine in cmdline:
                return True
        return False


def ccusage_bin(cache: Path) -> Path | None:
    prefix = cache / f"ccusage-{CCUSAGE_VERSION}"
    binary = prefix / "node_modules" / ".bin" / "ccusage"
    if not binary.exists():
        done = subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), f"ccusage@{CCUSAGE_VERSION}"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not binary.exists():
            print(f"ccusage not available: {done.stderr.strip()[:300]}")
            return None
    return binary


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return statistics.median(ordered), p90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", default="100k,10m,100m")
    parser.add_argument("--no-ccusage", action="store_true")
    args = parser.parse_args()
    if not (REPO / "bin" / "ss-hook").exists():
        raise SystemExit("bin/ss-hook is not there yet")
    bare, bare_cpu = bare_python(25)
    print(f"interpreter {PYTHON}\nbare `python -c pass`: median {bare * 1000:.1f} ms wall, {bare_cpu * 1000:.1f} ms CPU\n")
    ccusage = None if args.no_ccusage else ccusage_bin(synth.cache_dir())
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ss-bench-") as tmp:
        names = args.sizes.split(",")
        sessions = {name: Session(Path(tmp) / name, name) for name in names}
        primes = {}
        for name, session in sessions.items():
            primes[name] = session.stop()
            session.wait_for_refresh()
        times: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, list[int]] = {name: [] for name in names}
        for round_no in range(args.runs + 2):  # sizes interleaved, so load from elsewhere hits all alike
            for name, session in sessions.items():
                session.append_turn()
                elapsed, rss = session.stop()
                session.wait_for_refresh()
                if round_no >= 2:  # the first rounds warm the page cache and the OS
                    times[name].append(elapsed)
                    cpu[name].append(CPU_SECONDS[-1])
                    peaks[name].append(rss)
        for name, session in sessions.items():
            median, p90 = summary(times[name])
            row = {
                "size": name,
                "bytes": session.transcript.stat().st_size,
                "prime_ms": primes[name][0] * 1000,
                "prime_rss_mb": primes[name][1] / 1024,
                "median_ms": median * 1000,
                "p90_ms": p90 * 1000,
                "x_bare": median / bare,
                "cpu_ms": statistics.median(cpu[name]) * 1000,
                "cpu_x_bare": statistics.median(cpu[name]) / bare_cpu,
                "peak_rss_mb": max(peaks[name]) / 1024,
            }
            ours = [
                timed([PYTHON, "-m", "session_state.commands.statusline"], session.statusline_payload(), session.env())[0]
                for _ in range(max(5, args.runs // 2))
            ]
            row["our_statusline_ms"] = statistics.median(ours) * 1000
            if ccusage is not None:
                runs = 3 if name == "100m" else 7
                cc = []
                for _ in range(runs):
                    elapsed, _, status, stderr = timed(
                        [str(ccusage), "statusline", "--offline", "--no-cache"], session.statusline_payload(), session.env()
                    )
                    if status != 0:
                        print(f"ccusage statusline failed: {stderr.decode(errors='replace')[:300]}")
                        break
                    cc.append(elapsed)
                if cc:
                    row["ccusage_statusline_ms"] = statistics.median(cc) * 1000
                    row["ccusage_vs_stop"] = row["ccusage_statusline_ms"] / row["median_ms"]
            rows.append(row)
            print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}))
    small, large = rows[0], rows[-1]
    print()
    print(f"flatness: {large['size']} median / {small['size']} median = {large['median_ms'] / small['median_ms']:.2f} (target <= 1.2)")
    print(f"vs bare python: worst {max(r['x_bare'] for r in rows):.2f}x wall, {max(r['cpu_x_bare'] for r in rows):.2f}x CPU (target < 4)")
    print(f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"peak memory: worst {max(r['peak_rss_mb'] for r in rows):.1f} MB (target < 60)")


if __name__ == "__main__":
    main()

"""Exactly-once primitives and the full tier's file lock, with real processes.

- fsutil.create_exclusive: 32 processes race for one marker, 50 rounds: exactly one wins.
- fsutil.claim: 32 processes race to rename one pending file, 50 rounds: exactly one wins,
  the file arrives whole at the winner's name and nowhere else.
- filelock.FileLock(path, timeout=2): a holder SIGKILLed mid-hold releases at once (measured);
  a live holder makes the next acquire raise filelock.Timeout after about the timeout
  (measured), which is below the shortest hook timeout (5 s); store.locked likewise.
- Read-modify-write under the lock from several processes loses no update.

Env: SESSION_STATE_RACE_PROCS (default 32), SESSION_STATE_RACE_ROUNDS (default 50),
SESSION_STATE_KILL_TRIALS (default 10).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import filelock
import pytest

from session_state.core import fsutil, paths
from session_state.state import store

pytestmark = pytest.mark.stress

PROCS = int(os.environ.get("SESSION_STATE_RACE_PROCS", "32"))
ROUNDS = int(os.environ.get("SESSION_STATE_RACE_ROUNDS", "50"))
KILL_TRIALS = int(os.environ.get("SESSION_STATE_KILL_TRIALS", "10"))
HOOK_TIMEOUT_S = 5.0
SRC = Path(__file__).resolve().parents[1] / "src"
CTX = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def _racer(kind: str, folder: str, worker: int, rounds: int, barrier, results) -> None:
    for r in range(rounds):
        barrier.wait()  # all processes released together for each round
        if kind == "marker":
            won = fsutil.create_exclusive(Path(folder) / f"marker-{r}", b"%d" % worker)
        else:
            won = fsutil.claim(Path(folder) / f"pending-{r}.toon", Path(folder) / f"claimed-{r}-by-{worker}.toon")
        results.put((r, worker, won))


def _race(kind: str, folder: Path) -> dict[int, list[int]]:
    barrier = CTX.Barrier(PROCS)
    results = CTX.Queue()
    procs = [CTX.Process(target=_racer, args=(kind, str(folder), w, ROUNDS, barrier, results)) for w in range(PROCS)]
    for p in procs:
        p.start()
    winners: dict[int, list[int]] = {r: [] for r in range(ROUNDS)}
    for _ in range(PROCS * ROUNDS):
        r, worker, won = results.get(timeout=60)
        if won:
            winners[r].append(worker)
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    return winners


def test_create_exclusive_race_has_exactly_one_winner(tmp_path: Path) -> None:
    winners = _race("marker", tmp_path)
    bad = {r: w for r, w in winners.items() if len(w) != 1}
    assert not bad, f"rounds without exactly one winner: {bad}"
    for r, (w,) in winners.items():
        assert (tmp_path / f"marker-{r}").read_bytes() == b"%d" % w  # the winner's content
    print(f"\ncreate_exclusive: {PROCS} processes x {ROUNDS} rounds, exactly one winner every round")


def test_claim_race_has_exactly_one_winner(tmp_path: Path) -> None:
    for r in range(ROUNDS):
        fsutil.atomic_write(tmp_path / f"pending-{r}.toon", b"handoff %d\n" % r)
    winners = _race("claim", tmp_path)
    bad = {r: w for r, w in winners.items() if len(w) != 1}
    assert not bad, f"rounds without exactly one winner: {bad}"
    for r, (w,) in winners.items():
        assert not (tmp_path / f"pending-{r}.toon").exists()
        assert (tmp_path / f"claimed-{r}-by-{w}.toon").read_bytes() == b"handoff %d\n" % r
        assert len(list(tmp_path.glob(f"claimed-{r}-by-*"))) == 1
    print(f"\nclaim: {PROCS} processes x {ROUNDS} rounds, exactly one winner every round")


# --- filelock as the full tier uses it ------------------------------------------------------------

HOLDER = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
import filelock
lock = filelock.FileLock(sys.argv[1], timeout=2)
lock.acquire()
sys.stdout.write("held\n"); sys.stdout.flush()
time.sleep(float(sys.argv[3]))
"""


def _holder(lock_path: Path, hold_s: float = 60) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path), str(SRC), str(hold_s)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


@pytest.mark.crash
def test_lock_of_a_killed_holder_is_free_at_once(tmp_path: Path) -> None:
    lock_path = tmp_path / "state.json.lock"
    waits = []
    for _ in range(KILL_TRIALS):
        holder = _holder(lock_path)
        # while it lives, the lock is really held
        with pytest.raises(filelock.Timeout):
            filelock.FileLock(str(lock_path), timeout=0).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
        lock = filelock.FileLock(str(lock_path), timeout=2)
        t0 = time.perf_counter()
        lock.acquire()
        waits.append(time.perf_counter() - t0)
        lock.release()
        assert lock_path.exists()  # never deleted on Unix (contenders would split across inodes)
    print(
        f"\nacquire after SIGKILLed holder: median {statistics.median(waits) * 1000:.2f} ms, "
        f"max {max(waits) * 1000:.2f} ms over {len(waits)} trials"
    )
    assert max(waits) < 0.5


def test_live_holder_makes_acquire_time_out_after_about_the_timeout(tmp_path: Path) -> None:
    lock_path = tmp_path / "state.json.lock"
    holder = _holder(lock_path)
    try:
        lock = filelock.FileLock(str(lock_path), timeout=2)
        t0 = time.perf_counter()
        with pytest.raises(filelock.Timeout) as info:
            lock.acquire()
        waited = time.perf_counter() - t0
        assert isinstance(info.value, TimeoutError)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    print(f"\nacquire against a live holder (timeout=2): filelock.Timeout after {waited:.3f} s; hook timeout >= {HOOK_TIMEOUT_S} s")
    assert 1.9 <= waited < 2.6
    assert waited < HOOK_TIMEOUT_S


def test_store_locked_times_out_below_the_hook_timeout(tmp_path: Path) -> None:
    holder = _holder(tmp_path / paths.LOCK)
    try:
        t0 = time.perf_counter()
        with pytest.raises(store.LockTimeout):
            with store.locked(tmp_path):
                pass
        waited = time.perf_counter() - t0
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    print(f"\nstore.locked against a live holder: LockTimeout after {waited:.3f} s (LOCK_TIMEOUT_S={store.LOCK_TIMEOUT_S})")
    assert waited >= store.LOCK_TIMEOUT_S - 0.1
    assert waited < HOOK_TIMEOUT_S
    with store.locked(tmp_path, timeout=1):  # free again once the holder is gone
        pass


COUNTER = r"""
import sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
import filelock
from session_state.core import fsutil, paths
path = Path(sys.argv[1])
for _ in range(int(sys.argv[3])):
    with filelock.FileLock(str(path) + ".lock", timeout=10):
        n = int(fsutil.read_bytes(path) or b"0")
        fsutil.atomic_write(path, b"%d" % (n + 1), durable=False)
"""


def test_read_modify_write_under_the_lock_loses_no_update(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    procs, each = 8, 100
    children = [subprocess.Popen([sys.executable, "-c", COUNTER, str(counter), str(SRC), str(each)]) for _ in range(procs)]
    for c in children:
        assert c.wait(60) == 0
    assert counter.read_bytes() == b"%d" % (procs * each)

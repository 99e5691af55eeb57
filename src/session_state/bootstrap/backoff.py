"""The provisioning record: the last failure, how many attempts, and when to try again.

Stdlib only. A failed build is not retried on every hook: attempts back
off 5 min, then 1 h, then 24 h, and go to 24 h at once after a step was killed by a signal
(most often the OOM killer: retrying soon would only hit it again).

The attempt is recorded *before* building, with its backoff already set, so a provisioner
that is itself killed mid-build (laptop lid, OOM, Ctrl-C of the whole group) still counts as
a failed attempt. A record for another env key is ignored: a new lock file is tried at once.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional

from session_state.bootstrap import layout

DELAYS = (5 * 60, 60 * 60, 24 * 60 * 60)
SIGNAL_DELAY = 24 * 60 * 60
TAIL_CHARS = 2000


def delay(attempts: int, signaled: bool = False) -> int:
    """Seconds to wait after `attempts` failed attempts (1-based)."""
    if signaled:
        return SIGNAL_DELAY
    return DELAYS[min(max(attempts, 1), len(DELAYS)) - 1]


def load(key: str) -> Optional[Dict[str, Any]]:
    """The record for this env key, or None (none, unreadable, or about another key)."""
    record = layout.read_json(layout.state_file())
    if not record or record.get("key") != key:
        return None
    return record


def remaining(key: str, now: Optional[float] = None) -> float:
    """Seconds left before a new attempt for this key is allowed (0 when allowed now)."""
    record = load(key)
    if not record:
        return 0.0
    next_try = record.get("next_try")
    if not isinstance(next_try, (int, float)):
        return 0.0
    return max(0.0, float(next_try) - (time.time() if now is None else now))


def _save(record: Dict[str, Any]) -> None:
    from session_state.core.fsutil import atomic_write

    path = layout.state_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))


def record_start(key: str) -> int:
    """Count a new attempt (pessimistically failed until `clear`); returns its number."""
    previous = load(key) or {}
    attempts = int(previous.get("attempts") or 0) + 1
    now = time.time()
    record = dict(previous)
    record.update(
        key=key,
        phase="running",
        attempts=attempts,
        started=now,
        next_try=now + delay(attempts),
    )
    _save(record)
    return attempts


def record_failure(key: str, attempts: int, phase: str, rc: Optional[int], output: str,
                   signaled: bool = False) -> Dict[str, Any]:
    """Write the failed step, its exit code and output tail, and the time of the next try."""
    now = time.time()
    record = {
        "key": key,
        "phase": phase,
        "rc": rc,
        "signaled": signaled,
        "stderr_tail": output[-TAIL_CHARS:],
        "attempts": attempts,
        "failed_at": now,
        "next_try": now + delay(attempts, signaled),
    }
    _save(record)
    return record


def clear(key: str) -> None:
    """Forget the record after a successful build for this key."""
    if load(key) is None:
        return
    try:
        layout.state_file().unlink()
    except FileNotFoundError:
        pass

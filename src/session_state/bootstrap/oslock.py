"""A non-blocking, OS-released lock for the provisioner, without the `filelock` package.

Stdlib only: provisioning runs before `filelock` is installed.
`fcntl.flock` on POSIX, `msvcrt.locking` on Windows. The kernel drops the lock when its
holder dies, so a killed provisioner never leaves a stale lock behind and no age or pid
heuristics are needed. The lock file itself is never deleted (deleting it would let two
processes lock two different inodes). Local disks only, like every flock.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class Held:
    """An acquired lock; `release()` (or process exit) frees it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            else:
                os.lseek(self.fd, 0, os.SEEK_SET)
                msvcrt.locking(self.fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Held":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def try_lock(path: Path) -> Optional[Held]:
    """Take the lock at once or return None: never waits, so no hook can stall on it."""
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        os.close(fd)
        return None
    return Held(fd)


def is_held(path: Path) -> bool:
    """True while another process holds the lock (probes by taking and dropping it)."""
    if not path.exists():
        return False
    held = try_lock(path)
    if held is None:
        return True
    held.release()
    return False

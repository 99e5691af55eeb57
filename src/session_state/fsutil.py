"""File primitives every writer uses: atomic replace, atomic append, exclusive markers.

Stdlib only: imported by the per-turn hooks. Each primitive is safe against a process
killed at any instruction: a reader sees the old bytes or the new, never a mix.
Files are created 0600 and symlinks are never followed for writes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` in one step (temp file in the same folder, then rename).

    `durable` adds an fsync before the rename, so a power loss cannot leave an empty
    file behind; caches that can be rebuilt from the transcript skip it.
    """
    path = Path(path)
    if path.is_symlink():
        raise OSError(f"refusing to replace symlink {path}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        _replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _replace(src: str, dst: Path) -> None:
    """os.replace, retried briefly on Windows where an open reader blocks it."""
    for attempt in range(20):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 19:
                raise
            import time

            time.sleep(0.01)


def append_record(path: Path, line: bytes) -> None:
    """Append one newline-terminated record with a single O_APPEND write.

    Concurrent appenders never interleave inside a record on a local file system;
    a record torn by a kill lacks its newline: the next append terminates it first, and
    readers skip lines that do not parse.
    """
    if not line.endswith(b"\n"):
        line += b"\n"
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _BINARY, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":
            # A writer killed mid-record left a fragment: end it, so this record stays whole.
            line = b"\n" + line
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def create_exclusive(path: Path, data: bytes = b"") -> bool:
    """Create `path` only if it does not exist; True for the one caller that created it.

    This is the lock-free "exactly once" used for budget crossings and injection
    fingerprints: among any number of racing processes exactly one gets True.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o600)
    except FileExistsError:
        return False
    try:
        if data:
            os.write(fd, data)
    finally:
        os.close(fd)
    return True


def claim(src: Path, dst: Path) -> bool:
    """Move `src` to `dst` if it is still there; True for the one caller that moved it.

    Used to hand a handoff to exactly one new session: rename is atomic, so of N
    sessions racing for one file exactly one succeeds and the rest see it gone.
    """
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return False
    return True


def read_bytes(path: Path, *, limit: int | None = None) -> bytes | None:
    """Read a file without following a symlink; None when it is missing."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit)
    except IsADirectoryError:
        return None

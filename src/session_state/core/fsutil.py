"""File primitives every writer uses: atomic replace, atomic append, exclusive markers.

Stdlib only: imported by the per-turn hooks. Each primitive is safe against a process
killed at any instruction: a reader sees the old bytes or the new, never a mix.
Files are created 0600 and symlinks are never followed for writes.
"""

from __future__ import annotations

import errno
import io
import os
import time
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
# What this process set aside (one line each), for the hook's one notice and the CLI's stderr.
QUARANTINED: list[str] = []


def set_aside(path: Path, why: str, *, notice: bool = True) -> Path | None:
    """Move an unusable state file (corrupt, a symlink, a FIFO...) out of the way as
    `<name>.corrupt-<time>-<pid>`, keep its bytes for a human, log it and (with `notice`)
    remember one line for the user.

    Only within a real folder: under a symlinked folder the rename would move a file that is not
    ours. A symlink is moved as the link; what it points to is never touched.
    """
    import time

    path = Path(path)
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    try:
        check_parent(path)
        os.replace(path, target)
    except OSError:
        return None
    message = f"session-state: {path.name} {why}; set aside as {target} and started afresh"
    if notice:  # callers that tell the user themselves (state recovery) pass False
        QUARANTINED.append(message)
    from session_state.core import log

    log.write(f"{message} ({path})")
    return target


def clear_way(path: Path) -> None:
    """Before writing a state file: a symlink or any non-regular file in its place is set aside."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if stat.S_ISLNK(mode):
        set_aside(path, "was a symlink")
    elif not stat.S_ISREG(mode):
        set_aside(path, "was not a regular file")


def check_parent(path: Path) -> None:
    """Refuse a symlinked folder right above the file (a session folder, markers/,
    checkpoints/ planted as a link would send writes outside the state root)."""
    if os.path.islink(os.path.dirname(os.fspath(path)) or "."):
        raise OSError(errno.ELOOP, "refusing a symlinked folder", os.path.dirname(os.fspath(path)))


def atomic_write(path: Path, data: bytes, *, durable: bool = True, state: bool = False) -> None:
    """Replace `path` with `data` in one step (temp file in the same folder, then rename).

    `durable` adds an fsync before the rename, so a power loss cannot leave an empty
    file behind; caches that can be rebuilt from the transcript skip it. `state`: the file is
    the plugin's own, so a symlink in its place is set aside (see set_aside) instead of refused.
    """
    path = Path(path)
    check_parent(path)
    if state:
        clear_way(path)
    if path.is_symlink():
        raise OSError(f"refusing to replace symlink {path}")
    fd, tmp = _temp_beside(path)
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
    _sweep_stale_temps(path)


STALE_TEMP_S = 3600


def _sweep_stale_temps(path: Path) -> None:
    """Remove this target's temp files left by writers killed before their rename.

    Only ours (`.<name>.*.tmp`) and only when older than an hour: a younger one may belong to
    a writer still running. One listdir of a small folder; errors are ignored.
    """
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix) and n.endswith(".tmp")]
        if not names:
            return
        import time

        cutoff = time.time() - STALE_TEMP_S
        for name in names:
            stale = path.parent / name
            st = os.lstat(stale)
            if st.st_mtime < cutoff and not os.path.islink(stale):
                os.unlink(stale)
    except OSError:
        pass


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new 0600 file next to `path` (what tempfile.mkstemp does, without its ~4 ms import)."""
    for _ in range(100):
        name = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


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


def append_record(path: Path, line: bytes, *, state: bool = False) -> None:
    """Append one newline-terminated record with a single O_APPEND write.

    Concurrent appenders never interleave inside a record on a local file system;
    a record torn by a kill lacks its newline: the next append terminates it first, and
    readers skip lines that do not parse.
    """
    if not line.endswith(b"\n"):
        line += b"\n"
    check_parent(path)
    if state:
        clear_way(path)
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
    check_parent(path)
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


def create_exclusive_or_stale(path: Path, stale_after_s: float) -> bool:
    """`create_exclusive`, except that a marker older than `stale_after_s` is taken over.

    A marker left by a killed process (a refresh that never ran, an injection long ago) must
    not block forever; of several processes taking over the same stale marker, one wins.
    """
    if create_exclusive(path):
        return True
    try:
        if time.time() - path.stat().st_mtime < stale_after_s:
            return False
        os.unlink(path)
    except FileNotFoundError:
        pass
    return create_exclusive(path)


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


def open_regular(path: str | os.PathLike[str]) -> io.BufferedReader | None:
    """Open a file for reading only if it is a regular file: never block on a FIFO, never read
    a device such as /dev/zero (a transcript path is input, and could be either)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _BINARY)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def read_tail(path: str | os.PathLike[str], nbytes: int) -> bytes | None:
    """The last `nbytes` of a regular file (None when it is missing or not a regular file).

    Read errors after opening raise OSError: the callers decide what an unreadable file means.
    """
    handle = open_regular(path)
    if handle is None:
        return None
    with handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - nbytes))
        data: bytes = handle.read()
        return data


def read_bytes(path: Path, *, limit: int | None = None, state: bool = False) -> bytes | None:
    """Read a regular file without following a symlink; None when it is missing or not a
    regular file (never blocks on a FIFO). `state`: the file is the plugin's own, so a symlink
    or a non-regular file in its place is set aside (see set_aside) and reads as absent."""
    import stat

    check_parent(path)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY | _NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        if state and os.path.islink(path):  # ELOOP (EMLINK on some BSDs): a symlink in our place
            set_aside(path, "was a symlink")
            return None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            if state:
                set_aside(path, "was not a regular file")
            return None
        with os.fdopen(fd, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit)
    except IsADirectoryError:
        return None


def size(path: Path, *, follow_symlinks: bool = False) -> int:
    """A file's size in bytes, 0 when it cannot be read.

    Not following links is the default: a link in the state folder is not our bytes (retention
    and disk use count only what they own). A transcript may be reached through a link, so its
    readers follow.
    """
    try:
        return os.stat(path, follow_symlinks=follow_symlinks).st_size
    except OSError:
        return 0

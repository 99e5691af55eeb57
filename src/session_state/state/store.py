"""Validated files under a lock: the full tier's only way to read and write state.

Reads validate against the file's pydantic model; a file that does not validate is never
silently reset: it is moved aside as `<name>.corrupt-<time>` so nothing is lost, and the
caller decides how to recover. Locks always have a timeout shorter than any hook timeout,
and an OS lock dies with its holder, so a killed hook never blocks the next one.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TypeVar

import orjson
from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError

from session_state.core import fsutil, paths

M = TypeVar("M", bound=BaseModel)
LOCK_TIMEOUT_S = 3.0


class CorruptFile(ValueError):
    """A state file that exists but cannot be used; `moved_to` is where it was set aside.

    A ValueError, so every caller that already treats a bad value as "unusable" handles it."""

    def __init__(self, path: Path, reason: str, moved_to: Path | None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.moved_to = moved_to


class LockTimeout(Exception):
    """Another process held the session's lock for longer than LOCK_TIMEOUT_S."""


@contextmanager
def locked(folder: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the folder's lock (a separate `.lock` file, never deleted) for a read-modify-write.

    A symlink (or anything but a regular file) named `.lock` is set aside first: the lock
    library opens its file with O_TRUNC and would follow the link, truncating whatever it names.
    """
    fsutil.check_parent(folder / paths.LOCK)
    fsutil.clear_way(folder / paths.LOCK)
    lock = FileLock(str(folder / paths.LOCK), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout as exc:
        raise LockTimeout(f"{folder}: lock busy for {timeout:.1f} s") from exc
    try:
        yield
    finally:
        lock.release()


def dumps(model: BaseModel) -> bytes:
    return orjson.dumps(model.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"


def write_model(path: Path, model: BaseModel) -> None:
    fsutil.atomic_write(path, dumps(model), state=True)


def read_model(path: Path, model: type[M], *, quarantine: bool = True) -> M | None:
    """The validated content of `path`, None when absent (a symlink in its place is set aside
    and reads as absent); CorruptFile when unusable."""
    raw = fsutil.read_bytes(path, state=quarantine)
    if raw is None:
        return None
    try:
        return model.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        reason = _reason(exc)
        moved = set_aside(path, notice=False) if quarantine else None  # the recovery tells the user
        raise CorruptFile(path, reason, moved) from exc


def set_aside(path: Path, why: str = "did not validate", *, notice: bool = True) -> Path | None:
    """Move an unusable file out of the way, keeping its bytes for a human to look at."""
    return fsutil.set_aside(path, why, notice=notice)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(root)"
        return f"field {where}: {first.get('msg')} (got {str(first.get('input'))[:60]!r})"
    return f"not valid JSON ({str(exc)[:80]})"


def write_toon(path: Path, data: object) -> str:
    """Write `data` as TOON atomically and return the text."""
    import toons

    text = toons.dumps(data)
    if not text.endswith("\n"):
        text += "\n"
    fsutil.atomic_write(path, text.encode("utf-8"), state=True)
    return text


def read_toon(path: Path, *, quarantine: bool = True) -> object | None:
    """The parsed TOON file, None when absent; CorruptFile (after setting it aside) when it is
    not UTF-8 or not TOON, so the caller rewrites it instead of failing on it every time."""
    import toons

    raw = fsutil.read_bytes(path, state=quarantine)
    if raw is None:
        return None
    try:
        parsed: object = toons.loads(raw.decode("utf-8"))
        return parsed
    except ValueError as exc:  # UnicodeDecodeError and toons.ToonDecodeError are ValueErrors
        reason = "is not UTF-8" if isinstance(exc, UnicodeDecodeError) else f"is not valid TOON ({str(exc)[:80]})"
        moved = set_aside(path, reason) if quarantine else None
        raise CorruptFile(path, reason, moved) from exc

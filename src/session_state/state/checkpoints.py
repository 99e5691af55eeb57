"""Checkpoints: validated snapshots of a session's state, with bounded disk use.

A checkpoint is written atomically under a name that sorts by time, so "latest" is a
directory listing; a checkpoint that does not validate is skipped, never returned as the
latest. Retention runs after every checkpoint (cheap: one listing) so that any number of
triggers keeps a session within its count, and `prune` enforces age and project size caps.
"""

from __future__ import annotations

import gzip
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from session_state.core import fsutil, journal, paths
from session_state.state import store
from session_state.state.models import Budget, Checkpoint, CheckpointRef, SessionState
from session_state.core.settings import Settings



def _root_of(session_dir: Path) -> Path:
    return session_dir.parent.parent  # <root>/sessions/<sid>


def _usable_folder(session_dir: Path, *parts: str) -> Path | None:
    """checkpoints/ (or checkpoints/archive/) when it is a real folder inside the state root.

    A symlink anywhere from the root down is refused with a log line and never followed: what
    is behind it is neither listed, archived nor deleted.
    """
    target = paths.checkpoints_dir(session_dir).joinpath(*parts)
    if paths.inside_root(_root_of(session_dir), target, folder=True):
        return target
    if os.path.lexists(target):
        _refuse(target)
    return None


def _refuse(path: Path) -> None:
    from session_state.core import log

    log.write(f"refusing {path}: a symlink, or not a regular file or folder inside the state root; left alone")


def _owned_file(session_dir: Path, path: Path) -> bool:
    """Whether retention may read, move or delete `path`: a regular file reached without a symlink."""
    if paths.inside_root(_root_of(session_dir), path):
        return True
    if os.path.lexists(path):
        _refuse(path)
    return False


def _new_id(trigger: str) -> str:
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1e6):06d}Z"
    return f"{stamp}-{paths.safe_id(trigger)[:40]}-{os.getpid()}"


def take(session_dir: Path, state: SessionState, trigger: str, settings: Settings) -> Checkpoint:
    """Snapshot `state` (call under the session lock) and apply the per-session count cap."""
    target = paths.checkpoints_dir(session_dir)
    paths.ensure_dir(target)
    cp = Checkpoint(
        id=_new_id(trigger),
        session_id=state.session_id,
        created=journal.now_iso(),
        trigger=trigger,
        budget=state.budget.model_copy() if state.budget else None,
        state=state.model_copy(deep=True),
    )
    store.write_model(target / f"{cp.id}{paths.CHECKPOINT_SUFFIX}", cp)
    state.last_checkpoint = cp.id
    state.last_checkpoint_at = cp.created
    keep_count(session_dir, settings["checkpoints_keep"])
    return cp


def due(state: SessionState, interval_s: float) -> bool:
    """Stop takes a checkpoint only when the last one is older than the interval."""
    if not state.last_checkpoint_at:
        return True
    return age_seconds(state.last_checkpoint_at) >= interval_s


def age_seconds(iso: str) -> float:
    try:
        then = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return float("inf")
    return time.time() - then.timestamp()


def names(session_dir: Path) -> list[str]:
    """Checkpoint file names, newest first (none from a folder that is not really ours)."""
    target = _usable_folder(session_dir)
    if target is None:
        return []
    try:
        entries = os.listdir(target)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted((e for e in entries if e.endswith(paths.CHECKPOINT_SUFFIX) and not e.startswith(".")), reverse=True)


def archived_names(session_dir: Path) -> list[str]:
    """Archived checkpoint file names (`*.json.gz`), oldest first; none from a linked archive/."""
    target = _usable_folder(session_dir, paths.ARCHIVE)
    if target is None:
        return []
    try:
        return sorted(e for e in os.listdir(target) if e.endswith(f"{paths.CHECKPOINT_SUFFIX}.gz") and not e.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def load(session_dir: Path, name: str) -> Checkpoint | None:
    try:
        return store.read_model(paths.checkpoints_dir(session_dir) / name, Checkpoint, quarantine=False)
    except store.CorruptFile:
        return None


def latest_valid(session_dir: Path) -> Checkpoint | None:
    for name in names(session_dir):
        cp = load(session_dir, name)
        if cp is not None:
            return cp
    return None


def refs(session_dir: Path, limit: int | None = None) -> list[CheckpointRef]:
    out: list[CheckpointRef] = []
    for name in names(session_dir)[:limit]:
        parsed = parse_name(name)
        created = parsed.created.strftime("%Y-%m-%dT%H:%M:%SZ") if parsed.created else parsed.id.split("-")[0]
        out.append(CheckpointRef(id=parsed.id, created=created, trigger=parsed.trigger))
    return out


@dataclass(frozen=True)
class ParsedName:
    """What a checkpoint's id says: the id itself, when it was taken (UTC) and why."""

    id: str
    created: datetime | None  # None when the id's stamp does not parse
    trigger: str


def parse_name(name: str) -> ParsedName:
    """Read a checkpoint file name, live or archived, or a bare id (the format `_new_id` writes).

    The one reader of `<YYYYmmddTHHMMSS><micro>Z-<trigger>-<pid>`, for listings, the report and
    `recover --from`.
    """
    stem = Path(name).name.removesuffix(".gz").removesuffix(paths.CHECKPOINT_SUFFIX)
    parts = stem.split("-")
    try:
        created: datetime | None = datetime.strptime(parts[0][:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        created = None
    return ParsedName(stem, created, "-".join(parts[1:-1]) or "?")


def read_file(path: Path, *, archived: bool) -> Checkpoint:
    """One checkpoint file, live or archived (gzip), validated; raises OSError, ValueError or EOFError.

    For the commands that name the file they read and say why it failed; the hooks use `load`.
    """
    import orjson

    raw = path.read_bytes()
    return Checkpoint.model_validate(orjson.loads(gzip.decompress(raw) if archived else raw))


def keep_count(session_dir: Path, keep: int) -> list[str]:
    """Archive checkpoints beyond the newest `keep`; returns the names moved."""
    moved = []
    for name in names(session_dir)[max(keep, 1):]:
        if archive_one(session_dir, name):
            moved.append(name)
    return moved


def archive_one(session_dir: Path, name: str) -> bool:
    """Move one checkpoint into archive/ gzip-compressed (atomic; the original goes last)."""
    src = paths.checkpoints_dir(session_dir) / name
    if not _owned_file(session_dir, src):
        return False
    raw = fsutil.read_bytes(src)
    if raw is None:
        return False
    dest_dir = paths.archive_dir(session_dir)
    paths.ensure_dir(dest_dir)
    if _usable_folder(session_dir, paths.ARCHIVE) is None:
        return False
    fsutil.atomic_write(dest_dir / f"{name}.gz", gzip.compress(raw, mtime=0), durable=False)
    try:
        os.unlink(src)
    except FileNotFoundError:
        pass
    return True


@dataclass
class PruneReport:
    archived: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0


def prune(root: Path, settings: Settings, *, dry_run: bool = False, progress: Any = None) -> PruneReport:
    """Apply every retention rule to every session of the project.

    Per session: newest `checkpoints_keep` stay; older ones and any older than
    `archive_after_days` are archived compressed. Project-wide: while checkpoints and
    archives exceed `project_cap_bytes`, the oldest archives go first, then the oldest
    checkpoints, always keeping each session's newest checkpoint.
    """
    report = PruneReport()
    keep = settings["checkpoints_keep"]
    max_age = settings["archive_after_days"] * 86400
    cap = settings["project_cap_bytes"]
    sessions_dir = paths.sessions_dir(root)
    if not paths.inside_root(root, sessions_dir, folder=True):
        if os.path.lexists(sessions_dir):
            _refuse(sessions_dir)
        return report
    sessions = sorted(p for p in sessions_dir.iterdir() if paths.inside_root(root, p, folder=True))
    live: list[tuple[float, Path, bool]] = []  # (mtime, path, is_archive)
    for n, sdir in enumerate(sessions):
        if progress:
            progress(n + 1, len(sessions))
        ordered = names(sdir)
        for idx, name in enumerate(ordered):
            path = paths.checkpoints_dir(sdir) / name
            try:
                if not _owned_file(sdir, path):
                    continue
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            report.bytes_before += st.st_size
            old = idx > 0 and time.time() - st.st_mtime > max_age
            if idx >= keep or old:
                report.archived.append(str(path))
                if not dry_run:
                    archive_one(sdir, name)
                    gz = paths.archive_dir(sdir) / f"{name}.gz"
                    live.append((st.st_mtime, gz, True))
                else:
                    live.append((st.st_mtime, path, True))
            elif idx > 0:
                live.append((st.st_mtime, path, False))
        archive = _usable_folder(sdir, paths.ARCHIVE)
        archived = [(name, archive / name) for name in sorted(os.listdir(archive))] if archive is not None else []
        for name, gz in archived:
            if not name.endswith(".gz") or any(p == gz for _, p, _ in live) or not _owned_file(sdir, gz):
                continue
            try:
                st = os.lstat(gz)
            except FileNotFoundError:
                continue
            report.bytes_before += st.st_size
            live.append((st.st_mtime, gz, True))
    total = sum(fsutil.size(p) for _, p, _ in live) + sum(
        fsutil.size(paths.checkpoints_dir(s) / names(s)[0]) for s in sessions if names(s)
    )
    for _, path, _ in sorted(live, key=lambda item: (not item[2], item[0])):
        if total <= cap:
            break
        if not paths.inside_root(root, path):  # checked again right before it goes
            _refuse(path)
            continue
        size = fsutil.size(path)
        report.deleted.append(str(path))
        total -= size
        if not dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    report.bytes_after = total
    return report


def restore_state(session_dir: Path) -> tuple[Checkpoint | None, SessionState | None]:
    """The latest valid checkpoint and a copy of its state marked recovered."""
    cp = latest_valid(session_dir)
    if cp is None:
        return None, None
    return cp, recovered(cp)


def recovered(cp: Checkpoint) -> SessionState:
    """A copy of the checkpoint's state marked recovered from it, with the budget it recorded.

    The one restore rule, shared by the hooks' automatic recovery and `session-state recover`.
    """
    state = cp.state.model_copy(deep=True)
    state.status = "recovered"
    state.recovered_from = cp.id
    if cp.budget is not None:
        state.budget = Budget.model_validate(cp.budget.model_dump())
    return state

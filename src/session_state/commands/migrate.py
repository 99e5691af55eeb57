"""`session-state migrate`: import the state an earlier version kept inside the project, on request.

Versions before issue 9 wrote `<project>/.claude/session-state/`. A repository controls every
file under its folder, so that folder is never read on its own; the user imports it here, and
only after three checks: it is owned by the user, nothing in it is a symlink or anything but a
regular file or folder (each entry lstat-ed), and git tracks none of it (a tracked file came from
the repository, not from this user's sessions; git runs hardened as in state.git_status). Every file imported is validated by its model
and written afresh into the user's state folder; caches and markers are not carried over.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from session_state.core import paths
from session_state.commands import _common

if TYPE_CHECKING:
    from session_state.state.models import Checkpoint

MAX_FILE_BYTES = 50_000_000


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "migrate",
        "import the state an earlier version kept in <project>/.claude/session-state/",
        f"Checks that <project>/{paths.LEGACY_ROOT}/ is owned by you, holds only regular files and folders "
        "(no symlinks) and that git tracks none of it; then imports sessions (state, handoff, checkpoints, "
        "journal, usage log) and decisions into your state folder, each file validated. The old folder is "
        "left in place and never read again: delete it when you are satisfied.",
        ["session-state migrate --dry-run", "session-state migrate"],
    )
    _common.add_project(p)
    p.add_argument("--dry-run", action="store_true", help="run the checks and say what would be imported")
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = _common.project(args)
    legacy = paths.legacy_root(project)
    try:
        os.lstat(legacy)
    except FileNotFoundError:
        raise _common.error(f"nothing to migrate: {legacy} does not exist") from None
    problems = check(project, legacy)
    if problems:
        raise _common.error(f"{legacy} not imported: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    report = import_tree(legacy, paths.state_root(project, create=not args.dry_run), dry_run=args.dry_run)
    if args.json:
        _common.print_json({"from": str(legacy), **report})
    else:
        verb = "would import" if args.dry_run else "imported"
        print(f"{verb} {report['sessions']} sessions, {report['files']} files and {report['decisions']} decisions "
              f"from {legacy} into {report['root']}; skipped {report['skipped']} (invalid or not state)")
        if not args.dry_run:
            print(f"{legacy} is no longer read; delete it when satisfied: rm -r {legacy}")
    return 0


def check(project: Path, legacy: Path) -> list[str]:
    """Why the old folder must not be imported; empty when it may be."""
    problems: list[str] = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    for level in (project / paths.CLAUDE_DIR, legacy):
        st = os.lstat(level)
        if stat.S_ISLNK(st.st_mode):
            return [f"{level} is a symlink"]
        if not stat.S_ISDIR(st.st_mode):
            return [f"{level} is not a folder"]
    for path in [legacy, *_walk(legacy)]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            problems.append(f"{path} is a symlink")
        elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            problems.append(f"{path} is not a regular file or folder")
        elif uid is not None and st.st_uid != uid:
            problems.append(f"{path} is owned by uid {st.st_uid}, not you ({uid})")
    if problems:
        return problems
    tracked = _tracked(project, paths.LEGACY_ROOT)
    if tracked is None:
        return ["could not ask git whether it tracks these files (git missing or too slow)"]
    if tracked:
        return [f"git tracks {len(tracked)} files in it (e.g. {tracked[0]}): they came with the repository, not from your sessions"]
    return []


def _tracked(project: Path, relative: str) -> list[str] | None:
    """Files under `relative` the project's git tracks; [] outside a repository; None if unknown.

    git runs as state.git_status runs it (GIT_SAFETY, a scrubbed environment, a timeout): the
    repository's own config must not choose a program to run.
    """
    import subprocess

    from session_state.state import fold as state

    try:
        done = subprocess.run(
            ["git", *state.GIT_SAFETY, "ls-files", "-z", "--cached", "--", relative],
            cwd=str(project), env=state.git_env(project), stdin=subprocess.DEVNULL, capture_output=True,
            timeout=state.GIT_TIMEOUT_S * 5,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return [] if b"not a git repository" in done.stderr else None
    return [name for name in done.stdout.decode("utf-8", "replace").split("\0") if name]


def _walk(top: Path) -> list[Path]:
    """Every entry under `top`, without following symlinks (os.walk lists links, never enters them)."""
    out = []
    for folder, dirs, files in os.walk(top, followlinks=False):
        out += [Path(folder) / name for name in dirs + files]
    return out


class ImportReport(TypedDict):
    """What `import_tree` did (or would do): the target root and its counts."""

    root: str
    sessions: int
    files: int
    decisions: int
    skipped: int


def import_tree(legacy: Path, root: Path, *, dry_run: bool) -> ImportReport:
    """Validate and copy sessions and decisions; returns counts."""
    from session_state.core import fsutil
    from session_state.state import checkpoints, handoff, project_files, store
    from session_state.state.models import DecisionLog, HandoffPackage, JournalRecord, SessionState, UsageRecord

    counts: ImportReport = {"root": str(root), "sessions": 0, "files": 0, "decisions": 0, "skipped": 0}
    sessions = legacy / paths.SESSIONS
    for old in sorted(sessions.iterdir()) if sessions.is_dir() else []:
        state = _model(old / paths.STATE, SessionState)
        if state is None:
            counts["skipped"] += 1
            continue
        new = paths.session_dir(root, state.session_id, create=False)
        if (new / paths.STATE).exists():
            counts["skipped"] += 1  # already there: never overwrite the live state
            continue
        writes: list[tuple[Path, bytes]] = []
        pkg = _toon_model(old / paths.HANDOFF, HandoffPackage)
        for name in checkpoints.names(old):
            cp = _checkpoint(paths.checkpoints_dir(old) / name, counts)
            if cp is not None:
                writes.append((paths.checkpoints_dir(new) / name, store.dumps(cp)))
        for name in checkpoints.archived_names(old):
            cp = _checkpoint(paths.archive_dir(old) / name, counts, packed=True)
            if cp is not None:
                writes.append((paths.archive_dir(new) / name, gzip.compress(store.dumps(cp))))
        for name, model in ((paths.JOURNAL, JournalRecord), (paths.USAGE, UsageRecord)):
            lines, before = _valid_lines(old / name, model, state.journal_offset)
            if name == paths.JOURNAL:  # the dropped lines shift it: the same records stay folded
                state = state.model_copy(update={"journal_offset": before})
            if lines:
                writes.append((new / name, b"".join(lines)))
        writes.append((new / paths.STATE, store.dumps(state)))
        counts["sessions"] += 1
        counts["files"] += len(writes) + (pkg is not None)
        if dry_run:
            continue
        for path, body in writes:
            paths.ensure_dir(path.parent)
            fsutil.atomic_write(path, body)
        if pkg is not None:
            handoff.write(new, pkg)
    old_log = _toon_model(legacy / paths.DECISIONS, DecisionLog)
    if old_log is not None:
        counts["decisions"] = len(old_log.decisions)
        if not dry_run:
            with store.locked(root):
                current = project_files.decisions(root)  # an unusable file is set aside, never overwritten
                known = {d.id for d in current}
                merged = sorted([*current, *(d for d in old_log.decisions if d.id not in known)], key=lambda d: d.ts)
                del merged[:-project_files.KEEP_DECISIONS]
                store.write_toon(root / paths.DECISIONS, DecisionLog(decisions=merged).model_dump(mode="json"))
    return counts


def _model(path: Path, model: Any, *, packed: bool = False) -> Any:
    from pydantic import ValidationError

    from session_state.core import fsutil

    try:
        raw = fsutil.read_bytes(path, limit=MAX_FILE_BYTES)
        if raw is None:
            return None
        if packed:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
                raw = handle.read(MAX_FILE_BYTES)
        return model.model_validate_json(raw)
    except (OSError, EOFError, ValidationError, ValueError):
        return None


def _checkpoint(path: Path, counts: ImportReport, *, packed: bool = False) -> Checkpoint | None:
    """The valid checkpoint in `path`, or None; one whose id is not its file name's is counted
    as skipped: the new file is named after the old file, so the id must agree with that name."""
    from session_state.state.checkpoints import parse_name
    from session_state.state.models import Checkpoint

    cp: Checkpoint | None = _model(path, Checkpoint, packed=packed)
    if cp is not None and cp.id != parse_name(path.name).id:
        counts["skipped"] += 1
        return None
    return cp


def _toon_model(path: Path, model: Any) -> Any:
    """The old folder's TOON file validated by `model`, or None. Read without quarantine: a
    corrupt file stays where it is, so a dry run changes nothing and the old folder is left whole."""
    from pydantic import ValidationError

    from session_state.state import store

    try:
        data = store.read_toon(path, quarantine=False)
        return model.model_validate(data) if data is not None else None
    except (OSError, ValueError, UnicodeDecodeError, ValidationError):
        return None


def _valid_lines(path: Path, model: Any, offset: int) -> tuple[list[bytes], int]:
    """The lines of a JSON-lines file that validate, and how many of their bytes lay before
    `offset` in the old file (where a state's journal_offset lands once invalid lines are gone)."""
    from pydantic import ValidationError

    from session_state.core import fsutil

    raw = fsutil.read_bytes(path, limit=MAX_FILE_BYTES) or b""
    out = []
    end = before = 0
    for line in raw.splitlines(keepends=True):
        end += len(line)
        try:
            model.model_validate_json(line)
        except (ValidationError, ValueError):
            continue
        kept = line.rstrip(b"\r\n") + b"\n"
        out.append(kept)
        if end <= offset:
            before += len(kept)
    return out, before

"""Re-redact everything already on disk under a state root with the current rules.

Full tier. Redaction rules improve (a new detector release, a new `redact_extra` pattern);
what earlier versions wrote stays as it was until it is rewritten. `scrub` rewrites it: every
session's journal, usage log, cursors, state, notices, handoff (TOON and Markdown), checkpoints
and their gzip archives, and the project-level TOON files. Each file is parsed in its own
format and every string passes through the one redactor (`redactor.redact_obj`), so JSON and
TOON stay valid; a file is rewritten atomically, only when something changed, while its
folder's lock is held (the same lock the hooks take for a read-modify-write). Only regular
files are touched: a symlink anywhere under the root is skipped and counted.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session_state.core import fsutil, paths
from session_state.state import redactor, store
from session_state.core.settings import Settings

MARK = "[REDACTED:"


@dataclass
class Report:
    scanned: int = 0
    changed: list[str] = field(default_factory=list)
    redactions: int = 0  # marks added
    skipped: list[str] = field(default_factory=list)  # symlinks, unreadable or unparsable files


def scrub(root: Path, cfg: Settings, *, dry_run: bool = False) -> Report:
    """Re-redact every file under `root`; with `dry_run`, count what would change only."""
    report = Report()
    sessions = paths.sessions_dir(root)
    folders = sorted(p for p in sessions.iterdir() if _is_dir(p)) if _is_dir(sessions) else []
    for folder in folders:
        red = redactor.for_settings(cfg, folder)
        with store.locked(folder):
            for path in _files(folder, report):
                _scrub_file(path, red, report, dry_run)
    red = redactor.for_settings(cfg)
    with store.locked(root):
        for path in sorted(root.iterdir()):
            if path.suffix == ".toon" and _regular(path, report):
                _scrub_file(path, red, report, dry_run)
    return report


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _regular(path: Path, report: Report) -> bool:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    if stat.S_ISLNK(mode):
        report.skipped.append(str(path))
    return stat.S_ISREG(mode)


def _files(folder: Path, report: Report) -> list[Path]:
    """Regular files below `folder`, not following symlinks (lock files excluded)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for name in dirnames:
            if os.path.islink(base / name):
                report.skipped.append(str(base / name))
        for name in sorted(filenames):
            path = base / name
            if name != paths.LOCK and _regular(path, report):
                found.append(path)
    return found


def _scrub_file(path: Path, red: Callable[[str], str], report: Report, dry_run: bool) -> None:
    raw = fsutil.read_bytes(path)
    if raw is None:
        return
    report.scanned += 1
    packed = path.suffix == ".gz"
    try:
        data = gzip.decompress(raw) if packed else raw
        inner = path.name[:-3] if packed else path.name
        new = _redact_bytes(inner, data, red)
    except (OSError, EOFError, ValueError, UnicodeDecodeError):
        report.skipped.append(str(path))
        return
    if new == data:
        return
    report.changed.append(str(path))
    report.redactions += max(0, new.count(MARK.encode()) - data.count(MARK.encode()))
    if not dry_run:
        fsutil.atomic_write(path, gzip.compress(new, mtime=0) if packed else new)


def _redact_bytes(name: str, data: bytes, red: Callable[[str], str]) -> bytes:
    """The file's bytes with every string redacted, in the file's own format."""
    text = data.decode("utf-8")
    if name.endswith(".jsonl"):
        lines = []
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\n")
            try:
                redone = json.dumps(_obj(json.loads(body), red), ensure_ascii=False, separators=(",", ":"))
            except ValueError:
                redone = red(body)
            lines.append(line if redone == body else redone + line[len(body):])
        return "".join(lines).encode("utf-8")
    if name.endswith(".json"):
        obj = json.loads(text)
        new = _obj(obj, red)
        return data if new == obj else (json.dumps(new, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if name.endswith(".toon"):
        import toons

        obj = toons.loads(text)
        new = _obj(obj, red)
        if new == obj:
            return data
        out = toons.dumps(new)
        return (out if out.endswith("\n") else out + "\n").encode("utf-8")
    return red(text).encode("utf-8")


def _obj(obj: Any, red: Callable[[str], str]) -> Any:
    from session_state.core.redact import redact_obj

    return redact_obj(obj, text=red)

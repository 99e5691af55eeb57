"""Lineage that the transcript implies: which session a fork was made from.

Stdlib only. Claude Code tells a forked session nothing about its parent, and 2.1.330 does
not even write the fork's transcript until its first turn ends (measured: absent at
SessionStart and the first UserPromptSubmit), so the parent is looked up whenever the fork's
state is materialized until it is found.
"""

from __future__ import annotations

import json
import mmap
from pathlib import Path

from session_state.core import facts, fsutil, journal, paths


def find_fork_parent(session_id: str, transcript_path: str | None, root: Path | None = None,
                     max_files: int = 50, max_uuids: int = 400) -> str | None:
    """The session this fork was made from, found by the history it copied.

    Claude Code 2.1.330 rewrites `sessionId` in a fork's copied lines but keeps their `uuid`s
    (older versions kept the parent's sessionId, which the transcript reader records as
    `first_session_id`). Walking the fork's uuids from its end, the first one that a sibling
    transcript also holds is the last line copied at the fork: its holder is the parent (a
    grandparent never saw that line; the fork's own new lines are held by nobody).
    """
    if not transcript_path:
        return None
    path = Path(transcript_path)
    dated: list[tuple[float, Path]] = []
    for candidate in path.parent.glob("*.jsonl"):
        if candidate.stem == session_id:
            continue
        try:
            dated.append((candidate.stat().st_mtime, candidate))
        except OSError:
            continue
    siblings = [c for _, c in sorted(dated, reverse=True)[:max_files]]
    if not siblings:
        return None
    for uuid in _uuids_from_end(path, max_uuids):
        needle = uuid.encode()
        holders = [c.stem for c in siblings if _contains(c, needle)]
        if holders:
            # another fork of the same parent holds the copied line too; its recorded parent
            # is then itself a holder, which the true parent's is not
            own = [h for h in holders if recorded_parent(root, h) not in holders] if root else holders
            return (own or holders)[0]
    return None


def recorded_parent(root: Path, session_id: str) -> str | None:
    """The parent a session's saved state names, read leniently (a hint, not a trusted value)."""
    try:
        data = json.loads((paths.session_dir(root, session_id, create=False) / paths.STATE).read_bytes())
        parent = data["lineage"]["parent_session_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return parent if isinstance(parent, str) else None


def _uuids_from_end(path: Path, limit: int, tail_bytes: int = 4 << 20) -> list[str]:
    try:
        tail = fsutil.read_tail(path, tail_bytes)
    except OSError:
        return []
    if tail is None:
        return []
    found: list[str] = []
    for line in reversed(tail.splitlines()):
        if b'"uuid"' not in line:
            continue
        try:
            value = json.loads(line).get("uuid")
        except (ValueError, AttributeError, RecursionError):
            continue
        if isinstance(value, str) and value:
            found.append(value)
            if len(found) >= limit:
                break
    return found


def _contains(path: Path, needle: bytes) -> bool:
    handle = fsutil.open_regular(path)
    if handle is None:
        return False
    try:
        with handle:
            if handle.seek(0, 2) == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return data.find(needle) != -1
    except (OSError, ValueError):
        return False


def note_fork(root: Path, parent_id: str, child_id: str) -> None:
    """Tell the parent's record that it was forked (its `sessions` listing shows the fork)."""
    parent_dir = paths.session_dir(root, parent_id)
    journal.record(parent_dir, facts.FORK_CHILD, facts.event_id("fork", child_id), session_id=child_id)

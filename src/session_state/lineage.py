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

from session_state import journal, paths


def find_fork_parent(session_id: str, transcript_path: str | None, max_files: int = 50) -> str | None:
    """The session this fork was made from, found by the history it copied.

    Claude Code 2.1.330 rewrites `sessionId` in a fork's copied lines but keeps their `uuid`s
    (older versions kept the parent's sessionId, which the transcript reader records as
    `first_session_id`). The last uuid copied into the fork was the parent's last line at
    the moment of forking, so the newest sibling transcript that contains it is the parent.
    """
    if not transcript_path:
        return None
    path = Path(transcript_path)
    anchor = _last_uuid(path)
    if anchor is None:
        return None
    needle = anchor.encode()
    siblings = []
    for candidate in path.parent.glob("*.jsonl"):
        if candidate.stem == session_id:
            continue
        try:
            siblings.append((candidate.stat().st_mtime, candidate))
        except OSError:
            continue
    for _, candidate in sorted(siblings, reverse=True)[:max_files]:
        if _contains(candidate, needle):
            return candidate.stem
    return None


def _last_uuid(path: Path, tail_bytes: int = 1 << 20) -> str | None:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - tail_bytes))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if b'"uuid"' not in line:
            continue
        try:
            value = json.loads(line).get("uuid")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, str) and value:
            return value
    return None


def _contains(path: Path, needle: bytes) -> bool:
    try:
        with path.open("rb") as handle:
            if handle.seek(0, 2) == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return data.find(needle) != -1
    except (OSError, ValueError):
        return False


def note_fork(root: Path, parent_id: str, child_id: str) -> None:
    """Tell the parent's record that it was forked (its `sessions` listing shows the fork)."""
    parent_dir = paths.session_dir(root, parent_id)
    journal.record(parent_dir, "fork_child", f"fork:{child_id}", session_id=child_id)

"""The session's journal: facts appended by every hook, folded into state by the full tier.

Stdlib only. Appending is the one write the per-turn hooks make to the session's record
(records without conversation text: checkpoint requests; the facts with text are appended by
the full tier, see `sync_facts`):
each fact is one O_APPEND record, so parallel hooks never lose each other's facts and no
lock is needed. A fact can be appended twice (two hooks reading the same new transcript
bytes); its `id` makes the fold drop the copy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from session_state.core import facts, fsutil, paths



def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_iso(value: object) -> float | None:
    """Epoch seconds of an ISO timestamp as transcripts and journals write them (`...Z`; one
    without a zone is UTC), None for anything else."""
    from datetime import datetime, timezone  # not on the per-turn path: only folds and reports parse times

    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def load_cursor(session_dir: Path) -> dict[str, Any] | None:
    """The saved transcript cursor, or None when absent or unreadable (a rescan rebuilds it)."""
    return _load(session_dir / paths.CURSOR)


def _load(path: Path) -> dict[str, Any] | None:
    raw = fsutil.read_bytes(path, state=True)
    if raw is None:
        return None
    try:
        cursor = json.loads(raw)
    except ValueError:
        return None
    return cursor if isinstance(cursor, dict) else None


def save_cursor(session_dir: Path, cursor: dict[str, Any]) -> None:
    # Not fsynced: the cursor is a cache of the transcript and is rebuilt if lost.
    fsutil.atomic_write(session_dir / paths.CURSOR, json.dumps(cursor, separators=(",", ":")).encode(), durable=False,
                        state=True)


def append(session_dir: Path, facts: list[dict[str, Any]]) -> None:
    """Append facts, one record each (an O_APPEND write per record keeps each whole)."""
    path = session_dir / paths.JOURNAL
    for fact in facts:
        # "replace": a lone surrogate (an emoji cut in half upstream) is written as "?" instead of
        # raising on every later hook of the session; every reader then sees valid UTF-8.
        text = json.dumps(fact, ensure_ascii=False, separators=(",", ":"))
        fsutil.append_record(path, text.encode("utf-8", "replace"), state=True)


def record(session_dir: Path, kind: str, fact_id: str, **fields: Any) -> dict[str, Any]:
    """Append one fact that comes from a hook input rather than the transcript."""
    fact = facts.make(kind, fact_id, now_iso(), **fields)
    append(session_dir, [fact])
    return fact


def sync(session_dir: Path, transcript_path: str | None) -> dict[str, Any]:
    """Read the transcript's new bytes for the budget, save the cursor; return the cursor.

    No facts and so no conversation text: this is what the per-turn hooks run (stdlib only).
    The facts are extracted by `sync_facts`, in the full tier, through the one redactor.
    """
    from session_state.core import transcript

    cursor = load_cursor(session_dir)
    if not transcript_path:
        return cursor or {}
    before = None if cursor is None else (cursor.get("path"), cursor.get("offset"), cursor.get("ino"))
    cursor, _ = transcript.update(cursor, transcript_path, facts=False)
    if (cursor.get("path"), cursor.get("offset"), cursor.get("ino")) != before:
        save_cursor(session_dir, cursor)
    return cursor


def sync_facts(session_dir: Path, transcript_path: str | None, redact: Callable[[str], str]) -> dict[str, Any]:
    """Journal the facts of the transcript's bytes not yet extracted, each text through `redact`.

    Full tier (the detached refresh, PreCompact, SessionStart, SessionEnd, SubagentStop, the
    CLI), and the basic handoff where the full environment is missing: its own cursor (`facts-cursor.json`) follows the transcript apart from the budget
    cursor. The journal is written before the cursor: a process killed between the two rereads
    those bytes next time, and the fold drops the repeated facts by id (line uuid + block).
    """
    from session_state.core import transcript

    cursor = _load(session_dir / paths.FACTS_CURSOR)
    if not transcript_path:
        return cursor or {}
    before = None if cursor is None else (cursor.get("path"), cursor.get("offset"), cursor.get("ino"))
    cursor, new_facts = transcript.update(cursor, transcript_path, facts=True, redact=redact)
    if new_facts:
        append(session_dir, new_facts)
    if (cursor.get("path"), cursor.get("offset"), cursor.get("ino")) != before or new_facts:
        fsutil.atomic_write(session_dir / paths.FACTS_CURSOR, json.dumps(cursor, separators=(",", ":")).encode(), durable=False,
                            state=True)
    return cursor


def read(session_dir: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Facts from byte `offset` on, and the offset after the last complete record.

    A record without its newline (a writer was killed, or is still writing) is left for
    the next read; a record that does not parse is skipped.
    """
    raw = fsutil.read_bytes(session_dir / paths.JOURNAL, state=True)
    if raw is None or offset >= len(raw):
        return [], offset if raw is not None else 0
    end = raw.rfind(b"\n", offset) + 1
    if end <= offset:
        return [], offset
    records = list(_parse(raw[offset:end]))
    return records, end


def _parse(chunk: bytes) -> Iterator[dict[str, Any]]:
    try:
        import orjson

        loads: Callable[[bytes], Any] = orjson.loads
    except ImportError:  # the hot tier may run without the full environment
        loads = json.loads
    for line in chunk.split(b"\n"):
        if not line.strip():
            continue
        try:
            item = loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("k"), str):
            yield item

"""Sessions journaled while the full environment was missing, folded in once it exists.

Stdlib only at import. A hook that runs without the full tier (first run: the environment is
being built) still journals the session's facts; it also notes the session here, under the
plugin data folder (never under a project). The first process that has the environment
(the provisioner right after a successful build, in the new env's python; a full-tier
SessionStart) calls `drain()`, which materializes each noted session and forgets it: a short
first session is then listed with its state and handoff without anyone running a command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from session_state.core import fsutil, paths

MAX_ENTRIES = 200


def folder() -> Path:
    return paths.data_root() / paths.UNFOLDED


def note(project: Path, session_id: str, transcript_path: str | None) -> None:
    """Remember that this session has facts no full-tier process has folded yet."""
    target = folder()
    paths.ensure_dir(target)
    record = {"project": str(project), "session_id": session_id, "transcript_path": transcript_path}
    fsutil.atomic_write(target / f"{paths.safe_id(session_id)}.json", json.dumps(record).encode(), durable=False)


def pending() -> list[tuple[Path, dict[str, Any]]]:
    """The noted sessions (oldest note first), each with its record; unreadable notes are dropped."""
    try:
        entries = sorted(folder().glob("*.json"), key=lambda p: p.stat().st_mtime)[:MAX_ENTRIES]
    except OSError:
        return []
    out = []
    for entry in entries:
        try:
            record = json.loads(entry.read_bytes())
        except (OSError, ValueError):
            record = None
        if (
            isinstance(record, dict)
            and isinstance(record.get("project"), str)
            and isinstance(record.get("session_id"), str)
            and record["session_id"]
            and (record.get("transcript_path") is None or isinstance(record.get("transcript_path"), str))
        ):
            out.append((entry, record))
        else:
            _forget(entry)
    return out


def drain() -> list[str]:
    """Fold every noted session whose project still exists; returns the session ids folded.

    Full tier (imports refresh). A session whose fold fails stays noted for the next try,
    except when its project folder is gone: then there is nothing to fold into.
    """
    entries = pending()
    if not entries:
        return []
    from session_state.core import log
    from session_state.state import materialize as refresh, store

    done = []
    for entry, record in entries:
        project = Path(record["project"])
        if not project.is_dir():
            _forget(entry)
            continue
        stamp = _mtime(entry)
        try:
            # read back from a file: only a transcript inside Claude Code's projects folder is followed
            transcript = paths.trusted_transcript(record.get("transcript_path"))
            refresh.materialize(project, record["session_id"], transcript_path=transcript)
        except store.LockTimeout:
            continue  # someone is folding it right now; the note stays for the next drain
        except Exception as exc:  # noqa: BLE001 - one bad session must not stop the others
            log.write(f"backlog: cannot fold session {record['session_id']}: {exc.__class__.__name__}: {exc}", exc)
            continue
        if _mtime(entry) == stamp:  # noted again while folding: keep it for the next drain
            _forget(entry)
        done.append(record["session_id"])
    return done


def _mtime(entry: Path) -> int | None:
    try:
        return entry.stat().st_mtime_ns
    except OSError:
        return None


def _forget(entry: Path) -> None:
    try:
        os.unlink(entry)
    except OSError:
        pass

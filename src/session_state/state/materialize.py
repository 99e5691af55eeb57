"""Materialize a session: fold its journal into state.json, checkpoint when due, write the handoff.

Full tier. Called in-process by SessionStart, PreCompact, SubagentStop, SessionEnd and the CLI,
and as a detached process started by Stop (`spawn`), so the per-turn hook never pays for
pydantic while the handoff on disk stays current a moment after every turn.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session_state.core import budget as budget_mod
from session_state.state import checkpoints, handoff, lineage, project_files as project, redactor, fold as state, store
from session_state.core import journal, notices, paths, settings
from session_state.core.facts import CHECKPOINT_REQUEST
from session_state.state.models import Checkpoint, SessionState



@dataclass
class Result:
    state: SessionState
    session_dir: Path
    handoff_path: Path | None = None
    checkpoint: Checkpoint | None = None
    recovered: str | None = None
    budget: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def materialize(
    project_dir: Path,
    session_id: str,
    *,
    transcript_path: str | None = None,
    checkpoint: str | None = None,
    facts: list[tuple[str, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    write_handoff: bool = True,
) -> Result:
    """Bring the session's state, checkpoints and handoff up to date with its transcript.

    `checkpoint` names a trigger that must take a checkpoint now; without it one is taken
    only when the state changed and the last one is older than the configured interval.
    """
    cfg = settings.load(project_dir)
    root = paths.state_root(project_dir)
    sdir = paths.session_dir(root, session_id)
    for kind, fact_id, fields in facts:
        journal.record(sdir, kind, fact_id, **fields)
    # transcript parsing happens outside the lock; facts and their texts only through the redactor
    red = redactor.for_settings(cfg, sdir)
    cursor = journal.sync(sdir, transcript_path)
    cursor = _redacted_view(cursor, journal.sync_facts(sdir, transcript_path, red), red)
    budget = budget_mod.compute(cursor, cfg) if cursor.get("offset") else None
    branch, dirty = state.git_status(project_dir)  # never a cwd read from the transcript or a file
    with store.locked(sdir):
        # Unqueued under the lock and before the journal is read: a Stop that appends after
        # this point finds no marker and queues another refresh; one that appended before is
        # folded below. Whoever sees the marker gone and then takes the lock sees this done.
        try:
            os.unlink(sdir / paths.REFRESH_PENDING)
        except FileNotFoundError:
            pass
        recovered = None
        try:
            current = state.load(sdir)
        except store.CorruptFile as exc:
            current, recovered = _recover(sdir, exc)
        if current is None:
            if checkpoints.names(sdir):
                current, recovered = _recover(sdir, None)
            if current is None:
                current = state.new_state(session_id, project_dir)
        records, end = journal.read(sdir, current.journal_offset)
        if end < current.journal_offset:  # the journal was replaced: replay it, ids drop repeats
            records, end = journal.read(sdir, 0)
        seen_before = set(current.seen_ids)
        requested = [
            str(r.get("trigger"))
            for r in records
            if r.get("k") == CHECKPOINT_REQUEST and r.get("id") not in seen_before
        ]
        changed = state.fold(current, records)
        current.journal_offset = end
        if cursor:
            state.apply_cursor(current, cursor, budget)
        new_parent = None
        if "fork" in current.lineage.sources and current.lineage.parent_session_id is None:
            new_parent = lineage.find_fork_parent(
                session_id, transcript_path or paths.trusted_transcript(current.transcript_path), root)
            current.lineage.parent_session_id = new_parent
        if branch is not None:
            current.git_branch, current.git_dirty = branch, dirty
        cp = None
        interval = cfg["checkpoint_interval_s"]
        # one checkpoint per distinct trigger: a budget crossing found by the same hook as a
        # SubagentStop or PreCompact still gets its own, findable by its name
        triggers = list(dict.fromkeys([t for t in [checkpoint, *requested] if t]))
        if not triggers and changed and checkpoints.due(current, interval):
            triggers = ["interval"]
        for trigger in triggers:
            cp = checkpoints.take(sdir, current, trigger, cfg)
        state.save(sdir, current)
    if new_parent:
        lineage.note_fork(root, new_parent, session_id)
    result = Result(state=current, session_dir=sdir, checkpoint=cp, recovered=recovered, budget=budget)
    if write_handoff:
        pkg = handoff.build(current, root, cfg)
        result.handoff_path = handoff.write(sdir, pkg)
        if current.tasks:
            project.write_workflow(root, current)
    return result


def _redacted_view(cursor: dict[str, Any], facts_cursor: dict[str, Any], red: Any) -> dict[str, Any]:
    """The budget cursor as the state sees it: the branch from the facts pass (already
    redacted there), and the model ids and folder through the redactor too."""
    if not cursor:
        return cursor
    view = dict(cursor)
    view["git_branch"] = facts_cursor.get("git_branch")
    for key in ("model_selected", "cwd", "version"):
        if isinstance(view.get(key), str):
            view[key] = red(view[key], 4096)
    if isinstance(view.get("last_usage"), dict) and isinstance(view["last_usage"].get("model"), str):
        view["last_usage"] = {**view["last_usage"], "model": red(view["last_usage"]["model"], 200)}
    return view


def _recover(sdir: Path, exc: store.CorruptFile | None) -> tuple[SessionState | None, str | None]:
    """Restore the latest valid checkpoint after the state file was lost or did not validate."""
    from session_state.core.inert import line

    cp, restored = checkpoints.restore_state(sdir)
    what = f"its state file did not validate ({line(exc.reason)})" if exc else "its state file was missing"
    kept = f"; the bad file is kept as {line(exc.moved_to.name)}" if exc and exc.moved_to else ""
    if cp is None or restored is None:  # restore_state gives both or neither
        message = f"session-state: {what} and no checkpoint was valid; it starts this session's state afresh{kept}."
    else:
        message = (
            f"session-state: {what}; restored checkpoint {line(cp.id)} ({line(cp.created)}) and replayed the journal "
            f"since{kept}."
        )
    from session_state.core import log

    log.write(message)
    notices.post(sdir, f"recovered-{time.time_ns()}", user=message)
    return restored, message


# --- the detached refresh started by Stop (see session_state.core.background.spawn_refresh) ----------


def main() -> None:
    """Entry of the detached refresh: argv = project_dir, session_id, transcript_path."""
    project_dir, session_id, transcript_path = sys.argv[1], sys.argv[2], sys.argv[3] or None
    try:
        result = materialize(Path(project_dir), session_id, transcript_path=transcript_path)
        from session_state.core import fsutil

        if fsutil.QUARANTINED:  # detached: the next hook that can speak tells the user
            notices.post(result.session_dir, f"quarantine-{time.time_ns()}", user=" ".join(fsutil.QUARANTINED))
    except store.LockTimeout:
        pass  # another materialize holds the lock and will fold the same journal
    except Exception as exc:  # noqa: BLE001 - detached: the log is the only place to say it
        from session_state.core import log

        log.write(f"refresh {session_id}: {exc.__class__.__name__}: {exc}", exc)

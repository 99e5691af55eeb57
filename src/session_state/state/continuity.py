"""Which handoff a new context gets, and the claim that gives a cleared session's handoff to one heir.

Full tier. /clear starts a new session id and Claude Code does not say which session it
replaced: the cleared session is the one whose SessionEnd said `clear` (or, if that hook was
killed, the project's most recently active session), and a new session takes its handoff only
by creating its `claimed` marker, which exactly one process can do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_state.state import checkpoints, handoff, materialize as refresh, fold as state, store
from session_state.core import facts, fsutil, journal, paths
from session_state.state.models import HandoffPackage

CLEAR_WINDOW_S = 30 * 60


@dataclass
class Claimed:
    session_id: str
    session_dir: Path
    package: HandoffPackage
    path: Path


def _candidates(root: Path, exclude: str) -> list[tuple[float, Path]]:
    out = []
    for sdir in paths.sessions_dir(root).glob("*"):
        if sdir.name == paths.safe_id(exclude) or sdir.is_symlink() or not sdir.is_dir():
            continue
        if (sdir / paths.CLAIMED).exists():
            continue
        try:
            mtime = max((sdir / name).stat().st_mtime for name in (paths.JOURNAL, paths.HANDOFF) if (sdir / name).exists())
        except ValueError:
            continue
        out.append((mtime, sdir))
    return sorted(out, reverse=True)


def claim_cleared(where: Any) -> Claimed | None:
    """Materialize and claim the handoff of the session this /clear replaced, if any.

    Only a session whose SessionEnd said `clear` qualifies (its first act is to leave the
    `ended.clear` marker): guessing from recency could hand another live session's work
    to this one. Without a qualifying session the caller falls back to a pointer.
    """
    now = time.time()
    for _mtime, sdir in _candidates(where.root, where.session_id):
        marker = sdir / paths.ENDED_BY_CLEAR
        try:
            if now - marker.stat().st_mtime > CLEAR_WINDOW_S:
                continue
        except FileNotFoundError:
            continue
        if not fsutil.create_exclusive(sdir / paths.CLAIMED, where.session_id.encode()):
            continue
        cursor = journal.load_cursor(sdir) or {}
        try:
            st = state.load(sdir)
        except store.CorruptFile:
            st = None
        session_id = st.session_id if st is not None else paths.session_id_of(sdir)
        # the stored path is read only when it is in Claude Code's projects folder: a planted
        # cursor.json must not choose what this hook reads
        result = refresh.materialize(where.project, session_id, transcript_path=paths.trusted_transcript(cursor.get("path")),
                                     facts=[(facts.CLEARED_INTO, facts.event_id("cleared_into", where.session_id),
                                             {"session_id": where.session_id})])
        pkg = handoff.build(result.state, where.root, where.settings)
        return Claimed(session_id, sdir, pkg, result.handoff_path or sdir / paths.HANDOFF)
    return None


def inheritance(claimed: Claimed) -> tuple[str, str, dict[str, Any]]:
    """The journal fact by which a session started by /clear takes over its predecessor's work.

    Folded into the new session's own state, so its handoff carries the goal, the requests, the
    task list (open and done) and the chain of sessions on to whatever /clear or compaction comes
    next. Decisions are the project's (decisions.toon) and reach every session's handoff anyway.
    """
    pkg = claimed.package
    return (facts.INHERIT, facts.event_id("inherit", claimed.session_id), {
        "session_id": claimed.session_id,
        "how": "cleared",
        "goal": pkg.task_context.goal,
        "requests": [r.model_dump() for r in pkg.task_context.requests],
        "tasks": [{"id": f"done-{n}", "subject": subject, "status": "completed"} for n, subject in enumerate(pkg.task_context.completed_steps)]
        + [t.model_dump() for t in pkg.context_snapshot.active_todos],
        "chain": pkg.session_context.chain,
    })


IDLE_S = 10 * 60


def latest_unclaimed(where: Any, max_age_h: float) -> tuple[Path, HandoffPackage] | None:
    """The newest handoff a new session may be pointed at.

    Only sessions that ended (not by /clear: that handoff is its heir's) or have been idle
    for a while: a session still running, or one being cleared right now, is not work to pick up.
    """
    now = time.time()
    for mtime, sdir in _candidates(where.root, where.session_id):
        if now - mtime > max_age_h * 3600:
            break
        if (sdir / paths.ENDED_BY_CLEAR).exists() or not ((sdir / paths.ENDED).exists() or now - mtime > IDLE_S):
            continue
        try:
            pkg = handoff.read(sdir)
        except (ValueError, OSError):
            continue
        if pkg is not None and _has_work(pkg):
            return sdir / paths.HANDOFF, pkg
    return None


def _has_work(pkg: HandoffPackage) -> bool:
    """A handoff worth pointing at records a request or a task (not a session that just began)."""
    snap, task = pkg.context_snapshot, pkg.task_context
    return bool(task.requests or task.goal or snap.active_todos or task.completed_steps)


def _budget_line(result: refresh.Result, reported: int | None = None) -> str:
    b = result.budget
    if not b or (b.get("context_tokens") is None and reported):
        # a fork or resume whose transcript is not readable yet: Claude Code's own figure
        return f"context {reported:,} tokens (as Claude Code reported it)" if reported else "context unknown"
    if b.get("percent") is None:
        return "context unknown since the last compaction" if b.get("compacted") else "no response yet in this session"
    left = b.get("tokens_to_autocompact")
    room = f", {left:,} tokens before auto-compaction" if isinstance(left, int) else ""
    return f"context {b['percent']:.0f}% of {b['context_window']:,} ({b.get('level')}){room}"


def context_for(source: str, where: Any, result: refresh.Result, claimed: Claimed | None, cap: int,
                reported_tokens: int | None = None) -> str:
    """The text SessionStart injects for `source`; every id and path in it is an inert line."""
    from session_state.state import compact_summary, inject
    from session_state.core.inert import line as q

    own_path = result.handoff_path or where.session_dir / paths.HANDOFF
    own = q(str(own_path))
    if source == "compact":
        pkg = handoff.build(result.state, where.root, where.settings)
        summary = compact_summary.load(where.session_dir)
        if summary is None:
            return inject.render(pkg, own_path, cap, heading=inject.COMPACTED_HEADING)
        covered, _ = compact_summary.coverage(pkg, summary.text)
        return inject.render(pkg, own_path, cap, covered=set(covered),
                             heading="session-state handoff: the conversation was just compacted. First what Claude "
                             "Code's summary left out, then, in brief, what it kept.")
    if source == "clear":
        if claimed is None:
            return context_for("startup", where, result, None, cap)
        return inject.render(
            claimed.package, claimed.path, cap,
            heading=f"session-state handoff from the session before /clear ({q(claimed.session_id)}): this session continues its work.",
        )
    if source == "startup":
        found = latest_unclaimed(where, where.settings["startup_pointer_max_age_h"])
        if found is None:
            return ""
        path, pkg = found
        age = checkpoints.age_seconds(pkg.timestamp)
        # No task or next step here: a session starting while another is being cleared can run
        # before that one's SessionEnd (measured on 2.1.330), and must not receive its content.
        return (
            f"session-state: the previous session here ({q(pkg.session_context.session_id)}, {_age(age)} ago) left a "
            f"handoff (file {q(str(path))}). If this session continues that work, run "
            f"`{inject.show_command(pkg.session_context.session_id)}`."
        )
    if source == "fork":
        parent = result.state.lineage.parent_session_id
        of = f"a fork of session {q(parent)}" if parent else "a fork"
        return f"session-state: this session is {of}; {_budget_line(result, reported_tokens)}. Its handoff: {own}"
    if source == "resume":
        return f"session-state: resumed session {q(where.session_id)}; {_budget_line(result, reported_tokens)}. Handoff: {own}"
    return ""


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"

"""SessionStart: rebuild the state and give the new context what it needs, by source.

compact → this session's handoff, led by what Claude Code's summary dropped when the summary
is known (see compact_summary); clear → the work of the session just cleared, claimed so only one
new session takes it and inherited into this session's own state; startup → a one-line pointer to the
project's latest unclaimed handoff when recent; resume / fork → a pointer plus the budget.
The same text is never injected twice for one session and source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from session_state.hooks import events

TYPE_CHECKING = False
if TYPE_CHECKING:
    from session_state.core.turn import Where


def validate(payload: object) -> events.SessionStart:
    return events.SessionStart.model_validate(payload)


def handle(inp: events.SessionStart) -> dict[str, Any] | None:
    from session_state.state import checkpoints, project_files as project, materialize as refresh, shared
    from session_state.core import facts, inert, journal, launcher, notices, paths
    from session_state.hooks import output
    from session_state.state import continuity
    from session_state.core import turn

    where = turn.locate(inp.session_id, inp.cwd)
    source = inp.source or "startup"
    launcher.expose_cli()
    _fold_backlog()
    if source == "resume":  # running again: no longer a finished session to point others at
        try:
            (where.session_dir / paths.ENDED).unlink()
        except FileNotFoundError:
            pass
    now = journal.now_iso()
    from session_state.state import redactor

    fields: dict[str, Any] = {"source": source, "model": redactor.for_settings(where.settings)(inp.model, 200) if inp.model else None}
    inherited: list[tuple[str, str, dict[str, Any]]] = []
    claimed = None
    if source == "clear":
        claimed = continuity.claim_cleared(where)
        if claimed is not None:
            fields["previous_session_id"] = claimed.session_id
            inherited.append(continuity.inheritance(claimed))
    turn.record_turn(where, "SessionStart", inp.transcript_path, reported=inp.context_window, spawn=False)
    result = refresh.materialize(
        where.project,
        inp.session_id,
        transcript_path=inp.transcript_path,
        facts=[(facts.SESSION_START, facts.event_id("start", source, now), fields), *inherited],
    )
    if source == "startup":
        project.write_context(where.root, where.project)
        checkpoints.prune(where.root, where.settings)
    cap = where.settings["inject_cap_chars"]
    text = continuity.context_for(source, where, result, claimed, cap, inp.context_tokens)
    # labelled as the repository's, never the user's, and redacted like everything injected
    repository = shared.render(where.project, SHARED_CAP, redactor.for_settings(where.settings, where.session_dir))
    if repository:
        text = f"{text}\n\n{repository}" if text else repository
    project_config_notice(where)
    user, model_note = notices.merge(notices.take(where.session_dir))
    if model_note:
        text = f"{text}\n\n{model_note}" if text else model_note
    if text and not first_injection(where.session_dir, source, text):
        text = ""
    if text:
        text = inert.block(text)  # escaped before it is cut, so escaping cannot push it past the limit
        return output.context("SessionStart", text[: output.CONTEXT_HARD_LIMIT - 1], user)
    if user:
        return output.notice(user)
    return None


REFIRE_WINDOW_S = 120.0
SHARED_CAP = 2000


def project_config_notice(where: Where) -> None:
    """Tell the user once per session which keys of the project's config file were ignored, and why."""
    from session_state.core import paths

    if not paths.project_config_path(where.project).is_file():
        return
    import hashlib

    from session_state.state import config
    from session_state.core import notices

    ignored = config.ignored_project_keys(where.project)
    if ignored:
        key = "project-config-" + hashlib.sha256("\n".join(ignored).encode()).hexdigest()[:16]
        notices.post(where.session_dir, key, user="session-state: " + " ".join(ignored))


def first_injection(session_dir: Path, source: str, text: str) -> bool:
    """False when the same text was injected for this source moments ago.

    SessionStart can fire twice for one start (seen on resume in some versions); that copy is
    dropped. A later start with the same text (a second compaction with nothing changed in
    between) is injected again: the first injection was summarised away with the rest.
    """
    import hashlib

    from session_state.core import fsutil, paths

    markers = paths.markers_dir(session_dir)
    paths.ensure_dir(markers)
    marker = markers / f"{paths.INJECT_MARKER}{paths.safe_id(source)}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"
    return fsutil.create_exclusive_or_stale(marker, REFIRE_WINDOW_S)  # of several late starts racing, one injects


def _fold_backlog() -> None:
    """Fold sessions journaled while the environment was being built (this hook has it now)."""
    from session_state.core import backlog, log

    try:
        backlog.drain()
    except Exception as exc:  # noqa: BLE001 - the start of this session matters more
        log.write("SessionStart: could not fold the sessions journaled before the environment", exc)

"""Runs one hook: stdin → handler → the JSON the event accepts → exit 0.

Stdlib only at import. The runner never lets an internal error reach Claude Code as a
failure: it exits 0 with empty stdout, writes one stderr line naming the plugin and its log
file, and puts the traceback in that log. Input that cannot be used is logged and ignored:
nothing the session already saved is touched because one payload was bad.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from typing import Any, NoReturn

TYPE_CHECKING = False
if TYPE_CHECKING:  # names for annotations only: pydantic is never imported here at run time
    from session_state.core.turn import Where
    from session_state.hooks import events, inputs

    # what a handler's validate() returns: a checked typed dict (stdlib hooks) or a model
    Validated = inputs.HookInput | events.HookInput
    # what a handler's handle() returns: hook JSON, PreCompact's plain text, or nothing
    Result = dict[str, Any] | str | None

HANDLERS = {
    "SessionStart": "session_start",
    "UserPromptSubmit": "user_prompt_submit",
    "PreCompact": "pre_compact",
    "PostCompact": "post_compact",
    "Stop": "stop",
    "SubagentStop": "subagent_stop",
    "SessionEnd": "session_end",
}
MAX_STDIN = 16 * 1024 * 1024
# ELOOP: a symlinked state folder that could not be moved aside; the session goes on without state
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ELOOP}


def run(event: str, raw: bytes) -> str:
    """The stdout for one hook run ("" for nothing); raises only on internal errors."""
    module_name = HANDLERS.get(event)
    if module_name is None:
        _log(f"{event}: not an event session-state handles; ignored")
        return ""
    try:
        raw_payload: object = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        _log(f"{event}: hook input is not usable JSON ({exc.__class__.__name__}: {str(exc)[:120]}); ignored")
        return ""
    if b"\\u" in raw:  # only escaped text can hold a lone surrogate or a NUL: scrub it once here
        raw_payload = _scrub(raw_payload)
    from session_state.hooks.inputs import InputError

    try:
        __import__(f"session_state.hooks.{module_name}")  # importlib itself would cost a module load
        handler = sys.modules[f"session_state.hooks.{module_name}"]
        try:
            payload: Validated = handler.validate(raw_payload)
        except (InputError, ValueError) as exc:
            _log(f"{event}: hook input rejected: {str(exc)[:300]}")
            return ""
        try:
            result: Result = handler.handle(payload)
        except OSError as exc:
            if exc.errno not in _STORAGE_ERRNOS:
                raise
            return _storage_failure(event, payload, exc)
    except ModuleNotFoundError as exc:
        from session_state.core import requirements

        if (exc.name or "").split(".")[0] not in requirements.FULL_TIER:
            raise
        return _without_environment(event, raw_payload)
    return render(_with_quarantine_notice(event, payload, result))


def _with_quarantine_notice(event: str, payload: Validated, result: Result) -> Result:
    """Say once what this run set aside (a corrupt, non-UTF-8 or symlinked state file, lock or
    folder): the file is gone from its place, so the next run will not say it again.

    Every event accepts a systemMessage; PreCompact's plain stdout is the compaction prompt,
    so there the notice waits in the session's queue for the next hook that can speak.
    """
    from session_state.core import fsutil

    if not fsutil.QUARANTINED:
        return result
    message = " ".join(fsutil.QUARANTINED)
    fsutil.QUARANTINED.clear()
    if isinstance(result, str):
        _queue_notice(payload, message)
        return result
    if result is None:
        from session_state.hooks import output

        return output.notice(message)
    if isinstance(result, dict):
        from session_state.core.inert import block

        joined = f"{result['systemMessage']} {message}" if result.get("systemMessage") else message
        return {**result, "systemMessage": block(joined)}
    return result


def _queue_notice(payload: Validated, message: str) -> None:
    from session_state.core import notices, paths

    session_id, cwd = _identity(payload)
    try:
        root = paths.state_root(paths.project_dir(cwd))
        notices.post(paths.session_dir(root, session_id), f"quarantine-{time.time_ns()}", user=message)
    except OSError:
        pass  # the log has it


def _identity(payload: Validated) -> tuple[str, str | None]:
    """The session id and cwd of validated input, a typed dict or a model."""
    if isinstance(payload, dict):
        return payload["session_id"], payload["cwd"]
    return payload.session_id, payload.cwd


def _without_environment(event: str, payload: object) -> str:
    """The full tier's packages are not here (yet): keep the thread with the standard library.

    The budget needs only the standard library, so it keeps being recorded, and the session
    is noted for the first process that has the environment to fold in
    (session_state.core.backlog). The `session-state` command is put in place. After a
    compaction or /clear the model gets a basic handoff (task list, requests, files) read from
    the transcript with the built-in redaction rules (core.basic_handoff); SessionStart tells
    the user, in one line, why the environment is not there and what fixes it.
    """
    from session_state.core import backlog, launcher
    from session_state.bootstrap import launch
    from session_state.core import turn
    from session_state.hooks.inputs import common

    status = launch.start_provisioning()
    _log(f"{event}: dependencies missing in {sys.executable}; provisioning: {status}")
    try:
        inp = common(payload)
        where = turn.locate(inp["session_id"], inp["cwd"])
        turn.record_turn(where, event, inp["transcript_path"], reported=inp["context_window"], spawn=False)
        backlog.note(where.project, where.session_id, inp["transcript_path"])
    except (ValueError, OSError) as exc:
        _log(f"{event}: could not record the turn without the environment: {exc}")
        return ""
    # SessionEnd's `ended.clear` marker is already written: session_end.handle writes it with the
    # stdlib before it reaches the full tier
    if event == "SessionStart":
        launcher.expose_cli()
    # SessionStart's one own field, compared as raw JSON (common() checked the object)
    source = payload.get("source") if event == "SessionStart" and isinstance(payload, dict) else None
    context = _basic_context(event, inp["transcript_path"], source, where)
    if event == "PreCompact":  # plain stdout is added to the summariser's instructions
        return PRESERVE + context + "\n" if context else ""
    message = launch.notice(status) if event == "SessionStart" else None
    from session_state.hooks import output

    if context:
        return render(output.context("SessionStart", context[: output.CONTEXT_HARD_LIMIT - 1], message))
    return render(output.notice(message)) if message else ""


def _basic_context(event: str, transcript_path: str | None, source: object, where: Where) -> str:
    """The basic handoff to inject (SessionStart compact / clear), or "" (also written at PreCompact)."""
    from session_state.core import basic_handoff

    extra = where.settings["redact_extra"]
    cap = where.settings["inject_cap_chars"]
    try:
        if event == "PreCompact":
            _, text = basic_handoff.write(where.session_dir, BASIC_HEADING, extra, transcript_path)
            return text
        if event != "SessionStart":
            return ""
        if source == "compact":
            path, text = basic_handoff.write(where.session_dir, BASIC_HEADING, extra, transcript_path)
        elif source == "clear":
            cleared = basic_handoff.cleared_session(where.root, where.session_id)
            if cleared is None:
                return ""
            path, text = basic_handoff.write(cleared, BASIC_CLEAR_HEADING, extra)
        else:
            return ""
    except OSError as exc:
        _log(f"{event}: cannot write the basic handoff: {exc}")
        return ""
    from session_state.core.inert import line

    tail = f"\n(saved at {line(str(path))})"
    return text[: cap - len(tail)] + tail


PRESERVE = "session-state: the summary must preserve, in its own section, the task list with each item's status, the latest requests and the files in play:\n\n"
BASIC_HEADING = (
    "session-state handoff (basic: the plugin's full environment is not available yet): the conversation "
    "was just compacted; this is the saved state of the work."
)
BASIC_CLEAR_HEADING = (
    "session-state handoff (basic: the plugin's full environment is not available yet) from the session "
    "before /clear: continue from here."
)


_PATH_FIELDS = ("transcript_path", "cwd", "agent_transcript_path")


def _scrub(value: object, key: str = "") -> object:
    """Make escaped text safe to write: a lone surrogate (Node writes a string cut inside an
    emoji as valid JSON) becomes "?", and a path holding NUL, which no system call accepts,
    is dropped as unusable rather than failing every file operation that would follow."""
    if isinstance(value, str):
        if key in _PATH_FIELDS and "\x00" in value:
            _log(f"hook input: {key} holds a NUL byte; treated as absent")
            return None
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v, k if isinstance(k, str) else "") for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def render(result: Result) -> str:
    if result is None or result == "":
        return ""
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False)


def _storage_failure(event: str, payload: Validated, exc: OSError) -> str:
    """A full disk or read-only state folder: say so to the user once per session, go on."""
    path = _log(f"{event}: cannot write state: {exc}", exc)
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    session, _ = _identity(payload)
    from session_state.core import paths
    from session_state.core.fsutil import create_exclusive

    first = True
    try:
        notices = paths.data_notices()
        paths.ensure_dir(notices)
        first = create_exclusive(notices / f"storage-{paths.safe_id(session)}-{exc.errno}")
    except OSError:
        pass
    if not first:
        return ""
    where = getattr(exc, "filename", None) or "its state folder"
    return render(
        {"systemMessage": f"session-state cannot save this session's state ({reason}: {where}); "
         f"the session goes on without it. Details: {path}"}
    )


def _log(message: str, exc: BaseException | None = None) -> str:
    from session_state.core import log

    return log.write(message, exc)


def main(event: str) -> NoReturn:
    """Entry point used by bin/_run.py; always exits 0."""
    started = time.perf_counter()
    out = ""
    try:
        raw = sys.stdin.buffer.read(MAX_STDIN)
        out = run(event, raw)
    except BaseException as exc:  # noqa: BLE001 - a hook must never fail the session
        out = ""
        path = _log(f"{event}: internal error: {exc.__class__.__name__}: {exc}", exc)
        try:
            sys.stderr.write(f"session-state: {event} hook failed internally; see {path}\n")
        except Exception:
            pass
    if out:
        try:
            sys.stdout.write(out)
            sys.stdout.flush()
        except Exception:
            pass
    if os.environ.get("SESSION_STATE_TIMING"):
        _log(f"{event}: {1000 * (time.perf_counter() - started):.1f} ms")
    sys.stdout.flush()
    os._exit(0)

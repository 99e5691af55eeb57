"""What every hook does with a turn: sync the transcript, judge the budget, queue notices.

Stdlib only (hot tier). Shared by Stop and UserPromptSubmit, and by the full-tier hooks
before they materialize, so that budget crossings are detected the same way everywhere.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from session_state.core import budget, facts, forecast, fsutil, journal, notices, paths, settings
from session_state.core.settings import Settings



class Where:
    """Where one hook's session lives (plain class: `dataclasses` costs ~6 ms to import)."""

    __slots__ = ("session_id", "project", "root", "session_dir", "settings")

    def __init__(self, session_id: str, project: Path, root: Path, session_dir: Path, settings: Settings) -> None:
        self.session_id = session_id
        self.project = project
        self.root = root
        self.session_dir = session_dir
        self.settings = settings


class Outcome:
    __slots__ = ("budget", "crossed", "critical_block")

    def __init__(self, budget: dict[str, Any] | None, crossed: list[str] | None = None) -> None:
        self.budget = budget
        self.crossed = crossed or []
        self.critical_block: str | None = None


def locate(session_id: str, cwd: str | None) -> Where:
    """The session's folders and settings, from the hook input's `session_id` and `cwd`."""
    project = paths.project_dir(cwd)
    root = paths.state_root(project)
    return Where(session_id, project, root, paths.session_dir(root, session_id), settings.load(project))


FLUSH_WAIT_S = 1.5  # spent only while the reply is not on disk; Stop's timeout is 10 s
_TAIL_BYTES = 256 * 1024


def await_flush(transcript_path: str | None, message: str | None, timeout: float = FLUSH_WAIT_S) -> bool:
    """Wait (bounded) until the transcript holds the reply that Stop is reporting.

    Measured on 2.1.330: Stop can start before Claude Code has written the turn's last
    assistant line (in `-p` runs most of all), and the budget would then lag a whole
    response. The reply is on disk when its text, escaped as JSON writes it, appears after
    the newest typed prompt: after the prompt, because a short reply ("Done.") is often
    word for word an earlier one. A new session's transcript file may not exist yet at all
    when its first Stop starts (measured on 2.1.330 in `-p`): that is waited for too.
    """
    needle = _escaped_tail(message or "")
    if not needle or not transcript_path:
        return True
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            tail = fsutil.read_tail(transcript_path, _TAIL_BYTES) or b""
        except OSError:
            return False
        at = tail.rfind(needle)
        if at >= 0 and at > _last_prompt_at(tail):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


_NEEDLE_CHARS = 120
_USER_LINE = re.compile(rb'"type":\s*"user"')


def _escaped_tail(message: str) -> bytes:
    """The reply's last characters as they appear inside a JSON string on disk."""
    import json

    text = message.rstrip()[-_NEEDLE_CHARS:]
    if not text.strip():
        return b""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8", "replace")


def _last_prompt_at(tail: bytes) -> int:
    """Offset in `tail` of the newest line holding a typed user prompt (-1: none in the tail)."""
    import json

    end = len(tail)
    while end > 0:
        start = tail.rfind(b"\n", 0, end - 1) + 1
        line = tail[start:end]
        if _USER_LINE.search(line):
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and _is_prompt(obj):
                return start
        end = start - 1 if start > 0 else 0
    return -1


def _is_prompt(obj: dict[str, Any]) -> bool:
    if obj.get("isMeta") or obj.get("isSidechain") or obj.get("isCompactSummary"):
        return False
    message = obj.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return True
    return isinstance(content, list) and not any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def record_turn(
    where: Where, event: str, transcript_path: str | None, *,
    reported: object = None, stop_hook_active: bool = False, spawn: bool = True,
) -> Outcome:
    """Sync the transcript, judge the budget and queue its notices; Stop also starts the refresh.

    `reported` is the hook input's `context_window`: 2.1.330 sends none, a newer Claude Code's
    figures would win over the transcript's (and say so). `stop_hook_active` is Stop's own flag:
    a Stop already continuing because of a block is never blocked again.
    """
    cursor = journal.sync(where.session_dir, transcript_path)
    if not cursor.get("offset"):
        return Outcome(None)
    current = budget.compute(cursor, where.settings)
    current = budget.with_reported(current, reported, where.settings, "hook input", cursor.get("turns"))
    crossed = budget.record(where.session_dir, current, event)
    epoch = int(cursor.get("compactions") or 0)
    for level in crossed:
        if level in ("warning", "critical"):
            _announce(where, current, level, epoch)
            journal.record(where.session_dir, facts.CHECKPOINT_REQUEST, facts.event_id("checkpoint", epoch, level),
                           trigger=f"budget-{level}")
    outcome = Outcome(current, crossed)
    if (
        event == "Stop"
        and current.get("level") == "critical"
        and where.settings["stop_block_at_critical"]
        and not stop_hook_active
    ):
        markers = paths.markers_dir(where.session_dir)
        paths.ensure_dir(markers)
        if fsutil.create_exclusive(markers / f"{paths.STOP_BLOCK_MARKER}{epoch}"):
            outcome.critical_block = (
                f"session-state: context is at {current.get('percent', 0):.0f}% of the window (critical). "
                "Before stopping, update the handoff's next steps: record any decision with "
                "`session-state decide \"<choice>\" --why \"<reason>\"` and state in one short message what "
                "remains to be done, so that the work survives compaction."
            )
    if spawn:
        from session_state.core.background import spawn_refresh

        python = full_python()
        if python is None:
            from session_state.bootstrap import launch

            launch.start_provisioning()  # the refresh runs once the environment is ready
        spawn_refresh(where.project, where.session_id, transcript_path, python)
    return outcome


def _announce(where: Where, current: dict[str, Any], level: str, epoch: int) -> None:
    pct = current.get("percent") or 0.0
    window = current.get("context_window") or 0
    left = current.get("tokens_to_autocompact")
    room = f"about {left:,} tokens before auto-compaction" if isinstance(left, int) else "little room left"
    turns_left = forecast.phrase(current.get("turns_forecast"))
    if turns_left:
        room += f", {turns_left} at this session's pace"
    from session_state.core.inert import line

    handoff_path = line(str(where.session_dir / paths.HANDOFF))
    model = (
        f"session-state: context is at {pct:.0f}% of the {window:,}-token window ({level}; {room}). "
        f"The handoff at {handoff_path} is kept current. Finish the step you are on, record decisions with "
        "`session-state decide \"<choice>\" --why \"<reason>\"`, keep replies short, and prefer /compact "
        "(or a fresh session that reads the handoff) before starting anything large."
    )
    user = f"session-state: context {pct:.0f}% ({level}), {room}; handoff is current."
    notices.post(where.session_dir, f"budget-{epoch}-{level}", user=user, model=model)


def full_python() -> str | None:
    """An interpreter that has the full tier's dependencies, for the detached refresh.

    This one first: an installed plugin's hooks already run in its ready environment (bin/ss-hook
    starts the python its `by-lock` pointer names), and asking the import system costs about a
    millisecond where proving another environment ready costs Stop the hashlib import (2 ms).
    """
    from session_state.bootstrap import launch

    if launch.deps_importable():
        return sys.executable
    return launch.ready_python()

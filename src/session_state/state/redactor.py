"""The one redaction step: all conversation text passes here before it is written or injected.

Full tier. Three layers, in order:
1. `redact.redact_text` (stdlib): `<private>` spans, then the forms detectors miss (URL
   credentials with any characters, password flags on command lines, "the password is"
   prose, cookies, presigned URL signatures, base64-wrapped keys, secret-named assignments).
2. `detector.redact`: token kinds found by detect-secrets, a maintained detector.
3. The user's `redact_extra` patterns, each run by the `regex` package with a time limit. A
   pattern that exceeds it (catastrophic backtracking such as `^(\\w+\\s?)*$`) is disabled for
   good: one marker file under the plugin data folder, one log line and one notice to the user,
   so it can never again hold a hook until its timeout or keep the cursor from being saved.

Where the full environment does not exist yet (first run), `redact.redact_text` alone applies;
that fallback says so in what it writes (`redact.FALLBACK_LABEL`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from session_state.state import detector
from session_state.core import facts, fsutil, paths, redact
from session_state.core.settings import Settings

PATTERN_TIMEOUT_S = 0.1
_MARK = "[REDACTED:custom]"

_compiled: dict[str, Any] = {}
_disabled: set[str] = set()


def _key(pattern: str) -> str:
    return hashlib.sha256(pattern.encode("utf-8", "replace")).hexdigest()[:16]


def _disabled_marker(pattern: str) -> Path:
    return paths.data_root() / paths.DISABLED_PATTERNS / _key(pattern)


def is_disabled(pattern: str) -> bool:
    """True once `pattern` has exceeded its time limit in any process."""
    if pattern in _disabled:
        return True
    if _disabled_marker(pattern).exists():
        _disabled.add(pattern)
        return True
    return False


def _disable(pattern: str, session_dir: Path | None) -> None:
    """Stop using a pattern that ran out of time: exactly one log line and one notice."""
    from session_state.core import log

    _disabled.add(pattern)
    marker = _disabled_marker(pattern)
    try:
        paths.ensure_dir(marker.parent)
        first = fsutil.create_exclusive(marker, pattern.encode("utf-8", "replace"))
    except OSError:
        first = False
    if not first:
        return
    shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
    message = (
        f"session-state: the redact_extra pattern {shown!r} took longer than {PATTERN_TIMEOUT_S * 1000:.0f} ms "
        "on one text and is now disabled; rewrite it without nested repetition (then delete "
        f"{marker} to enable it again)."
    )
    log.write(message)
    if session_dir is not None:
        from session_state.core import notices

        try:
            notices.post(session_dir, f"pattern-timeout-{_key(pattern)}", user=message)
        except OSError:
            pass


def _compile(pattern: str) -> Any:
    """The compiled pattern, or None when it is invalid (config validation reports those)."""
    if pattern not in _compiled:
        import regex

        try:
            _compiled[pattern] = regex.compile(pattern)
        except (regex.error, TypeError, ValueError, OverflowError):
            _compiled[pattern] = None
    return _compiled[pattern]


def apply_patterns(text: str, extra: Sequence[str], session_dir: Path | None = None) -> str:
    """`text` with every match of the user's patterns replaced, each run under a time limit."""
    for pattern in extra:
        if not isinstance(pattern, str) or not pattern or is_disabled(pattern):
            continue
        compiled = _compile(pattern)
        if compiled is None:
            continue
        try:
            text = compiled.sub(_MARK, text, timeout=PATTERN_TIMEOUT_S)
        except TimeoutError:
            _disable(pattern, session_dir)
    return text


def redact_text(text: str, extra: Sequence[str] = (), session_dir: Path | None = None) -> str:
    """`text` after the one redaction step (private spans, built-in rules, detector, user patterns)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text:
        return text
    text = detector.redact(redact.redact_text(text))
    return apply_patterns(text, extra, session_dir) if extra else text


def capped(text: str, limit: int, extra: Sequence[str] = (), session_dir: Path | None = None) -> str:
    """The first `limit` characters of the redacted `text`, without redacting megabytes the
    limit would drop anyway (a 15 MB subagent message must not hold SessionStart)."""
    return redact_text((text or "")[: limit + facts.REDACT_MARGIN], extra, session_dir)[:limit]


def redact_obj(obj: Any, extra: Sequence[str] = (), session_dir: Path | None = None) -> Any:
    """A copy of JSON-like data with every string through `redact_text`, and the value of a
    secret-named key replaced whole (see `redact.redact_obj`)."""
    return redact.redact_obj(obj, text=lambda s: redact_text(s, extra, session_dir))


def for_settings(cfg: Settings, session_dir: Path | None = None) -> Callable[..., str]:
    """The redaction function for one session, the configured patterns bound in:
    `run(text)`, or `run(text, limit)` for the first `limit` characters (see `capped`)."""
    extra = tuple(p for p in cfg["redact_extra"] if isinstance(p, str))

    def run(text: str, limit: int | None = None) -> str:
        if limit is not None:
            return capped(text, limit, extra, session_dir)
        return redact_text(text, extra, session_dir)

    return run

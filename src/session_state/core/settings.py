"""The effective configuration as plain data, cheap enough for every turn, and the one place
every setting's type and default is written.

Stdlib only. `Settings` declares each key and its type, `DEFAULTS` its default; the pydantic
model in `session_state.state.config` takes its defaults from here (tests/test_settings.py
proves the two agree key by key) and adds what each key accepts. The configuration files are
validated there, and the effective values written to a cache stamped with the files' size and
mtime; the hot path reads that cache and calls the validator only when a file changed. Bad
configuration never stops a hook: the defaults apply and the error is reported once (see
config.py). Every loaded mapping holds every key, so callers index it directly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict, cast


class Thresholds(TypedDict):
    """Budget levels, percent of the context window."""

    monitor: float
    warning: float
    critical: float


class Settings(TypedDict):
    """Every setting and its type; `state.config.Config` says what each accepts."""

    thresholds: Thresholds
    context_window: int | None
    autocompact_pct: float | None
    checkpoint_interval_s: int
    checkpoints_keep: int
    archive_after_days: float
    project_cap_bytes: int
    inject_cap_chars: int
    startup_pointer_max_age_h: float
    available_tokens_floor: int
    stop_block_at_critical: bool
    redact_extra: list[str]
    prices: dict[str, dict[str, float]]


DEFAULTS: Settings = {
    "thresholds": {"monitor": 60.0, "warning": 75.0, "critical": 85.0},
    "context_window": None,
    "autocompact_pct": None,
    "checkpoint_interval_s": 600,
    "checkpoints_keep": 20,
    "archive_after_days": 7.0,
    "project_cap_bytes": 50_000_000,
    "inject_cap_chars": 9000,
    "startup_pointer_max_age_h": 24.0,
    "available_tokens_floor": 30000,
    "stop_block_at_critical": False,
    "redact_extra": [],
    "prices": {},
}


def defaults() -> Settings:
    """A copy of DEFAULTS the caller may change: its lists and dicts are its own (the defaults
    nest one level deep; `copy.deepcopy` would cost the hot path a millisecond of imports)."""
    return cast(Settings, {k: type(v)(v) if isinstance(v, (dict, list)) else v for k, v in DEFAULTS.items()})


def stamp(paths: list[Path]) -> list[list[Any]]:
    """Size and mtime of each config file (absent files count too), for cache validity."""
    out: list[list[Any]] = []
    for path in paths:
        try:
            st = path.stat()
            out.append([str(path), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([str(path), None, None])
    return out


def load(project: Path) -> Settings:
    """Effective settings for `project`: the validated cache when current, else re-validate."""
    from session_state.core import paths

    files = [paths.user_config_path(), paths.project_config_path(project)]
    current = stamp(files)
    if not any(size is not None for _, size, _ in current) and not env_overrides():
        return defaults()
    cache = paths.state_root(project, create=False) / paths.CONFIG_CACHE
    try:
        cached = json.loads(cache.read_bytes())
        if cached.get("stamp") == current and cached.get("env") == env_overrides():
            return cast(Settings, {**defaults(), **cached["values"]})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    try:
        from session_state.state import config
    except ImportError:
        return defaults()
    return config.effective(project)


def problems(project: Path) -> list[str]:
    """The configuration errors behind `load(project)` (plain-word lines), [] when all is valid."""
    from session_state.core import paths

    if not any(size is not None for _, size, _ in stamp([paths.user_config_path(), paths.project_config_path(project)])) \
            and not env_overrides():
        return []
    load(project)  # brings the cache up to date when a file changed
    try:
        cached = json.loads((paths.state_root(project, create=False) / paths.CONFIG_CACHE).read_bytes())
        errors = cached.get("errors") or []
    except (OSError, ValueError, AttributeError):
        try:
            from session_state.state import config
        except ImportError:
            return []
        return config.resolve(project)[2]
    return [str(e) for e in errors]


ENV_PREFIX = "SESSION_STATE_"


def env_overrides() -> dict[str, str]:
    """Environment variables that override a setting for one run (SESSION_STATE_<KEY>)."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):].lower() in DEFAULTS
    }

"""Configuration files, validated: one per user, one per project (the project's wins, but only
for the keys in PROJECT_KEYS), and SESSION_STATE_<KEY> environment variables for one run (they
win over both).

The user's file (~/.claude/session-state.json) is trusted. The project's file comes with the
repository, which may be a stranger's: it may only set keys that cannot weaken the user's
protection or cost the user anything, within bounds measured against the user's own value, and
its `redact_extra` patterns add to the user's, never replace them. Any other key is ignored
with one notice naming the file, the key and why (REFUSED).

A bad value never stops a hook: the error names the file, the key, the value and what is
accepted; that key falls back to its default and every other key keeps its value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from session_state.core import fsutil, paths, settings


LEVELS = ("monitor", "warning", "critical")


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monitor: float = Field(settings.DEFAULTS["thresholds"]["monitor"], gt=0, lt=100)
    warning: float = Field(settings.DEFAULTS["thresholds"]["warning"], gt=0, lt=100)
    critical: float = Field(settings.DEFAULTS["thresholds"]["critical"], gt=0, lt=100)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        """The levels given must rise. One layer may give only some (a project lowering `critical`
        below the user's own levels): the others are the layers' before it, not these defaults,
        and `_resolve` checks the merge, which gives all three."""
        given = [getattr(self, level) for level in LEVELS if level in self.model_fields_set]
        if any(low >= high for low, high in zip(given, given[1:])):
            raise ValueError(
                f"must rise: monitor < warning < critical (got {', '.join(str(v) for v in given)})"
            )
        return self


class ModelPrice(BaseModel):
    """One model's rates in USD per million tokens (the shape of data/prices.json)."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write_5m: float = Field(ge=0)
    cache_write_1h: float = Field(ge=0)
    cache_read: float = Field(ge=0)


_D = settings.DEFAULTS


class Config(BaseModel):
    """Every setting and what it accepts, its default taken from `settings.DEFAULTS` (the hot
    tier's); `session-state config show` prints them."""

    model_config = ConfigDict(extra="forbid")

    thresholds: Thresholds = Field(default_factory=Thresholds, description="budget levels, percent of the window")
    context_window: int | None = Field(_D["context_window"], ge=1000, description="override the model's window (tokens)")
    autocompact_pct: float | None = Field(_D["autocompact_pct"], gt=0, le=100, description="where auto-compaction fires, percent")
    checkpoint_interval_s: int = Field(_D["checkpoint_interval_s"], ge=0, description="Stop checkpoints at most this often (seconds)")
    checkpoints_keep: int = Field(_D["checkpoints_keep"], ge=1, le=10000, description="checkpoints kept per session before archiving")
    archive_after_days: float = Field(_D["archive_after_days"], ge=0, description="archive checkpoints older than this")
    project_cap_bytes: int = Field(_D["project_cap_bytes"], ge=100_000, description="checkpoint bytes per project")
    inject_cap_chars: int = Field(_D["inject_cap_chars"], ge=500, le=9900, description="largest context injected (characters)")
    startup_pointer_max_age_h: float = Field(_D["startup_pointer_max_age_h"], ge=0, description="point new sessions at handoffs this recent")
    available_tokens_floor: int = Field(_D["available_tokens_floor"], ge=0, description="flag handoffs with fewer tokens left")
    stop_block_at_critical: bool = Field(_D["stop_block_at_critical"], description="at critical, Stop blocks once to update the handoff")
    redact_extra: list[str] = Field(default_factory=lambda: settings.defaults()["redact_extra"], description="extra regexes to redact")
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: {prefix: ModelPrice(**rates) for prefix, rates in _D["prices"].items()},
        description="USD per million tokens by model id prefix, over the shipped table"
    )

    @field_validator("redact_extra")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression ({exc})") from exc
        return value


class ConfigError(Exception):
    """A value `set_value` will not write, in plain words; nothing was written."""


class ProjectKeyRefused(ConfigError):
    """The key may not go in a project's file (see project_refusal); nothing was written."""


# What a project's own config file may set, and why that is safe. Bounds are checked against the
# value before the project's layer (the user's, else the default): a project may make the plugin
# more careful or cheaper for its own sessions, never less careful or dearer.
PROJECT_KEYS: dict[str, str] = {
    "thresholds": "earlier warnings only: each level between 50 and your own value",
    "checkpoint_interval_s": "more frequent checkpoints only: between 300 s and your own value (the cap bounds disk use)",
    "inject_cap_chars": "smaller injections only: between 2000 and your own value",
    "startup_pointer_max_age_h": "which of your own recent handoffs a new session is pointed at: 0 to 168 hours",
    "available_tokens_floor": "a flag in the handoff, nothing more: 0 to 200000",
    "redact_extra": "patterns added to yours (never replacing them): more is redacted, never less",
}
# Why the other keys are the user's alone.
REFUSED: dict[str, str] = {
    "context_window": "a wrong window would misreport the budget and delay every warning",
    "autocompact_pct": "a wrong auto-compaction point would delay the warnings before it",
    "checkpoints_keep": "decides how much of your history stays uncompressed and how much disk it takes",
    "archive_after_days": "decides when your checkpoints are compressed away",
    "project_cap_bytes": "a small cap deletes your checkpoints",
    "stop_block_at_critical": "blocking Stop costs you a model turn",
    "prices": "prices a repository sets would misstate what your sessions cost",
}
_PROJECT_BOUNDS = {
    "checkpoint_interval_s": (300, None),
    "inject_cap_chars": (2000, None),
    "startup_pointer_max_age_h": (0, 168),
    "available_tokens_floor": (0, 200_000),
}
THRESHOLD_FLOOR = 50.0


def _from_project(key: str, value: Any, before: dict[str, Any]) -> tuple[Any, str | None]:
    """The value a project's file may give `key` (merged with `before`), or why it is ignored."""
    if key not in PROJECT_KEYS:
        return None, REFUSED.get(key, "not a setting a project may choose")
    if key == "redact_extra":
        return list(dict.fromkeys([*before["redact_extra"], *value])), None
    if key == "thresholds":
        merged = {**before["thresholds"], **value}
        for level, number in merged.items():
            if not THRESHOLD_FLOOR <= number <= before["thresholds"][level]:
                return None, (f"{level} {number} is outside {THRESHOLD_FLOOR:g}..{before['thresholds'][level]:g}: "
                              f"{PROJECT_KEYS[key]}")
        return merged, None
    low, high = _PROJECT_BOUNDS[key]
    high = before[key] if high is None else high
    if not low <= value <= high:
        return None, f"{value} is outside {low}..{high}: {PROJECT_KEYS[key]}"
    return value, None


_TYPE_WORDS: dict[object, str] = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
_BOUND_WORDS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}


def _accepted(field: str) -> str:
    """What a key accepts, in words, for error messages."""
    info = Config.model_fields.get(field.split(".")[0])
    if info is None:
        return f"one of the known keys: {', '.join(Config.model_fields)}"
    if field.startswith("thresholds"):
        return "numbers between 0 and 100 with monitor < warning < critical"
    if field == "redact_extra":
        return "a list of regular expressions"
    if field.startswith("prices"):
        return (
            'an object of model id prefix -> {"input", "output", "cache_write_5m", "cache_write_1h", '
            '"cache_read"}: numbers ≥ 0, USD per million tokens'
        )
    annotation = info.annotation
    args = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not type(None)]
    words = " or ".join(_TYPE_WORDS.get(a, str(a)) for a in args)
    if type(None) in getattr(annotation, "__args__", ()):
        words += " or null"
    bounds = [
        f"{_BOUND_WORDS[name]} {getattr(meta, name)}"
        for meta in info.metadata
        for name in _BOUND_WORDS
        if getattr(meta, name, None) is not None
    ]
    return words + (f" {' and '.join(bounds)}" if bounds else "")


def _layer(path: Path) -> tuple[dict[str, Any], list[str]]:
    """One file's values that validate, and an error line for each that does not."""
    raw = fsutil.read_bytes(path)
    if raw is None:
        return {}, []
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return {}, [f"{path}: not valid JSON ({exc}); using defaults for this file"]
    if not isinstance(data, dict):
        return {}, [f"{path}: must hold a JSON object of settings, got {type(data).__name__}"]
    return _validated((key, value, str(path)) for key, value in data.items())


def _validated(entries: Iterable[tuple[str, Any, str]]) -> tuple[dict[str, Any], list[str]]:
    """Each (key, value, where it was written) checked: the values that validate, and an error
    line naming where for each that does not."""
    good: dict[str, Any] = {}
    errors = []
    for key, value, where in entries:
        good_value, problem = _checked(key, value)
        if problem is not None:
            errors.append(f"{where}: {problem}")
            continue
        good[key] = good_value
    return good, errors


def check(key: str, value: Any) -> str | None:
    """None when `key: value` is a valid setting, else a plain-words sentence about it.

    Names the key, the value and what is accepted; an unknown key says it is ignored.
    Never pydantic's own wording, which speaks of "inputs" and "extra fields".
    """
    return _checked(key, value)[1]


def _checked(key: str, value: Any) -> tuple[Any, str | None]:
    """(`value` validated, in the form the effective settings hold it, None), or (None, the
    problem in plain words; see `check`). A layer's `thresholds` stay as written (maybe only
    some levels): they are merged over the layers before, and the merge is checked in `_resolve`."""
    if key not in Config.model_fields:
        return None, f"unknown key {key!r} is ignored (known keys: {', '.join(Config.model_fields)})"
    try:
        dumped = Config.model_validate({key: value}).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or key
        shown = json.dumps(value, default=str)[:80]
        if err.get("type") == "extra_forbidden":  # a sub-key, e.g. thresholds.alert
            return None, f"key {loc!r} is unknown and ignored; {key} accepts {_accepted(key)}; using the default for {key}"
        reason = err.get("ctx", {}).get("error") if err.get("type") == "value_error" else None
        why = f" ({reason})" if reason else ""
        return None, f"key {loc!r} has value {shown}, which is not accepted{why}; accepted: {_accepted(loc)}; using the default"
    return (value if key == "thresholds" else dumped[key]), None


def _env_layer() -> tuple[dict[str, Any], list[str]]:
    return _validated((name[len(settings.ENV_PREFIX):].lower(), _json_or_text(text), f"environment variable {name}")
                      for name, text in settings.env_overrides().items())


def _json_or_text(text: str) -> Any:
    """An environment variable's value: JSON when it parses (numbers, lists), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def resolve(project: Path) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Effective values, where each came from, and every error found."""
    values, origin, errors, _ = _resolve(project)
    return values, origin, errors


def ignored_project_keys(project: Path) -> list[str]:
    """One line per key of the project's config file that was ignored, naming the file, key and why."""
    return _resolve(project)[3]


def _resolve(project: Path) -> tuple[dict[str, Any], dict[str, str], list[str], list[str]]:
    values: dict[str, Any] = dict(settings.defaults())
    origin = {key: "default" for key in values}
    errors: list[str] = []
    ignored: list[str] = []
    project_file = paths.project_config_path(project)
    layers = [
        (paths.user_config_path(), _layer(paths.user_config_path())),
        (project_file, _layer(project_file)),
        ("environment", _env_layer()),
    ]
    for source, (good, errs) in layers:
        errors += errs
        for key, value in good.items():
            if source == project_file:
                value, why = _from_project(key, value, values)
                if why is not None:
                    ignored.append(f"{project_file}: key {key!r} ignored ({why}); set it in {paths.user_config_path()} if you want it")
                    continue
            if key == "thresholds":
                merged = {**values["thresholds"], **value}
                try:
                    values["thresholds"] = Thresholds.model_validate(merged).model_dump()
                except ValidationError as exc:
                    reason = exc.errors()[0].get("ctx", {}).get("error") or "not accepted"
                    errors.append(f"{source}: key 'thresholds' combined to {json.dumps(merged)}, which is not accepted "
                                  f"({reason}); accepted: {_accepted('thresholds')}; using the previous values")
                    continue
            else:
                values[key] = value
            origin[key] = str(source)
    return values, origin, errors, ignored


def effective(project: Path) -> settings.Settings:
    """Validate the files, report errors once to the log, and refresh the hot path's cache."""
    values, _, errors, ignored = _resolve(project)
    if errors or ignored:
        from session_state.core import log

        for line in errors + ignored:
            log.write(f"configuration: {line}")
    files = [paths.user_config_path(), paths.project_config_path(project)]
    try:
        root = paths.state_root(project)
        payload = {"stamp": settings.stamp(files), "env": settings.env_overrides(), "values": values, "errors": errors}
        fsutil.atomic_write(root / paths.CONFIG_CACHE, json.dumps(payload).encode(), durable=False)
    except OSError:
        pass
    return cast(settings.Settings, values)  # every key, each validated by _resolve


def project_refusal(key: str, path: Path) -> str | None:
    """Why the project's file at `path` may not hold `key` (a setting, or `thresholds.<level>`), in
    one plain sentence naming the key, the file and the keys a project may set; None when it may
    (or when `key` is unknown, which `check` reports)."""
    name = key.split(".", 1)[0]
    if name not in Config.model_fields or name in PROJECT_KEYS:
        return None
    why = REFUSED.get(name, "not a setting a project may choose")
    return (f"{key} cannot go in the project's file {path}: that file comes with the repository, so a project may set only "
            f"{', '.join(PROJECT_KEYS)}; {name} is yours alone ({why})")


def set_value(path: Path, key: str, value: Any, *, project_file: bool = False) -> None:
    """Write one setting into a config file after validating it (for `session-state config set`).

    `thresholds.<level>` sets one level, merged over the levels the file already holds and, below
    them, the values that file is measured against: the defaults, and for a project's file the
    user's. Never over the environment or (for the user's file) the project's values: neither may
    end up written into the user's own file. Raises ConfigError, having written nothing.
    """
    refusal = project_refusal(key, path) if project_file else None
    if refusal is not None:
        raise ProjectKeyRefused(refusal)
    data: dict[str, Any] = {}
    raw = fsutil.read_bytes(path)
    if raw:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{path} is not a JSON object of settings ({exc}); fix or remove it first") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path} is not a JSON object of settings (it holds {type(data).__name__}); fix or remove it first")
    given = key
    if key.startswith("thresholds."):
        level = key.split(".", 1)[1]
        if level not in Thresholds.model_fields:
            raise ConfigError(f"unknown threshold {level!r}; use thresholds.monitor, thresholds.warning or thresholds.critical")
        below = dict(settings.defaults()["thresholds"])
        if project_file:
            below.update(_layer(paths.user_config_path())[0].get("thresholds") or {})
        own = data.get("thresholds")
        key, value = "thresholds", {**below, **(own if isinstance(own, dict) else {}), level: value}
    problem = check(key, value)
    if problem is not None:
        raise ConfigError(f"{given}: " + problem.replace("; using the default", "").replace(" is ignored", " cannot be set"))
    data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())

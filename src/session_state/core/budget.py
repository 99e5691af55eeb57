"""How full the context window is, and the once-per-level crossing records.

Hot tier: stdlib only. `compute` turns a transcript cursor (see transcript.py) into the budget
object that `session-state budget --json`, the statusline and the hooks share; `record` appends it
to usage.jsonl and reports each threshold crossing exactly once per compaction epoch, using
O_CREAT|O_EXCL markers so that concurrent hook processes need no lock.

The window comes from the model, never from price tables (ccusage does that and shows 11% for a
session at 53% of 200k): see the table in ../shared/docs/token-accounting.md.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, TypeGuard

from session_state.core import forecast, pricing
from session_state.core.transcript import USAGE_KEYS, token_count
from session_state.core.settings import Settings, Thresholds

SMALL_WINDOW = 200_000
LARGE_WINDOW = 1_000_000
# Claude Code's effective window is window − 20,000 (its debug log: effectiveWindow 180000 /
# 980000) and it compacts a further ~13,000 below that: every auto-compaction in the corpus
# fired at preTokens 167,094–170,251 on a 200k window (tests/test_budget.py checks this).
AUTOCOMPACT_RESERVE = 20_000 + 13_000
AUTOCOMPACT_ENV = "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE"
OBSERVED_MARGIN = 10_000  # an auto-compaction this far below the default point moved it
LEVELS = ("monitor", "warning", "critical")  # ascending; below them "ok", without data "unknown"
_ALIASES = {"opus", "sonnet", "haiku", "default", "best", "opusplan"}


def window_for_model(model: str | None) -> int | None:
    """The window a model id implies, or None when the id says nothing (unknown vendor ids).

    Ids ending in `[1m]` and the 5.x family (which the aliases now select) have 1M, as has
    claude-opus-4-7; 4.6 and older, and the dated ids of older families, have 200k.
    """
    if not model:
        return None
    text = model.strip().lower()
    if text.endswith("[1m]"):
        return LARGE_WINDOW
    if text in _ALIASES:
        return LARGE_WINDOW
    version = family_version(text)
    if version is not None:
        return LARGE_WINDOW if new_generation(*version) else SMALL_WINDOW
    if text.startswith("claude-"):
        return SMALL_WINDOW
    return None


def new_generation(family: str, major: int, minor: int) -> bool:
    """The 5.x models and Opus 4.7 on: 1M windows and a tokenizer ≈1.6× cl100k (measured)."""
    return major >= 5 or (family == "opus" and major == 4 and minor >= 7)


def family_version(model: str) -> tuple[str, int, int] | None:
    """("opus", 4, 6) for claude-opus-4-6[-date]; None for other shapes (claude-3-5-sonnet-…).

    Plain string work, no regex: this runs in every hook and a compile costs more than the rest.
    """
    parts = model.lower().split("[", 1)[0].split("-")  # "[1m]" marks the window, not the version
    for i, part in enumerate(parts[:-1]):
        if part in ("opus", "sonnet", "haiku") and _small_number(parts[i + 1]):
            minor = parts[i + 2] if i + 2 < len(parts) and _small_number(parts[i + 2]) else "0"
            return part, int(parts[i + 1]), int(minor)
    return None


def _small_number(text: str) -> bool:
    """A version component (1–2 digits), not a date such as 20250514."""
    return text.isdigit() and len(text) <= 2


def context_window(cursor: dict[str, Any], settings: Settings) -> tuple[int, str]:
    """(window, how it was decided): override, selected `[1m]` model, model id, or observation."""
    override = settings["context_window"]
    if isinstance(override, int) and not isinstance(override, bool) and override > 0:
        return override, "setting"
    last = cursor.get("last_usage") or cursor.get("side_usage") or {}
    model = last.get("model") if isinstance(last, dict) else None
    selected = cursor.get("model_selected")
    window: int | None = None
    source = "model"
    if isinstance(selected, str) and selected.lower().endswith("[1m]") and _same_model(selected, model):
        window, source = LARGE_WINDOW, "selected model"
    else:
        window = window_for_model(model if isinstance(model, str) and model != "<synthetic>" else None)
        if window is None:
            window = window_for_model(selected if isinstance(selected, str) else None)
    if window is None:
        window, source = SMALL_WINDOW, "default"
    observed = cursor.get("max_context") or 0
    if window < LARGE_WINDOW and isinstance(observed, int) and observed > SMALL_WINDOW:
        window, source = LARGE_WINDOW, "observed"
    return window, source


def _same_model(selected: str, model: Any) -> bool:
    """Whether a selected id (maybe `x[1m]`, maybe an alias) is the model that answered."""
    if not isinstance(model, str) or not model or model == "<synthetic>":
        return True
    base = selected[: -len("[1m]")].lower()
    model = model.lower()
    return base in _ALIASES or model.startswith(base) or base.startswith(model)


def autocompact_at(window: int, settings: Settings) -> int:
    """Context size at which Claude Code compacts on its own.

    Window − 33,000 by default (see AUTOCOMPACT_RESERVE); a percentage (setting
    `autocompact_pct`, else the environment variable Claude Code itself honours) moves it.
    """
    pct = settings["autocompact_pct"]
    if not _valid_pct(pct):
        pct = _env_pct()
    if _valid_pct(pct):
        return int(window * float(pct) / 100)
    return max(window - AUTOCOMPACT_RESERVE, 0)


def _env_pct() -> float | None:
    try:
        return float(os.environ.get(AUTOCOMPACT_ENV, ""))
    except ValueError:
        return None


def _valid_pct(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 100


def level_for(percent: float | None, thresholds: Thresholds) -> str:
    if percent is None:
        return "unknown"
    found = "ok"
    for name in LEVELS:
        limit = thresholds.get(name)
        if isinstance(limit, (int, float)) and percent >= limit:
            found = name
    return found


def compute(cursor: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The budget object: context now, window, level, room before auto-compaction, totals.

    After a compaction with no response since, the context is Claude Code's `postTokens` when the
    transcript has it and unknown otherwise; the pre-compaction figure is never shown as current.
    """
    window, window_source = context_window(cursor, settings)
    last = cursor.get("last_usage")
    last = last if isinstance(last, dict) else None
    side = cursor.get("side_usage")
    compacted = bool(cursor.get("compacted"))
    context: int | None
    answered = last  # the response the context was read from
    if compacted:
        context = cursor.get("post_tokens") if isinstance(cursor.get("post_tokens"), int) else None
        context_source = "compaction" if context is not None else "unknown after compaction"
    elif last is not None:
        context = sum(token_count(last.get(k)) for k in ("input", "cache_creation", "cache_read"))
        context_source = "response"
    elif isinstance(side, dict):
        # A subagent's own transcript (every usage line a sidechain) has no main chain: its own
        # latest response is its context, as `ccusage statusline` reports it.
        answered = side
        context = sum(token_count(side.get(k)) for k in ("input", "cache_creation", "cache_read"))
        context_source = "subagent response"
    else:
        context, context_source = None, "no response yet"
    exact = context * 100 / window if context is not None else None
    percent = round(exact, 1) if exact is not None else None
    thresholds = settings["thresholds"]
    limit, limit_source = autocompact_at(window, settings), "default"
    if _valid_pct(settings["autocompact_pct"]) or _valid_pct(_env_pct()):
        limit_source = "setting"
    else:
        # This session already auto-compacted well below the default point: the user moved it
        # (e.g. `claude --autocompact N`, which nothing else shows), so that point is the one.
        seen = cursor.get("last_compaction")
        pre = seen.get("pre_tokens") if isinstance(seen, dict) and seen.get("trigger") == "auto" else None
        if isinstance(pre, int) and not isinstance(pre, bool) and 0 < pre < limit - OBSERVED_MARGIN:
            limit, limit_source = pre, "observed compaction"
    totals = cursor.get("totals") or {}
    selected = cursor.get("model_selected")
    model = (last or {}).get("model") or (side or {}).get("model")
    if isinstance(selected, str) and (
        not model or (selected.lower().endswith("[1m]") and _same_model(selected, model))
    ):
        model = selected
    budget: dict[str, Any] = {
        "context_tokens": context,
        "context_source": context_source,
        "context_window": window,
        "window_source": window_source,
        "percent": percent,
        "level": level_for(exact, thresholds),
        "model": model,
        "output_tokens": token_count((answered or {}).get("output")),
        "compacted": compacted,
        "compactions": token_count(cursor.get("compactions")),
        "autocompact_at": limit,
        "autocompact_source": limit_source,
        "tokens_to_autocompact": max(limit - context, 0) if context is not None else None,
        "totals": {k: token_count(totals.get(k)) for k in USAGE_KEYS},
    }
    ahead = forecast.turns_left(
        forecast.growths(cursor.get("turns"), context), budget["tokens_to_autocompact"]
    )
    budget["turns_to_autocompact"] = ahead["turns"] if ahead else None
    if ahead:
        budget["turns_forecast"] = ahead
    budget.update(pricing.session_cost(cursor, settings))
    agents = cursor.get("agent_files_totals") or {}
    if any(token_count(agents.get(k)) for k in USAGE_KEYS):
        budget["agent_files_totals"] = {k: token_count(agents.get(k)) for k in USAGE_KEYS}
    if cursor.get("error"):
        budget["error"] = cursor["error"]
    return budget


def with_reported(
    current: dict[str, Any], block: Any, settings: Settings, source: str, turns: Any = None
) -> dict[str, Any]:
    """`current` with Claude Code's own context figures in place of the transcript's, if usable.

    `block` is a `context_window` object as the status line JSON carries it (and as a newer
    hook input may): `current_usage` (input + cache figures of the latest call) or else
    `used_percentage`, with `context_window_size`. Claude Code measured them, so they win;
    `context_source` names `source`. Its `total_input_tokens` was a session sum before 2.1.132
    and is never read as the context. Without usable figures `current` is returned unchanged.
    """
    if not isinstance(block, dict):
        return current
    size = block.get("context_window_size")
    if not is_number(size) or size <= 0:
        return current
    window = int(size)
    override = settings["context_window"]
    if isinstance(override, int) and not isinstance(override, bool) and override > 0:
        window = override
    context: float | None = None
    usage = block.get("current_usage")
    if isinstance(usage, dict):
        parts = [usage.get(k) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")]
        numbers = [p for p in parts if is_number(p)]
        if len(numbers) == len(parts):
            context = sum(numbers)
    used = block.get("used_percentage")
    if context is None and is_number(used):
        context = used * size / 100
    if context is None:
        return current
    tokens = int(context)
    exact = context * 100 / window
    limit = autocompact_at(window, settings)
    if current.get("autocompact_source") == "observed compaction":
        limit = current["autocompact_at"]
    thresholds = settings["thresholds"]
    room = max(limit - tokens, 0)
    ahead = forecast.turns_left(forecast.growths(turns, tokens), room)
    result = {k: v for k, v in current.items() if k != "turns_forecast"}
    result.update(
        context_tokens=tokens,
        context_source=source,
        context_window=window,
        window_source="setting" if window != int(size) else source,
        percent=round(exact, 1),
        level=level_for(exact, thresholds),
        autocompact_at=limit,
        tokens_to_autocompact=room,
        turns_to_autocompact=ahead["turns"] if ahead else None,
    )
    if ahead:
        result["turns_forecast"] = ahead
    return result


def is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number (a bool is not one, though Python counts it as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def record(session_dir: str | os.PathLike[str], budget: dict[str, Any], event: str) -> list[str]:
    """Append the budget to usage.jsonl; return the levels crossed for the first time this epoch.

    A level counts once per compaction epoch (the number of compactions so far): after a
    compaction the context drops and the same warnings are useful again. Reaching a higher
    level marks the lower ones too, so a later small dip never re-announces them. Among any
    number of concurrent callers exactly one creates each marker and so reports the crossing.
    """
    from pathlib import Path

    from session_state.core import fsutil, paths

    folder = Path(session_dir)
    crossed: list[str] = []
    level = budget.get("level")
    if level in LEVELS:
        markers = paths.markers_dir(folder)
        paths.ensure_dir(markers)
        epoch = token_count(budget.get("compactions"))
        for name in LEVELS[: LEVELS.index(level) + 1]:
            if fsutil.create_exclusive(markers / f"{paths.CROSSING_MARKER}{epoch}-{name}"):
                crossed.append(name)
    else:
        paths.ensure_dir(folder)
    entry: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "event": event,
        "context_tokens": budget.get("context_tokens"),
        "source": budget.get("context_source"),
        "window": budget.get("context_window"),
        "percent": budget.get("percent"),
        "level": level if isinstance(level, str) else "unknown",
        "turns_left": budget.get("turns_to_autocompact"),
        "cost_usd": budget.get("cost_usd"),
    }
    if crossed:
        entry["crossed"] = crossed
    fsutil.append_record(folder / paths.USAGE, json.dumps(entry, separators=(",", ":")).encode(), state=True)
    return crossed

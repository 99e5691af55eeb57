"""What a session cost in USD: Claude Code's own figure where the transcript has it, else a price table.

Stdlib only (the status line uses it). Claude Code 2.1.330 writes `cost-state` lines (its running
total and per-model cost); the transcript reader keeps the latest (transcript.py). Older
transcripts get usage × the table shipped in data/prices.json (per model: input, output, cache
write at the 5 min and 1 h rates, cache read; with its date and source), which the user's
`prices` setting extends or overrides. A model the table does not know has no cost: it is named
as unpriced, never guessed.

Usage rows (transcript.py `file_models`): input, output, cache write, cache read, the part of the
cache write at the 1 h rate, responses — deduplicated per response, per model.
"""

from __future__ import annotations

import json
import os
from typing import Any

from session_state.core.settings import Settings

PER = 1_000_000  # prices are per million tokens
_RATES = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
TABLE = os.path.join(os.path.dirname(__file__), "data", "prices.json")
_table: dict[str, Any] | None = None


def shipped_table() -> dict[str, Any]:
    """The price table shipped with the plugin (data/prices.json), read once per process.

    A missing or damaged file (a broken install) must not break the hooks that show the budget:
    it reads as an empty table, so every model is reported unpriced rather than guessed.
    """
    global _table
    if _table is None:
        try:
            with open(TABLE, "rb") as handle:
                loaded = json.loads(handle.read())
            if not isinstance(loaded, dict) or not isinstance(loaded.get("models"), dict):
                raise ValueError("no 'models' object")
            _table = loaded
        except (OSError, ValueError):
            _table = {"date": "unavailable", "models": {}}
    return _table


def table(settings: Settings) -> dict[str, dict[str, Any]]:
    """Model prefix → rates: the shipped table with the user's `prices` setting on top."""
    models = dict(shipped_table()["models"])
    models.update(settings["prices"])
    return models


def price_for(model: str, prices: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The rates of the longest prefix of `model` in the table (`[1m]` and dates do not matter)."""
    name = model.lower().split("[", 1)[0]
    best = None
    for prefix in prices:
        if name.startswith(prefix.lower()) and (best is None or len(prefix) > len(best)):
            best = prefix
    return prices[best] if best is not None else None


def row_cost(row: list[int], rates: dict[str, Any]) -> float:
    """USD for one usage row (input, output, cache write, cache read, of the write 1 h) at `rates`."""
    inp, out, write, read, write_1h = row[:5]
    figures = (inp, out, write - write_1h, write_1h, read)
    return sum(n * float(rates.get(rate) or 0) for n, rate in zip(figures, _RATES)) / PER


def rows_cost(rows: dict[str, list[int]], prices: dict[str, dict[str, Any]]) -> tuple[float, dict[str, float], list[str]]:
    """Total USD, USD per model, and the models that have usage but no price."""
    total = 0.0
    by_model: dict[str, float] = {}
    unpriced: list[str] = []
    for model, row in rows.items():
        if model in ("", "<synthetic>") or not any(row[:5]):
            continue  # Claude Code's synthetic lines are not API calls and cost nothing
        rates = price_for(model, prices)
        if rates is None:
            unpriced.append(model)
            continue
        cost = row_cost(row, rates)
        by_model[model] = by_model.get(model, 0.0) + cost
        total += cost
    return total, by_model, sorted(unpriced)


def merged_rows(cursor: dict[str, Any]) -> dict[str, list[int]]:
    """Per-model usage of the session: its file and its 2.1.x subagent files (as the totals)."""
    rows: dict[str, list[int]] = {}
    sources = [cursor.get("file_models") or {}]
    sources += [
        sub.get("file_models") or {}
        for sub in (cursor.get("subagents") or {}).values()
        if isinstance(sub, dict) and sub.get("kind") == "subagents"
    ]
    for source in sources:
        for model, row in source.items():
            if isinstance(row, list) and len(row) == 6:
                into = rows.setdefault(model, [0] * 6)
                for i, value in enumerate(row):
                    into[i] += value if isinstance(value, int) else 0
    return rows


def session_cost(cursor: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """`cost_usd`, `cost_source`, per model and per subagent, for `budget --json` and the views.

    `cost_source` is `cost-state` (Claude Code's own running total, which counts every API call
    of the session's processes, subagents included) or `price table <date>`; per-subagent
    figures always come from the table, since cost-state does not split them.
    """
    prices = table(settings)
    total, by_model, unpriced = rows_cost(merged_rows(cursor), prices)
    subagents: dict[str, float] = {}
    for name, sub in sorted((cursor.get("subagents") or {}).items()):
        if isinstance(sub, dict):
            sub_total, _, _ = rows_cost(sub.get("file_models") or {}, prices)
            if sub_total:
                subagents[name.removeprefix("../").removesuffix(".jsonl")] = round(sub_total, 6)
    state = cursor.get("cost_state")
    result: dict[str, Any]
    if isinstance(state, dict) and isinstance(state.get("total_usd"), (int, float)):
        models = state.get("models")
        if not isinstance(models, dict):
            models = {}
        result = {
            "cost_usd": round(float(state["total_usd"]), 6),
            "cost_source": "cost-state",
            "cost_by_model": {m: round(float(c), 6) for m, c in sorted(models.items())},
            "cost_estimate_usd": round(total, 6),
        }
        if state.get("unknown_model_cost"):
            result["cost_note"] = "Claude Code reports a model it has no price for"
    else:
        result = {
            "cost_usd": round(total, 6) if not unpriced or by_model else None,
            "cost_source": f"price table {shipped_table()['date']}",
            "cost_by_model": {m: round(c, 6) for m, c in sorted(by_model.items())},
        }
    result["cost_by_subagent"] = subagents
    if unpriced:
        result["unpriced_models"] = unpriced
    return result


def money(usd: float | None) -> str:
    """$0.042 / $1.23 / $123: enough digits to compare sessions, no more."""
    if usd is None:
        return "$?"
    if usd < 1:
        return f"${usd:.3f}"
    if usd < 100:
        return f"${usd:.2f}"
    return f"${usd:,.0f}"


def cost_line(budget: dict[str, Any] | None) -> str | None:
    """`$1.23 (cost-state); by model …; subagents …`, or None when no cost is known."""
    if not budget or "cost_usd" not in budget:
        return None
    from session_state.core.inert import line  # model ids come from the transcript

    parts = [f"{money(budget['cost_usd'])} ({budget.get('cost_source')})"]
    models = budget.get("cost_by_model") or {}
    if models:
        parts.append("by model " + ", ".join(f"{line(m)} {money(c)}" for m, c in models.items()))
    subs = budget.get("cost_by_subagent") or {}
    if subs:
        parts.append(f"{len(subs)} subagent{'s' * (len(subs) != 1)} {money(sum(subs.values()))}")
    if budget.get("unpriced_models"):
        parts.append("no price for " + ", ".join(line(m) for m in budget["unpriced_models"]))
    return "; ".join(parts)

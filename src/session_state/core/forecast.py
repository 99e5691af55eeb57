"""Turns left before auto-compaction, from how much this session's context grew per turn.

Hot tier, stdlib only: Stop and the status line call it. A turn is a typed prompt and all the
responses it causes; transcript.py keeps the growth of the latest turns since the last
compaction (`cursor["turns"]`). The forecast divides the room before auto-compaction by the
mean growth of those turns and states a range from the 90th percentile (fast turns: the low end)
and the 10th (slow turns: the high end). Growth is heavy-tailed (most turns add a few thousand
tokens, a file read or a test run adds tens of thousands) and what uses the room is the sum of
the coming growths, so the mean forecasts it better than the median: on the corpus back-test
(benchmarks/backtest_turns.py, every real auto-compaction) the median missed by 10 turns (median
absolute error), the mean by 4. The README has the figures.
"""

from __future__ import annotations

from typing import Any

MIN_TURNS = 2  # growths needed before anything is forecast
# Tuned on the corpus back-test (benchmarks/backtest_turns.py): of windows of 4–20 turns, ranges
# from the 20/80, 10/90, 25/75 and 50/90 percentiles and growth floors of 0, 1,000 and 2,000
# tokens, the last 12 turns (transcript.TURN_DELTAS), 10/90 and a 2,000 floor gave the lowest
# error with ~85% coverage and a range a seventh as wide as without the floor (near-zero growths
# made the upper end run off).
HIGH_Q = 0.9  # a fast turn: the low end of the range
LOW_Q = 0.1  # a slow turn: the high end of the range
MIN_GROWTH = 2000  # tokens counted for a turn that grew less (a short answer)


def quantile(values: list[int], q: float) -> float:
    """Linear-interpolated quantile of a non-empty list (statistics.quantiles needs two points)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def growths(turns: Any, context: int | None) -> list[int]:
    """The per-turn context growths to forecast from: the kept ones and the latest turn's so far."""
    if not isinstance(turns, dict):
        return []
    kept = [d for d in turns.get("deltas") or [] if isinstance(d, int) and not isinstance(d, bool)]
    at = turns.get("at")
    if isinstance(at, int) and isinstance(context, int) and context > at:
        kept.append(context - at)
    return kept


def turns_left(growth: list[int], room: int | None) -> dict[str, Any] | None:
    """{turns, low, high, growth_mean, growth_median, growth_high, basis}; None without history."""
    if room is None or len(growth) < MIN_TURNS:
        return None
    samples = [max(g, MIN_GROWTH) for g in growth]
    mean = sum(samples) / len(samples)
    fast = quantile(samples, HIGH_Q)
    slow = quantile(samples, LOW_Q)
    turns = int(room // mean)
    return {  # one outlier can lift the mean above the 90th percentile: the range holds the forecast
        "turns": turns,
        "low": min(int(room // fast), turns),
        "high": max(int(room // slow), turns),
        "growth_mean": int(mean),
        "growth_median": int(quantile(samples, 0.5)),
        "growth_high": int(fast),
        "basis": len(growth),
    }


def phrase(forecast: dict[str, Any] | None) -> str | None:
    """'about 6 turns left (4–9)' for warnings and views; None when there is no forecast."""
    if not forecast:
        return None
    turns, low, high = forecast["turns"], forecast["low"], forecast["high"]
    if turns <= 0:
        return "auto-compaction likely during the next turn"
    span = f" ({low}–{high})" if low != high else ""
    return f"about {turns} turn{'s' * (turns != 1)} left{span}"

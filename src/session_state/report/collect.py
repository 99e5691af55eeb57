"""What the report shows, gathered in one pass of the transcript reader.

The reader (transcript.py) decides what a main-chain response and a compaction are; an observer
records each as it goes, so the chart and the budget come from the same rules and the same read.
The same pass feeds the breakdown's collector every line and times the subagent files. Context of
a response = input + cache_creation + cache_read of its line; the lines of one response share
(message.id, requestId), the key the totals deduplicate on, and count once (the largest).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session_state.state import breakdown
from session_state.core import fsutil, journal, paths, transcript
from session_state.core.settings import Settings, Thresholds

Progress = Callable[[int, int], None]


@dataclass
class Point:
    t: float
    context: int


@dataclass
class Compaction:
    t: float
    trigger: str | None
    pre_tokens: int | None
    post_tokens: int | None


@dataclass
class Run:
    name: str
    start: float
    end: float
    tokens: int


@dataclass
class Mark:
    t: float
    id: str
    trigger: str
    archived: bool


@dataclass
class ReportData:
    transcript: str
    session_id: str
    points: list[Point]
    compactions: list[Compaction]
    subagents: list[Run]
    checkpoints: list[Mark]
    budget: dict[str, Any]
    thresholds: Thresholds
    totals: dict[str, dict[str, int]]
    handoff_text: str | None
    generated: str
    notes: list[str] = field(default_factory=list)
    breakdown: dict[str, Any] | None = None


class _Span(transcript.Observer):
    """First and last timestamp of a subagent transcript: when its run started and ended."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None

    def line(self, obj: dict[str, Any]) -> None:
        t = journal.parse_iso(obj.get("timestamp"))
        if t is not None:
            self.first = t if self.first is None else min(self.first, t)
            self.last = t if self.last is None else max(self.last, t)


class _Pass(transcript.Observer):
    """The report's share of the reader's pass over the main transcript."""

    def __init__(self, progress: Progress | None, red: Callable[[str], str]) -> None:
        self.points: dict[str, Point] = {}  # by response; insertion order is file order
        self.compactions: list[Compaction] = []
        self.spans: dict[str, _Span] = {}  # by the subagent's key in the cursor
        self.breakdown = breakdown.Collector(red)
        self._progress = progress

    def line(self, obj: dict[str, Any]) -> None:
        self.breakdown.line(obj)

    def response(self, key: str | None, usage: dict[str, Any]) -> None:
        t = journal.parse_iso(usage["timestamp"])
        if t is None:  # a point needs a time to be drawn
            return
        context = usage["input"] + usage["cache_creation"] + usage["cache_read"]
        point = self.points.get(key) if key is not None else None
        if point is None:
            self.points[key if key is not None else f"@{len(self.points)}"] = Point(t, context)
        else:
            point.context = max(point.context, context)

    def compaction(self, record: dict[str, Any]) -> None:
        t = journal.parse_iso(record["timestamp"])
        if t is not None:
            pre = transcript.token_count(record["pre_tokens"]) or None
            post = transcript.token_count(record["post_tokens"]) or None
            self.compactions.append(Compaction(t, record["trigger"], pre, post))

    def progress(self, offset: int, size: int) -> None:
        if self._progress is not None and offset < size:  # the end is shown once, by gather
            self._progress(offset, size)

    def subagent(self, key: str) -> transcript.Observer:
        span = self.spans[key] = _Span()
        return span


def subagent_runs(cursor: dict[str, Any], spans: dict[str, _Span]) -> list[Run]:
    runs = []
    for key, sub in cursor["subagents"].items():
        span = spans.get(key)
        if span is None or span.first is None or span.last is None:
            continue
        tokens = sum(transcript.token_count(v) for v in sub["file_totals"].values())
        label = Path(key).stem
        if label.startswith("agent-acompact"):
            label += " (compaction summary)"
        runs.append(Run(label, span.first, span.last, tokens))
    return sorted(runs, key=lambda r: r.start)


def checkpoint_marks(session_dir: Path | None) -> list[Mark]:
    """Checkpoints (live and archived) with the time their id encodes."""
    if session_dir is None:
        return []
    from session_state.state import checkpoints

    files = [(n, False) for n in checkpoints.names(session_dir)]
    files += [(name, True) for name in checkpoints.archived_names(session_dir)]
    marks = []
    for name, archived in files:
        parsed = checkpoints.parse_name(name)
        if parsed.created is not None:
            marks.append(Mark(parsed.created.timestamp(), parsed.id, parsed.trigger, archived))
    return sorted(marks, key=lambda m: m.t)


def _totals(cursor: dict[str, Any], budget: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Token totals by kind: the main file, its subagent files, all; 2.0.x agent files apart."""
    main = {k: transcript.token_count(v) for k, v in cursor["file_totals"].items()}
    subs: dict[str, int] = {}
    for sub in cursor["subagents"].values():
        if sub["kind"] == "subagents":
            for k, v in sub["file_totals"].items():
                subs[k] = subs.get(k, 0) + transcript.token_count(v)
    totals = {"main transcript": main, "subagents": subs, "all": budget.get("totals") or {}}
    if budget.get("agent_files_totals"):
        totals["agent files beside (2.0.x)"] = budget["agent_files_totals"]
    return totals


def gather(
    transcript_path: str,
    settings: Settings,
    *,
    session_id: str | None = None,
    session_dir: Path | None = None,
    progress: Progress | None = None,
) -> ReportData:
    """Everything the page shows, from one read of the transcript and its subagent files."""
    from session_state.core import budget as budget_mod

    from session_state.state import redactor

    seen = _Pass(progress, redactor.for_settings(settings, session_dir))
    cursor, _ = transcript.update(None, transcript_path, facts=False, observer=seen)
    if progress is not None:
        size = os.path.getsize(transcript_path)
        progress(size, size)
    budget = budget_mod.compute(cursor, settings)
    handoff_text = None
    if session_dir is not None:
        try:
            raw = fsutil.read_bytes(session_dir / paths.HANDOFF)  # no link followed, never blocks
            handoff_text = raw.decode("utf-8") if raw is not None else None
        except (OSError, UnicodeDecodeError):
            handoff_text = None
    return ReportData(
        transcript=str(transcript_path),
        session_id=session_id or cursor["first_session_id"] or Path(transcript_path).stem,
        points=sorted(seen.points.values(), key=lambda p: p.t),
        compactions=sorted(seen.compactions, key=lambda c: c.t),
        subagents=subagent_runs(cursor, seen.spans),
        checkpoints=checkpoint_marks(session_dir),
        budget=budget,
        thresholds=settings["thresholds"],
        totals=_totals(cursor, budget),
        handoff_text=handoff_text,
        generated=journal.now_iso(),
        breakdown=breakdown.of(seen.breakdown, budget),
    )

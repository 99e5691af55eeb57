"""A session's context use over time as one self-contained HTML file.

Full tier. Everything comes from files the user already has: the transcript (each main-chain
response's context, compaction boundaries, subagent transcripts), the session's checkpoints
and its handoff. The page needs nothing else: no scripts, no fonts, no network (a Content
Security Policy forbids it), and the chart is an SVG drawn here, so the file can be mailed,
archived or opened years later and still show the same thing.

Context of a response = input + cache_creation + cache_read tokens of a main-chain assistant
line (not a sidechain, not `<synthetic>`, not an API error), as in transcript.py; the lines
of one response share a message id and count once.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

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
    thresholds: dict[str, float]
    totals: dict[str, dict[str, int]]
    handoff_text: str | None
    generated: str
    notes: list[str] = field(default_factory=list)
    breakdown: dict[str, Any] | None = None


# --- reading --------------------------------------------------------------------------------


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def scan(path: str, progress: Progress | None = None) -> tuple[list[Point], list[Compaction]]:
    """One pass over the main transcript: context per response and the compaction boundaries."""
    import orjson

    points: dict[str, Point] = {}
    compactions: list[Compaction] = []
    total = os.path.getsize(path)
    done = shown = 0
    with open(path, "rb") as handle:
        for line in handle:
            done += len(line)
            if progress and done - shown >= 4 << 20:
                progress(done, total)
                shown = done
            if b"compact_boundary" not in line and b'"usage"' not in line:
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(obj, dict) or obj.get("isSidechain") is True:
                continue
            if obj.get("type") == "system" and obj.get("subtype") == "compact_boundary":
                meta = obj.get("compactMetadata") if isinstance(obj.get("compactMetadata"), dict) else {}
                t = parse_time(obj.get("timestamp"))
                if t is not None:
                    compactions.append(
                        Compaction(t, meta.get("trigger"), _int(meta.get("preTokens")) or None, _int(meta.get("postTokens")) or None)
                    )
                continue
            message = obj.get("message")
            if obj.get("type") != "assistant" or not isinstance(message, dict) or obj.get("isApiErrorMessage"):
                continue
            usage = message.get("usage")
            t = parse_time(obj.get("timestamp"))
            if not isinstance(usage, dict) or message.get("model") == "<synthetic>" or t is None:
                continue
            context = sum(_int(usage.get(k)) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
            key = str(message.get("id") or obj.get("uuid") or len(points))
            if key in points:
                points[key].context = max(points[key].context, context)
            else:
                points[key] = Point(t, context)
    if progress:
        progress(total, total)
    return sorted(points.values(), key=lambda p: p.t), sorted(compactions, key=lambda c: c.t)


def _time_range(path: str) -> tuple[float | None, float | None]:
    """First and last timestamp of a (subagent) transcript."""
    import orjson

    first = last = None
    try:
        with open(path, "rb") as handle:
            for line in handle:
                if b'"timestamp"' not in line:
                    continue
                try:
                    t = parse_time(orjson.loads(line).get("timestamp"))
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                if t is not None:
                    first = t if first is None else min(first, t)
                    last = t if last is None else max(last, t)
    except OSError:
        pass
    return first, last


def subagent_runs(cursor: dict[str, Any]) -> list[Run]:
    runs = []
    for name, sub in (cursor.get("subagents") or {}).items():
        path = sub.get("path") if isinstance(sub, dict) else None
        if not path:
            continue
        start, end = _time_range(path)
        if start is None or end is None:
            continue
        tokens = sum(_int(v) for v in (sub.get("file_totals") or {}).values())
        label = Path(name).stem
        if label.startswith("agent-acompact"):
            label += " (compaction summary)"
        runs.append(Run(label, start, end, tokens))
    return sorted(runs, key=lambda r: r.start)


def checkpoint_marks(session_dir: Path | None) -> list[Mark]:
    """Checkpoints (live and archived) with the time their id encodes."""
    if session_dir is None:
        return []
    from session_state import checkpoints, paths

    files = [(n, False) for n in checkpoints.names(session_dir)]
    files += [(name, True) for name in checkpoints.archived_names(session_dir)]
    marks = []
    for name, archived in files:
        stem = name.removesuffix(".gz").removesuffix(paths.CHECKPOINT_SUFFIX)
        parts = stem.split("-")
        try:
            stamp = datetime.strptime(parts[0][:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        marks.append(Mark(stamp.timestamp(), stem, "-".join(parts[1:-1]) or "?", archived))
    return sorted(marks, key=lambda m: m.t)


def collect(
    transcript_path: str,
    settings: dict[str, Any],
    *,
    session_id: str | None = None,
    session_dir: Path | None = None,
    progress: Progress | None = None,
) -> ReportData:
    from session_state import breakdown as breakdown_mod
    from session_state import budget as budget_mod
    from session_state import paths, transcript

    points, compactions = scan(transcript_path, progress)
    cursor, _ = transcript.update(None, transcript_path, facts=False)
    budget = budget_mod.compute(cursor, settings)
    main = {k: _int(v) for k, v in (cursor.get("file_totals") or {}).items()}
    subs: dict[str, int] = {}
    for sub in (cursor.get("subagents") or {}).values():
        if isinstance(sub, dict) and sub.get("kind") == "subagents":
            for k, v in (sub.get("file_totals") or {}).items():
                subs[k] = subs.get(k, 0) + _int(v)
    totals = {"main transcript": main, "subagents": subs, "all": budget.get("totals") or {}}
    if budget.get("agent_files_totals"):
        totals["agent files beside (2.0.x)"] = budget["agent_files_totals"]
    handoff_text = None
    if session_dir is not None:
        try:
            handoff_text = (session_dir / paths.HANDOFF).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            handoff_text = None
    raw_thresholds = settings.get("thresholds") or {}
    return ReportData(
        transcript=str(transcript_path),
        session_id=session_id or cursor.get("first_session_id") or Path(transcript_path).stem,
        points=points,
        compactions=compactions,
        subagents=subagent_runs(cursor),
        checkpoints=checkpoint_marks(session_dir),
        budget=budget,
        thresholds={k: float(raw_thresholds.get(k, d)) for k, d in (("monitor", 60), ("warning", 75), ("critical", 85))},
        totals=totals,
        handoff_text=handoff_text,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        breakdown=breakdown_mod.compute(transcript_path, budget),
    )


# --- drawing ----------------------------------------------------------------------------------

W, H = 1100, 440
X0, X1 = 96, 940
Y0, Y1 = 28, 318
SUB_ROW = (332, 356)
CP_ROW = (364, 380)
LEVEL_COLOURS = {"ok": "#e8f5e9", "monitor": "#fffde7", "warning": "#fff3e0", "critical": "#ffebee"}
LINE_COLOURS = {"monitor": "#c9a400", "warning": "#ef6c00", "critical": "#c62828"}
_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]


def _esc(value: Any) -> str:
    """HTML-escaped, and no control or bidi character left to reorder what the reader sees."""
    from session_state.inert import escape

    return html.escape(escape(str(value), keep_newlines=True), quote=True)


def _clock(t: float, with_date: bool) -> str:
    stamp = datetime.fromtimestamp(t, timezone.utc)
    return stamp.strftime("%m-%d %H:%M" if with_date else "%H:%M")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_range(data: ReportData) -> tuple[float, float, list[Mark]]:
    """The chart's time range and the checkpoints drawn in it.

    A checkpoint near the transcript's activity (within a quarter of its span, at least ten
    minutes) widens the range: Stop checkpoints come just after the last response. Checkpoints
    far away (a report of an old transcript a session replayed today) would squash the chart
    into a line, so they are listed in the table only.
    """
    times = [p.t for p in data.points] + [c.t for c in data.compactions]
    times += [r.start for r in data.subagents] + [r.end for r in data.subagents]
    if not times:
        times = [m.t for m in data.checkpoints] or [0.0]
    tmin, tmax = min(times), max(times)
    margin = max((tmax - tmin) / 4, 600.0)
    drawn = [m for m in data.checkpoints if tmin - margin <= m.t <= tmax + margin]
    if drawn:
        tmin, tmax = min(tmin, drawn[0].t), max(tmax, drawn[-1].t)
    if tmax - tmin < 60:
        tmin, tmax = tmin - 30, tmax + 30
    return tmin, tmax, drawn


def chart(data: ReportData) -> str:
    """The SVG: level bands, thresholds, auto-compaction line, context line, markers, time axis."""
    window = int(data.budget.get("context_window") or 200_000)
    autocompact_pct = 100.0 * int(data.budget.get("autocompact_at") or window) / window
    pcts = [p.context * 100.0 / window for p in data.points]
    ymax = max(100.0, (max(pcts) + 5) if pcts else 0)
    tmin, tmax, _ = time_range(data)

    def x(t: float) -> float:
        return X0 + (t - tmin) / (tmax - tmin) * (X1 - X0)

    def y(pct: float) -> float:
        return Y1 - min(pct, ymax) / ymax * (Y1 - Y0)

    out = [
        f'<svg id="context-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        'role="img" aria-labelledby="chart-title" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">',
        f'<title id="chart-title">Context window use of session {_esc(data.session_id)} over time</title>',
    ]
    th = data.thresholds
    bands = [("ok", 0, th["monitor"]), ("monitor", th["monitor"], th["warning"]), ("warning", th["warning"], th["critical"]), ("critical", th["critical"], ymax)]
    for level, low, high in bands:
        out.append(
            f'<rect class="level-band" data-level="{level}" x="{X0}" y="{y(high):.1f}" width="{X1 - X0}" '
            f'height="{y(low) - y(high):.1f}" fill="{LEVEL_COLOURS[level]}"/>'
        )
    for pct in range(0, int(ymax) + 1, 20):
        out.append(f'<line class="grid" x1="{X0}" x2="{X1}" y1="{y(pct):.1f}" y2="{y(pct):.1f}" stroke="#ddd" stroke-width="0.5"/>')
        out.append(f'<text x="{X0 - 8}" y="{y(pct) + 4:.1f}" text-anchor="end" fill="#555">{pct}%</text>')
    out.append(f'<text x="16" y="{(Y0 + Y1) / 2:.0f}" transform="rotate(-90 16 {(Y0 + Y1) / 2:.0f})" text-anchor="middle" fill="#333">context, % of {window:,}-token window</text>')
    labels: list[tuple[float, str, str, str]] = []
    for level in ("monitor", "warning", "critical"):
        yy = y(th[level])
        out.append(
            f'<line class="threshold" data-level="{level}" x1="{X0}" x2="{X1}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{LINE_COLOURS[level]}" stroke-width="1.2" stroke-dasharray="6 4"/>'
        )
        labels.append((yy, f"{level} {th[level]:g}%", LINE_COLOURS[level], "threshold-label"))
    ya = y(autocompact_pct)
    out.append(
        f'<line class="autocompact-line" x1="{X0}" x2="{X1}" y1="{ya:.1f}" y2="{ya:.1f}" stroke="#6a1b9a" stroke-width="1.6"/>'
    )
    labels.append((ya, f"auto-compaction {autocompact_pct:.0f}%", "#6a1b9a", "autocompact-label"))
    last_y = -100.0
    for yy, text, colour, cls in sorted(labels, key=lambda item: -item[0]):  # bottom-up, nudged apart
        yy = min(yy + 4, last_y - 13) if last_y > 0 else yy + 4
        out.append(f'<text class="{cls}" x="{X1 + 8}" y="{yy:.1f}" fill="{colour}" font-weight="600">{_esc(text)}</text>')
        last_y = yy
    out += _context_lines(data, x, y, window)
    out += _compaction_markers(data, x, y, window)
    out += _rows(data, x)
    out += _time_axis(tmin, tmax, x)
    out.append(f'<rect x="{X0}" y="{Y0}" width="{X1 - X0}" height="{Y1 - Y0}" fill="none" stroke="#888"/>')
    if not data.points:
        out.append(f'<text x="{(X0 + X1) / 2}" y="{(Y0 + Y1) / 2}" text-anchor="middle" fill="#555">no main-chain responses in this transcript</text>')
    out.append("</svg>")
    return "\n".join(out)


def _context_lines(data: ReportData, x: Callable[[float], float], y: Callable[[float], float], window: int) -> list[str]:
    """One polyline per compaction epoch: the line never joins across a compaction."""
    out = []
    segments: list[list[Point]] = [[]]
    boundaries = [c.t for c in data.compactions]
    b = 0
    for p in data.points:
        while b < len(boundaries) and boundaries[b] <= p.t:
            if segments[-1]:
                segments.append([])
            b += 1
        segments[-1].append(p)
    for n, seg in enumerate(s for s in segments if s):
        coords = " ".join(f"{x(p.t):.1f},{y(p.context * 100 / window):.1f}" for p in seg)
        out.append(
            f'<polyline class="context-line" data-epoch="{n}" points="{coords}" fill="none" stroke="#1565c0" '
            'stroke-width="2" stroke-linejoin="round"/>'
        )
    if len(data.points) <= 600:
        for p in data.points:
            pct = p.context * 100 / window
            out.append(
                f'<circle class="response" cx="{x(p.t):.1f}" cy="{y(pct):.1f}" r="2.2" fill="#1565c0">'
                f"<title>{_iso(p.t)}: {p.context:,} tokens ({pct:.1f}%)</title></circle>"
            )
    return out


def _compaction_markers(data: ReportData, x: Callable[[float], float], y: Callable[[float], float], window: int) -> list[str]:
    out = []
    for n, c in enumerate(data.compactions):
        xx = x(c.t)
        before = f"{c.pre_tokens:,}" if c.pre_tokens else "?"
        after = f"{c.post_tokens:,}" if c.post_tokens else "unknown until the next response"
        title = f"compaction ({c.trigger or 'unknown trigger'}) at {_iso(c.t)}: {before} tokens → {after}"
        parts = [
            f'<g class="compaction-marker" data-trigger="{_esc(c.trigger or "")}" data-pre-tokens="{c.pre_tokens or ""}">',
            f"<title>{_esc(title)}</title>",
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{Y0}" y2="{Y1}" stroke="#6a1b9a" stroke-width="2" stroke-dasharray="3 3"/>',
            f'<text x="{xx + 4:.1f}" y="{Y0 + 14 + 14 * (n % 3)}" fill="#6a1b9a" font-weight="600">compaction ({_esc(c.trigger or "?")})</text>',
        ]
        if c.pre_tokens:
            parts.append(
                f'<circle cx="{xx:.1f}" cy="{y(c.pre_tokens * 100 / window):.1f}" r="4.5" fill="#fff" stroke="#6a1b9a" stroke-width="2"/>'
            )
        parts.append("</g>")
        out += parts
    return out


def _rows(data: ReportData, x: Callable[[float], float]) -> list[str]:
    """The subagent and checkpoint rows under the plot."""
    out = [
        f'<text x="{X0 - 8}" y="{SUB_ROW[1] - 3}" text-anchor="end" fill="#2e7d32">subagents</text>',
        f'<text x="{X0 - 8}" y="{CP_ROW[1] - 3}" text-anchor="end" fill="#37474f">checkpoints</text>',
        f'<line x1="{X0}" x2="{X1}" y1="{SUB_ROW[1] + 1}" y2="{SUB_ROW[1] + 1}" stroke="#eee"/>',
        f'<line x1="{X0}" x2="{X1}" y1="{CP_ROW[1] + 1}" y2="{CP_ROW[1] + 1}" stroke="#eee"/>',
    ]
    lanes = _lanes(data.subagents)
    height = (SUB_ROW[1] - SUB_ROW[0]) / max(len(set(lanes)), 1)
    for r, lane in zip(data.subagents, lanes):
        left, right = x(r.start), x(r.end)
        out.append(
            f'<rect class="subagent-run" x="{left:.1f}" y="{SUB_ROW[0] + lane * height:.1f}" width="{max(right - left, 3):.1f}" '
            f'height="{max(height - 1, 2):.1f}" rx="1.5" fill="#66bb6a" fill-opacity="0.8" stroke="#2e7d32" stroke-width="0.8">'
            f"<title>{_esc(r.name)}: {_iso(r.start)} – {_iso(r.end)}, {r.tokens:,} tokens</title></rect>"
        )
    drawn = time_range(data)[2]
    clusters: list[list[float]] = []  # marks closer than a triangle's width get a count beside them
    for m in drawn:
        if clusters and x(m.t) - clusters[-1][-1] < 8:
            clusters[-1].append(x(m.t))
        else:
            clusters.append([x(m.t)])
    for group in clusters:
        if len(group) > 1:
            out.append(f'<text x="{group[-1] + 8:.1f}" y="{CP_ROW[1]}" fill="#37474f" font-size="11">×{len(group)}</text>')
    for m in drawn:
        cx = x(m.t)
        top, bottom = CP_ROW
        out.append(
            f'<path class="checkpoint-marker" data-archived="{str(m.archived).lower()}" '
            f'd="M{cx:.1f},{top} L{cx + 6:.1f},{bottom} L{cx - 6:.1f},{bottom} Z" fill="{"#90a4ae" if m.archived else "#37474f"}">'
            f"<title>checkpoint {_esc(m.id)} ({_esc(m.trigger)}) {_iso(m.t)}{' (archived)' if m.archived else ''}</title></path>"
        )
    return out


def _lanes(runs: list[Run]) -> list[int]:
    """A lane per run so that parallel subagents are drawn one above the other (at most 4 lanes)."""
    ends: list[float] = []
    lanes = []
    for r in runs:  # sorted by start
        lane = next((n for n, end in enumerate(ends) if end <= r.start), None)
        if lane is None:
            lane = len(ends) if len(ends) < 4 else min(range(len(ends)), key=lambda n: ends[n])
            if lane == len(ends):
                ends.append(r.end)
        ends[lane] = max(ends[lane], r.end)
        lanes.append(lane)
    return lanes


def _time_axis(tmin: float, tmax: float, x: Callable[[float], float]) -> list[str]:
    span = tmax - tmin
    step = next((s for s in _STEPS if span / s <= 8), _STEPS[-1])
    with_date = span > 86400 or datetime.fromtimestamp(tmin, timezone.utc).date() != datetime.fromtimestamp(tmax, timezone.utc).date()
    out = []
    tick = (int(tmin) // step + 1) * step
    while tick <= tmax:
        xx = x(tick)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{Y1}" y2="{CP_ROW[1] + 4}" stroke="#ccc" stroke-width="0.5"/>')
        out.append(f'<text class="tick" x="{xx:.1f}" y="{CP_ROW[1] + 20}" text-anchor="middle" fill="#555">{_clock(tick, with_date)}</text>')
        tick += step
    out.append(f'<text x="{(X0 + X1) / 2}" y="{H - 8}" text-anchor="middle" fill="#333">time (UTC), {_iso(tmin)[:10]}</text>')
    return out


# --- the page ---------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1140px;color:#222;padding:0 12px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px;word-break:break-all}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:4px 16px;font-size:14px;margin:0}
dl.summary dt{color:#555} dl.summary dd{margin:0}
.legend span{display:inline-block;margin-right:16px;font-size:13px}
.sw{display:inline-block;width:18px;height:4px;vertical-align:middle;margin-right:5px}
pre{background:#fafafa;border:1px solid #ddd;padding:12px;overflow:auto;font-size:12px;max-height:560px;white-space:pre-wrap}
.note{color:#8d6e63;font-size:13px}
"""


def _summary(data: ReportData) -> str:
    b = data.budget
    ctx = b.get("context_tokens")
    peak = max((p.context for p in data.points), default=None)
    rows = [
        ("session", data.session_id),
        ("model", b.get("model") or "unknown"),
        ("window", f"{int(b.get('context_window') or 0):,} tokens ({b.get('window_source', '?')})"),
        ("context now", f"{ctx:,} tokens = {b.get('percent')}% [{b.get('level')}]" if ctx is not None else f"unknown [{b.get('level')}]"),
        ("auto-compaction at", f"{int(b.get('autocompact_at') or 0):,} tokens"),
        ("turns left", _turns(b)),
        ("cost", _cost(b)),
        ("peak context", f"{peak:,} tokens" if peak is not None else "-"),
        ("responses", f"{len(data.points):,} on the main chain"),
        ("compactions", str(len(data.compactions))),
        ("subagent runs", str(len(data.subagents))),
        ("checkpoints", str(len(data.checkpoints))),
    ]
    if data.points:
        rows.append(("time span", f"{_iso(data.points[0].t)} – {_iso(data.points[-1].t)}"))
    return '<dl class="summary">' + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in rows) + "</dl>"


def _turns(b: dict[str, Any]) -> str:
    from session_state import forecast

    return forecast.phrase(b.get("turns_forecast")) or "not enough turns since the last compaction to say"


def _cost(b: dict[str, Any]) -> str:
    from session_state.commands.status import cost_line

    return cost_line(b) or "unknown"


BREAKDOWN_COLOURS = {
    "System prompt": "#5c6bc0",
    "System tools": "#26a69a",
    "MCP tools": "#8d6e63",
    "System and tools": "#78909c",
    "Custom agents": "#ab47bc",
    "Memory files": "#ffa726",
    "Skills": "#d4e157",
    "Messages": "#1565c0",
    "Free space": "#eceff1",
    "Autocompact buffer": "#b0bec5",
}


def _breakdown(data: ReportData) -> str:
    """The context by component as one stacked bar across the window, then the same as a table."""
    found = data.breakdown
    if not found or not found.get("categories"):
        return '<p class="note" id="breakdown">No breakdown: nothing of the context is known yet.</p>'
    cats = found["categories"]
    whole = sum(c["tokens"] for c in cats) or 1
    width, left, bar = 1000, 0.0, []
    for cat in cats:
        w = cat["tokens"] * width / whole
        colour = BREAKDOWN_COLOURS.get(cat["name"], "#9e9e9e")
        bar.append(
            f'<rect x="{left:.1f}" y="0" width="{w:.1f}" height="28" fill="{colour}">'
            f"<title>{_esc(cat['name'])}: {cat['tokens']:,} tokens</title></rect>"
        )
        left += w
    svg = f'<svg id="breakdown-bar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 28" width="100%" height="28" role="img" aria-label="context by component">{"".join(bar)}</svg>'
    rows = ""
    for cat in cats:
        colour = BREAKDOWN_COLOURS.get(cat["name"], "#9e9e9e")
        rows += (
            f'<tr><td><i class="sw" style="background:{colour}"></i>{_esc(cat["name"])}</td>'
            f'<td class="num">{cat["tokens"]:,}</td><td class="num">{cat["tokens"] * 100 / whole:.1f}%</td></tr>'
        )
        for part in cat.get("parts", []) + cat.get("servers", []) + cat.get("files", []):
            rows += f'<tr><td>&nbsp;&nbsp;{_esc(part["name"])}</td><td class="num">{part["tokens"]:,}</td><td></td></tr>'
    largest = "".join(f"<li>{_esc(r['name'])}: {r['tokens']:,} tokens</li>" for r in found.get("largest_tool_results", []))
    return (
        f'<p class="note">Estimates ({_esc(found["method"])}; {_esc(found["source"])}); the parts sum to the exact context.</p>'
        f"{svg}<table id=\"breakdown\"><tr><th>component</th><th>tokens</th><th>of the window</th></tr>{rows}</table>"
        + (f"<p>Largest tool results in the context:</p><ul>{largest}</ul>" if largest else "")
    )


def _totals_table(data: ReportData) -> str:
    kinds = [
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache write", "cache_creation_input_tokens"),
        ("cache read", "cache_read_input_tokens"),
    ]
    cols = list(data.totals)
    head = "<tr><th>kind</th>" + "".join(f"<th>{_esc(c)}</th>" for c in cols) + "</tr>"
    body = ""
    for label, key in kinds:
        body += f"<tr><td>{label}</td>" + "".join(f'<td class="num">{data.totals[c].get(key, 0):,}</td>' for c in cols) + "</tr>"
    body += "<tr><th>total</th>" + "".join(
        f'<th class="num">{sum(data.totals[c].get(k, 0) for _, k in kinds):,}</th>' for c in cols
    ) + "</tr>"
    return f'<table id="token-totals">{head}{body}</table>'


def _events_tables(data: ReportData) -> str:
    parts = []
    if data.compactions:
        rows = "".join(
            f"<tr><td>{_iso(c.t)}</td><td>{_esc(c.trigger or '?')}</td>"
            f'<td class="num">{(f"{c.pre_tokens:,}" if c.pre_tokens else "?")}</td>'
            f'<td class="num">{(f"{c.post_tokens:,}" if c.post_tokens else "-")}</td></tr>'
            for c in data.compactions
        )
        parts.append(f'<h2>Compactions</h2><table id="compactions"><tr><th>time</th><th>trigger</th><th>tokens before</th><th>tokens after</th></tr>{rows}</table>')
    if data.subagents:
        rows = "".join(
            f'<tr><td>{_esc(r.name)}</td><td>{_iso(r.start)}</td><td>{_iso(r.end)}</td><td class="num">{r.tokens:,}</td></tr>'
            for r in data.subagents
        )
        parts.append(f'<h2>Subagent runs</h2><table id="subagents"><tr><th>transcript</th><th>start</th><th>end</th><th>tokens</th></tr>{rows}</table>')
    if data.checkpoints:
        rows = "".join(
            f"<tr><td>{_esc(m.id)}</td><td>{_iso(m.t)}</td><td>{_esc(m.trigger)}</td><td>{'archived' if m.archived else 'live'}</td></tr>"
            for m in reversed(data.checkpoints)
        )
        parts.append(f'<h2>Checkpoints</h2><table id="checkpoints"><tr><th>id</th><th>time</th><th>trigger</th><th>where</th></tr>{rows}</table>')
    return "".join(parts)


def render(data: ReportData) -> str:
    notes = list(data.notes)
    outside = len(data.checkpoints) - len(time_range(data)[2])
    if outside:
        notes.append(f"{outside} checkpoint(s) were taken far from the transcript's activity; they are listed below, not drawn.")
    legend = (
        '<p class="legend"><span><i class="sw" style="background:#1565c0"></i>context per response</span>'
        '<span><i class="sw" style="background:#6a1b9a"></i>compaction / auto-compaction line</span>'
        '<span><i class="sw" style="background:#c9a400"></i>monitor</span><span><i class="sw" style="background:#ef6c00"></i>warning</span>'
        '<span><i class="sw" style="background:#c62828"></i>critical</span>'
        '<span><i class="sw" style="background:#66bb6a;height:10px"></i>subagent run</span>'
        '<span><i class="sw" style="background:#37474f;height:10px"></i>checkpoint</span></p>'
    )
    handoff = (
        f'<pre id="handoff">{_esc(data.handoff_text)}</pre>'
        if data.handoff_text
        else '<p class="note" id="handoff">No handoff: this report was made from a transcript alone, or the session has none yet.</p>'
    )
    note_html = "".join(f'<p class="note">{_esc(n)}</p>' for n in notes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>session-state report — {_esc(data.session_id)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Context window over time</h1>
<p class="sub">{_esc(data.transcript)} · generated {_esc(data.generated)} by session-state</p>
{_summary(data)}
<h2>Context per response</h2>
{legend}
<figure style="margin:0">{chart(data)}</figure>
{note_html}
<h2>Where the context goes</h2>
{_breakdown(data)}
<h2>Token totals by kind</h2>
{_totals_table(data)}
{_events_tables(data)}
<h2>Current handoff</h2>
{handoff}
</body>
</html>
"""

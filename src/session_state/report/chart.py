"""The chart: context per response over time as an SVG drawn here (no script, no font, no network).

Level bands and threshold lines from the settings, the auto-compaction line, one polyline per
compaction epoch, compaction markers, and rows for subagent runs and checkpoints under the plot.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from session_state.report.collect import Mark, Point, ReportData, Run

W, H = 1100, 440
X0, X1 = 96, 940
Y0, Y1 = 28, 318
SUB_ROW = (332, 356)
CP_ROW = (364, 380)
LEVEL_COLOURS = {"ok": "#e8f5e9", "monitor": "#fffde7", "warning": "#fff3e0", "critical": "#ffebee"}
LINE_COLOURS = {"monitor": "#c9a400", "warning": "#ef6c00", "critical": "#c62828"}
_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]


def esc(value: Any) -> str:
    """HTML-escaped, and no control or bidi character left to reorder what the reader sees."""
    from session_state.core.inert import escape

    return html.escape(escape(str(value), keep_newlines=True), quote=True)


def _clock(t: float, with_date: bool) -> str:
    stamp = datetime.fromtimestamp(t, timezone.utc)
    return stamp.strftime("%m-%d %H:%M" if with_date else "%H:%M")


def iso(t: float) -> str:
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
        f'<title id="chart-title">Context window use of session {esc(data.session_id)} over time</title>',
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
    for level, at in (("monitor", th["monitor"]), ("warning", th["warning"]), ("critical", th["critical"])):
        yy = y(at)
        out.append(
            f'<line class="threshold" data-level="{level}" x1="{X0}" x2="{X1}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{LINE_COLOURS[level]}" stroke-width="1.2" stroke-dasharray="6 4"/>'
        )
        labels.append((yy, f"{level} {at:g}%", LINE_COLOURS[level], "threshold-label"))
    ya = y(autocompact_pct)
    out.append(
        f'<line class="autocompact-line" x1="{X0}" x2="{X1}" y1="{ya:.1f}" y2="{ya:.1f}" stroke="#6a1b9a" stroke-width="1.6"/>'
    )
    labels.append((ya, f"auto-compaction {autocompact_pct:.0f}%", "#6a1b9a", "autocompact-label"))
    last_y = -100.0
    for yy, text, colour, cls in sorted(labels, key=lambda item: -item[0]):  # bottom-up, nudged apart
        yy = min(yy + 4, last_y - 13) if last_y > 0 else yy + 4
        out.append(f'<text class="{cls}" x="{X1 + 8}" y="{yy:.1f}" fill="{colour}" font-weight="600">{esc(text)}</text>')
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
                f"<title>{iso(p.t)}: {p.context:,} tokens ({pct:.1f}%)</title></circle>"
            )
    return out


def _compaction_markers(data: ReportData, x: Callable[[float], float], y: Callable[[float], float], window: int) -> list[str]:
    out = []
    for n, c in enumerate(data.compactions):
        xx = x(c.t)
        before = f"{c.pre_tokens:,}" if c.pre_tokens else "?"
        after = f"{c.post_tokens:,}" if c.post_tokens else "unknown until the next response"
        title = f"compaction ({c.trigger or 'unknown trigger'}) at {iso(c.t)}: {before} tokens → {after}"
        parts = [
            f'<g class="compaction-marker" data-trigger="{esc(c.trigger or "")}" data-pre-tokens="{c.pre_tokens or ""}">',
            f"<title>{esc(title)}</title>",
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{Y0}" y2="{Y1}" stroke="#6a1b9a" stroke-width="2" stroke-dasharray="3 3"/>',
            f'<text x="{xx + 4:.1f}" y="{Y0 + 14 + 14 * (n % 3)}" fill="#6a1b9a" font-weight="600">compaction ({esc(c.trigger or "?")})</text>',
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
            f"<title>{esc(r.name)}: {iso(r.start)} – {iso(r.end)}, {r.tokens:,} tokens</title></rect>"
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
            f"<title>checkpoint {esc(m.id)} ({esc(m.trigger)}) {iso(m.t)}{' (archived)' if m.archived else ''}</title></path>"
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
    out.append(f'<text x="{(X0 + X1) / 2}" y="{H - 8}" text-anchor="middle" fill="#333">time (UTC), {iso(tmin)[:10]}</text>')
    return out

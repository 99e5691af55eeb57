"""The page: one self-contained HTML file around the chart (a Content Security Policy forbids any
script, font or network), with the summary, the breakdown, token totals, events and the handoff."""

from __future__ import annotations

from typing import Any

from session_state.report.chart import chart, esc, iso, time_range
from session_state.report.collect import ReportData


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
        rows.append(("time span", f"{iso(data.points[0].t)} – {iso(data.points[-1].t)}"))
    return '<dl class="summary">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows) + "</dl>"


def _turns(b: dict[str, Any]) -> str:
    from session_state.core import forecast

    return forecast.phrase(b.get("turns_forecast")) or "not enough turns since the last compaction to say"


def _cost(b: dict[str, Any]) -> str:
    from session_state.core.pricing import cost_line

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
            f"<title>{esc(cat['name'])}: {cat['tokens']:,} tokens</title></rect>"
        )
        left += w
    svg = f'<svg id="breakdown-bar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 28" width="100%" height="28" role="img" aria-label="context by component">{"".join(bar)}</svg>'
    rows = ""
    for cat in cats:
        colour = BREAKDOWN_COLOURS.get(cat["name"], "#9e9e9e")
        rows += (
            f'<tr><td><i class="sw" style="background:{colour}"></i>{esc(cat["name"])}</td>'
            f'<td class="num">{cat["tokens"]:,}</td><td class="num">{cat["tokens"] * 100 / whole:.1f}%</td></tr>'
        )
        for part in cat.get("parts", []) + cat.get("servers", []) + cat.get("files", []):
            rows += f'<tr><td>&nbsp;&nbsp;{esc(part["name"])}</td><td class="num">{part["tokens"]:,}</td><td></td></tr>'
    largest = "".join(f"<li>{esc(r['name'])}: {r['tokens']:,} tokens</li>" for r in found.get("largest_tool_results", []))
    return (
        f'<p class="note">Estimates ({esc(found["method"])}; {esc(found["source"])}); the parts sum to the exact context.</p>'
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
    head = "<tr><th>kind</th>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"
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
            f"<tr><td>{iso(c.t)}</td><td>{esc(c.trigger or '?')}</td>"
            f'<td class="num">{(f"{c.pre_tokens:,}" if c.pre_tokens else "?")}</td>'
            f'<td class="num">{(f"{c.post_tokens:,}" if c.post_tokens else "-")}</td></tr>'
            for c in data.compactions
        )
        parts.append(f'<h2>Compactions</h2><table id="compactions"><tr><th>time</th><th>trigger</th><th>tokens before</th><th>tokens after</th></tr>{rows}</table>')
    if data.subagents:
        rows = "".join(
            f'<tr><td>{esc(r.name)}</td><td>{iso(r.start)}</td><td>{iso(r.end)}</td><td class="num">{r.tokens:,}</td></tr>'
            for r in data.subagents
        )
        parts.append(f'<h2>Subagent runs</h2><table id="subagents"><tr><th>transcript</th><th>start</th><th>end</th><th>tokens</th></tr>{rows}</table>')
    if data.checkpoints:
        rows = "".join(
            f"<tr><td>{esc(m.id)}</td><td>{iso(m.t)}</td><td>{esc(m.trigger)}</td><td>{'archived' if m.archived else 'live'}</td></tr>"
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
        f'<pre id="handoff">{esc(data.handoff_text)}</pre>'
        if data.handoff_text
        else '<p class="note" id="handoff">No handoff: this report was made from a transcript alone, or the session has none yet.</p>'
    )
    note_html = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>session-state report — {esc(data.session_id)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Context window over time</h1>
<p class="sub">{esc(data.transcript)} · generated {esc(data.generated)} by session-state</p>
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

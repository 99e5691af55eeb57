"""report: the HTML page's content, from a hook-written session and from a bare transcript."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from test_cli_support import MAROT, MAROT_ID, WORKTREES, Project, bare, fresh  # noqa: F401 - fixtures

SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_of(page: str) -> ET.Element:
    """The chart, parsed as XML: it must be well-formed to be drawn at all."""
    match = re.search(r'<svg id="context-chart".*?</svg>', page, re.S)
    assert match, "no chart in the page"
    return ET.fromstring(match.group(0))


def by_class(svg: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in svg.iter() if name in (e.get("class") or "").split()]


def test_session_report_draws_everything(fresh: Project) -> None:
    fresh.ok("decide", "<script>alert('x')</script> & more", "--why", "escaping test", "--session", MAROT_ID)
    out = fresh.run("report", "--session", MAROT_ID, "--json")
    assert out.returncode == 0 and out.stderr == ""  # no progress noise when not on a terminal
    info = json.loads(out.stdout)
    page = Path(info["out"]).read_text()
    assert info["out"].endswith(f"{MAROT_ID}/report.html")
    assert info["responses"] == 152 and info["compactions"] == 1 and info["subagent_runs"] == 2
    svg = svg_of(page)
    marker = by_class(svg, "compaction-marker")
    assert len(marker) == 1 and marker[0].get("data-trigger") == "auto" and marker[0].get("data-pre-tokens") == "167094"
    assert len(by_class(svg, "context-line")) == 2  # the line breaks at the compaction
    assert {e.get("data-level") for e in by_class(svg, "threshold")} == {"monitor", "warning", "critical"}
    assert len(by_class(svg, "autocompact-line")) == 1
    assert len(by_class(svg, "subagent-run")) == 2
    checkpoints = list((fresh.session_dir(MAROT_ID) / "checkpoints").glob("*.json"))
    assert len(by_class(svg, "checkpoint-marker")) == len(checkpoints) == info["checkpoints"]
    titles = [t.text or "" for t in svg.iter(f"{SVG_NS}title")]
    assert any("166,759 tokens (83.4%)" in t for t in titles)  # the peak before the compaction
    assert any("77,334 tokens (38.7%)" in t for t in titles)  # the context now, as `budget` says
    labels = sorted(t.text or "" for t in by_class(svg, "threshold-label"))
    assert labels == ["critical 85%", "monitor 60%", "warning 75%"]
    assert "auto-compaction 84%" in [t.text for t in by_class(svg, "autocompact-label")]  # 167,000 of 200,000
    # self-contained and escaped
    assert "<script" not in page.lower().replace("&lt;script", "")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "default-src 'none'" in page
    assert 'id="token-totals"' in page and "15,405,777" in page  # all tokens, subagents included
    # where the context goes: one stacked bar over the whole window, its parts summing to it
    bar = ET.fromstring(re.search(r'<svg id="breakdown-bar".*?</svg>', page, re.S).group(0))
    parts = [t.text or "" for t in bar.iter(f"{SVG_NS}title")]
    assert parts[0].startswith("System and tools: ") and parts[1].startswith("Messages: ")
    assert sum(int(t.rsplit(": ", 1)[1].split()[0].replace(",", "")) for t in parts) == 200_000
    assert "$12.23 (price table" in page  # the session's cost, as ccusage prices it


def test_configured_thresholds_are_drawn(fresh: Project, tmp_path: Path) -> None:
    fresh.ok("config", "set", "thresholds.warning", "70")
    fresh.ok("config", "set", "autocompact_pct", "80", "--user")
    target = tmp_path / "r.html"
    fresh.ok("report", "--session", MAROT_ID, "--out", str(target))
    svg = svg_of(target.read_text())
    assert "warning 70%" in [t.text for t in by_class(svg, "threshold-label")]
    assert "auto-compaction 80%" in [t.text for t in by_class(svg, "autocompact-label")]


def test_bare_transcript_report(bare: Project, tmp_path: Path) -> None:
    """A transcript the plugin never saw: no checkpoints, no handoff, still the full chart."""
    target = tmp_path / "bare.html"
    text = bare.ok("report", "--transcript", str(WORKTREES), "--out", str(target)).strip()
    assert text == str(target.resolve())
    page = target.read_text()
    svg = svg_of(page)
    assert len(by_class(svg, "subagent-run")) == 6 and not by_class(svg, "compaction-marker")
    assert not by_class(svg, "checkpoint-marker")
    assert "No handoff" in page
    default = bare.ok("report", "--transcript", str(MAROT), cwd=tmp_path).strip()
    assert default == str(tmp_path / f"{MAROT.stem}-report.html")
    assert len(by_class(svg_of(Path(default).read_text()), "compaction-marker")) == 1


def test_report_errors(fresh: Project, tmp_path: Path) -> None:
    assert "does not exist" in fresh.fails("report", "--transcript", str(tmp_path / "missing.jsonl"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "cannot write" in fresh.fails("report", "--session", MAROT_ID, "--out", str(blocker / "r.html"))
    assert "unknown session" in fresh.fails("report", "--session", "nope")


def test_progress_on_a_terminal_only(bare: Project, tmp_path: Path) -> None:
    """Reading a transcript shows progress on a terminal's stderr and nothing when piped."""
    import pty
    import subprocess

    from test_cli_support import cli_argv

    piped = bare.run("report", "--transcript", str(MAROT), "--out", str(tmp_path / "a.html"))
    assert piped.returncode == 0 and piped.stderr == ""
    leader, follower = pty.openpty()
    try:
        run = subprocess.run(
            [*cli_argv(), "report", "--transcript", str(MAROT), "--out", str(tmp_path / "b.html")],
            env=bare.env, cwd=bare.dir, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL, timeout=120,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert run.returncode == 0
    assert f"reading {MAROT.name} (bytes): 100% ".encode() in shown

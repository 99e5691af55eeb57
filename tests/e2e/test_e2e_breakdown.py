"""`budget --breakdown` against Claude Code's own `/context`, run in the real CLI on the same session
(and the session's cost against what the CLI reports).

The stand-in API reports usage as request bytes / 4, the same measure its count_tokens gives
/context, so both sides split one total. What this checks is how each attributes that total to
categories, not Claude's real tokenizer (which nothing offline has). The bounds are the errors
measured when this was written plus a margin; benchmarks/calibrate_breakdown.py prints the table.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from session_state import cli

from .fakeapi import bash, text
from .harness import REPO_ROOT

# Largest |ours − /context| / /context per category, in percent (measured, then a margin).
BOUNDS = {  # measured 2026-11-30: −23.5, +17.4, −44.2, +11.3, −30.2, +0.9, 0, 0
    "System prompt": 35,
    "System tools": 30,
    "Custom agents": 60,
    "Memory files": 25,
    "Skills": 45,
    "Messages": 15,
    "Free space": 0,
    "Autocompact buffer": 0,
}
SOURCE = REPO_ROOT / "src" / "session_state" / "core" / "budget.py"  # a real file for the tool to read


def make_session(claude_env) -> tuple[Path, float]:
    """CLAUDE.md, a custom agent, a project skill, one Bash call that reads a code file, /context."""
    project = claude_env.project
    (project / "CLAUDE.md").write_text("# Project rules\n\nAlways write tests first. Use Python 3.11. The build runs with `make`.\n" * 20)
    (project / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "reviewer.md").write_text(
        "---\nname: reviewer\ndescription: Reviews diffs for correctness and style; use after every change to the parser.\n---\nYou review code.\n"
    )
    (project / ".claude" / "skills" / "deploy").mkdir(parents=True)
    (project / ".claude" / "skills" / "deploy" / "SKILL.md").write_text(
        "---\nname: deploy\ndescription: Deploys the service to staging with the release checklist; use when asked to ship.\n---\nSteps...\n"
    )
    shutil.copyfile(SOURCE, project / "app.py")
    claude_env.api.usage_from_body = True
    claude_env.api.add_rule("show me the app", [bash("cat app.py", "read the app"), text("That is the budget module.")])
    first = claude_env.prompt("hello there, please show me the app", allowed_tools=["Bash"])
    sid = first.session_id
    claude_env.prompt("now summarise what you saw in two words", resume=sid)
    shown = claude_env.prompt("/context", resume=sid)
    assert shown.json.get("local_command") == "context", shown.describe()
    return claude_env.transcript(sid), shown.json["total_cost_usd"]


def checked(path: Path, monkeypatch, tmp_path, e2e_notes, label: str) -> dict:
    """`budget --json --breakdown` of the session: parts sum to the total, each category in bounds."""
    monkeypatch.setenv("SESSION_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SESSION_STATE_USER_CONFIG", str(tmp_path / "none.json"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["budget", "--json", "--breakdown", str(path)]) == 0
    result = json.loads(out.getvalue())
    found = result["breakdown"]
    used = [c for c in found["categories"] if c["name"] not in ("Free space", "Autocompact buffer")]
    assert sum(c["tokens"] for c in used) == result["context_tokens"]  # the parts sum to the exact total
    assert found["claude_code_context"]["total"] == result["context_tokens"]  # /context starts from the same usage
    from session_state.state import breakdown

    rows = breakdown.against_context(found)
    e2e_notes.append(f"breakdown vs /context, {label}: " + "; ".join(f"{r['category']} {r['error_pct']:+.1f}%" for r in rows if r["error_pct"] is not None))
    for row in rows:
        assert row["category"] in BOUNDS, row
        assert row["error_pct"] is not None and abs(row["error_pct"]) <= BOUNDS[row["category"]], rows
    return result


def test_breakdown_matches_context_within_the_stated_error(claude_env, e2e_notes, monkeypatch, tmp_path):
    path, cli_cost = make_session(claude_env)
    result = checked(path, monkeypatch, tmp_path, e2e_notes, "memory, agent, skill, tool result")
    assert result["cost_source"] == "cost-state"
    assert result["cost_usd"] == pytest.approx(cli_cost, abs=1e-6)  # what the CLI itself reported (we round to 1e-6)
    found = result["breakdown"]
    tool_results = next(c for c in found["categories"] if c["name"] == "Messages")["parts"]
    assert any(p["name"] == "tool results" for p in tool_results)
    assert found["largest_tool_results"][0]["name"] == "Bash: cat app.py"


def test_after_a_compaction_only_what_followed_it_is_counted(claude_env, e2e_notes, monkeypatch, tmp_path):
    shutil.copyfile(SOURCE, claude_env.project / "app.py")
    claude_env.api.usage_from_body = True
    claude_env.api.add_rule("show me the app", [bash("cat app.py", "read the app"), bash("ls -la", "list"), text("Shown.")])
    sid = claude_env.prompt("hello there, please show me the app", allowed_tools=["Bash"]).session_id
    claude_env.prompt("/compact keep the app", resume=sid)
    claude_env.prompt("what next? answer briefly", resume=sid)
    claude_env.prompt("/context", resume=sid)
    result = checked(claude_env.transcript(sid), monkeypatch, tmp_path, e2e_notes, "after /compact")
    parts = {p["name"] for p in next(c for c in result["breakdown"]["categories"] if c["name"] == "Messages")["parts"]}
    assert "compaction summary" in parts and "tool results" not in parts  # the cat output was compacted away

"""`budget --breakdown`: the context by component, estimates that always sum to the exact total."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from session_state.state import breakdown, redactor
from session_state.core import budget, settings, transcript
from session_state import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_transcript import asst, boundary, user, write  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transcripts"
CLI_330 = next((FIXTURES / "cli-2.1.330-context").glob("*.jsonl"))
OLDER = FIXTURES / "marot-spotter" / "258c7280-ae70-4798-800f-63464d01a85d.jsonl"
SID = "11111111-2222-4333-8444-555555555555"


def of(path: Path) -> dict[str, Any]:
    cursor, _ = transcript.update(None, path, facts=False)
    return breakdown.compute(str(path), budget.compute(cursor, dict(settings.DEFAULTS)), redactor.for_settings(settings.defaults()))


def used(found: dict[str, Any]) -> int:
    return sum(c["tokens"] for c in found["categories"] if c["name"] not in (breakdown.FREE, breakdown.BUFFER))


def test_a_2_1_330_transcript_is_split_like_context_and_sums_to_the_usage_total() -> None:
    found = of(CLI_330)
    assert found["estimate"] is True and found["source"].startswith("request shape")
    assert used(found) == found["total"] == found["claude_code_context"]["total"]
    names = [c["name"] for c in found["categories"]]
    assert names == ["System prompt", "System tools", "Custom agents", "Memory files", "Skills", "Messages", "Free space", "Autocompact buffer"]
    # the calibration recorded in this file (tests/e2e/test_e2e_breakdown.py makes a fresh one)
    errors = {r["category"]: r["error_pct"] for r in breakdown.against_context(found)}
    assert abs(errors["Messages"]) <= 15 and abs(errors["System tools"]) <= 30 and abs(errors["Memory files"]) <= 25
    messages = next(c for c in found["categories"] if c["name"] == "Messages")
    assert {p["name"] for p in messages["parts"]} >= {"tool results", "user text", "assistant text", "tool calls"}
    assert sum(p["tokens"] for p in messages["parts"]) == pytest.approx(messages["tokens"], abs=len(messages["parts"]))
    assert found["largest_tool_results"][0]["name"] == "Bash: cat app.py"
    memory = next(c for c in found["categories"] if c["name"] == "Memory files")
    assert [Path(f["name"]).name for f in memory["files"]] == ["CLAUDE.md"]


def test_an_older_transcript_gets_messages_by_kind_and_the_rest_as_system_and_tools() -> None:
    found = of(OLDER)
    assert found["source"].startswith("messages only")
    names = [c["name"] for c in found["categories"]]
    assert names[:2] == ["System and tools", "Messages"] and "System prompt" not in names
    assert used(found) == found["total"] == 77_334
    assert "claude_code_context" not in found
    parts = {p["name"] for p in next(c for c in found["categories"] if c["name"] == "Messages")["parts"]}
    assert "compaction summary" in parts  # only what followed the compaction is in the context


def test_tool_result_labels_are_redacted(tmp_path: Path) -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    call = asst(1, 1, 0, 5_000, content=[{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": f"export KEY={secret}; make"}}])
    result = user([{"type": "tool_result", "tool_use_id": "t1", "content": "done " * 500}])
    found = of(write(tmp_path / f"{SID}.jsonl", user("go"), call, result, asst(1, 1, 0, 6_000)))
    label = found["largest_tool_results"][0]["name"]
    assert label.startswith("Bash: ") and secret not in label


def test_without_a_response_the_parts_are_unscaled_estimates(tmp_path: Path) -> None:
    found = of(write(tmp_path / f"{SID}.jsonl", user("hello " * 100)))
    assert found["total"] is None and used(found) > 0


def test_the_parts_sum_to_the_total_after_a_compaction(tmp_path: Path) -> None:
    summary = user("The summary of what came before. " * 50, isCompactSummary=True)
    found = of(write(tmp_path / f"{SID}.jsonl", user("x " * 3000), asst(1, 1, 0, 90_000), boundary(post=12_345), summary))
    assert used(found) == found["total"] == 12_345


def test_budget_breakdown_command_prints_the_table_and_the_json_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SESSION_STATE_USER_CONFIG", str(tmp_path / "none.json"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["budget", "--breakdown", str(CLI_330)]) == 0
    text = out.getvalue()
    assert "Where the context goes (estimates" in text and "Beside Claude Code's own /context" in text
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["budget", "--json", str(CLI_330)]) == 0
    assert "breakdown" not in json.loads(out.getvalue())  # on demand only: it reads the whole file


def test_a_context_record_without_a_total_or_with_controls_is_printed_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The /context record is transcript text: no integer total prints "?", controls are escaped."""
    monkeypatch.setenv("SESSION_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SESSION_STATE_USER_CONFIG", str(tmp_path / "none.json"))
    lines = []
    for raw in CLI_330.read_text().splitlines():
        obj = json.loads(raw)
        if isinstance(obj.get("contextUsage"), dict):
            obj["contextUsage"].pop("total_tokens", None)
            obj["timestamp"] = "2026-11-30\x1b[2J\x1b]0;owned\x07"
        lines.append(json.dumps(obj))
    path = tmp_path / CLI_330.name
    path.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["budget", "--breakdown", str(path)]) == 0
    text = out.getvalue()
    assert "(total ?;" in text and "\x1b" not in text and "\x07" not in text


def test_tool_call_labels_pass_the_sessions_own_redactor() -> None:
    """A label names the call a tool result answers: conversation text, so the user's own
    patterns apply to it as to everything written (not only the built-in rules)."""
    cfg = settings.defaults()
    cfg["redact_extra"] = [r"ACME-[0-9]{6}"]
    collector = breakdown.Collector(redactor.for_settings(cfg))
    collector.line({"type": "assistant", "message": {"model": "claude-opus-4-7", "content": [
        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "deploy --ticket ACME-123456"}}]}})
    assert collector.tool_names["t1"].startswith("Bash: deploy --ticket ") and "ACME-123456" not in collector.tool_names["t1"]

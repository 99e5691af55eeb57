"""budget.compute / budget.record and the `session-state budget` command."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from session_state.core import budget, settings, transcript
from session_state.state import models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_transcript import asst, boundary, line, write  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "transcripts"
SID = "11111111-2222-4333-8444-555555555555"


def conf(**over: Any) -> dict[str, Any]:
    return {**settings.DEFAULTS, **over}


def cursor_for(tmp_path: Path, *lines: bytes) -> dict[str, Any]:
    cursor, _ = transcript.update(None, write(tmp_path / f"{SID}.jsonl", *lines), facts=False)
    return cursor


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_AUTOCOMPACT_PCT_OVERRIDE", raising=False)


# --- window --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("claude-opus-5-5", 1_000_000),
        ("claude-sonnet-5-5", 1_000_000),
        ("claude-haiku-5-5", 1_000_000),
        ("claude-opus-4-7", 1_000_000),
        ("claude-opus-4-6", 200_000),
        ("claude-opus-4-5-20251101", 200_000),
        ("claude-sonnet-4-6", 200_000),
        ("claude-sonnet-4-5-20250929", 200_000),
        ("claude-haiku-4-5-20251001", 200_000),
        ("claude-opus-4-20250514", 200_000),
        ("claude-3-5-sonnet-20241022", 200_000),
        ("claude-sonnet-4-6[1m]", 1_000_000),
        ("claude-opus-4-1-20250805", 200_000),
        ("claude-opus-4-7-20260101", 1_000_000),
        ("opus", 1_000_000),
        ("some-proxy-model", None),
    ],
)
def test_window_for_model(model: str, window: int | None) -> None:
    assert budget.window_for_model(model) == window


def test_selected_1m_model_sets_the_window_message_model_does_not(tmp_path: Path) -> None:
    selected = {"type": "attachment", "attachment": {"type": "model", "identity": {"modelId": "claude-sonnet-4-6[1m]"}}}
    plain = cursor_for(tmp_path, asst(1, 1, 0, 100_000, model="claude-sonnet-4-6"))
    assert budget.compute(plain, conf())["context_window"] == 200_000
    chosen = cursor_for(tmp_path, line(selected), asst(1, 1, 0, 100_000, model="claude-sonnet-4-6"))
    result = budget.compute(chosen, conf())
    assert (result["context_window"], result["percent"], result["model"]) == (1_000_000, 10.0, "claude-sonnet-4-6[1m]")


def test_a_context_above_200k_proves_1m(tmp_path: Path) -> None:
    cursor = cursor_for(tmp_path, asst(1, 1, 0, 250_000), boundary(post=30_000), asst(1, 1, 0, 40_000))
    result = budget.compute(cursor, conf())
    assert result["context_window"] == 1_000_000 and result["window_source"] == "observed"
    assert result["context_tokens"] == 40_001


def test_setting_overrides_the_window(tmp_path: Path) -> None:
    cursor = cursor_for(tmp_path, asst(0, 1, 0, 50_000, model="claude-opus-5-5"))
    result = budget.compute(cursor, conf(context_window=100_000))
    assert (result["context_window"], result["percent"], result["level"]) == (100_000, 50.0, "ok")


# --- room before auto-compaction -----------------------------------------------------------


def test_autocompact_default_setting_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert budget.autocompact_at(200_000, conf()) == 167_000
    assert budget.autocompact_at(1_000_000, conf()) == 967_000
    assert budget.autocompact_at(200_000, conf(autocompact_pct=50)) == 100_000
    monkeypatch.setenv("CLAUDE_AUTOCOMPACT_PCT_OVERRIDE", "70")
    assert budget.autocompact_at(200_000, conf()) == 140_000
    assert budget.autocompact_at(200_000, conf(autocompact_pct=60)) == 120_000
    monkeypatch.setenv("CLAUDE_AUTOCOMPACT_PCT_OVERRIDE", "junk")
    assert budget.autocompact_at(200_000, conf()) == 167_000


def test_tokens_to_autocompact(tmp_path: Path) -> None:
    result = budget.compute(cursor_for(tmp_path, asst(0, 5, 0, 150_000)), conf())
    assert (result["autocompact_at"], result["tokens_to_autocompact"]) == (167_000, 17_000)
    assert result["output_tokens"] == 5


# --- levels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "level"),
    [(0, "ok"), (119_999, "ok"), (120_000, "monitor"), (150_000, "warning"), (170_000, "critical"), (199_000, "critical")],
)
def test_levels_against_the_window(tmp_path: Path, context: int, level: str) -> None:
    assert budget.compute(cursor_for(tmp_path, asst(0, 1, 0, context)), conf())["level"] == level


def test_custom_thresholds(tmp_path: Path) -> None:
    cursor = cursor_for(tmp_path, asst(0, 1, 0, 100_000))
    custom = conf(thresholds={"monitor": 40.0, "warning": 45.0, "critical": 90.0})
    assert budget.compute(cursor, custom)["level"] == "warning"


def test_unknown_without_any_response_and_after_compaction_without_post_tokens(tmp_path: Path) -> None:
    empty = budget.compute(cursor_for(tmp_path, b'{"type":"summary"}\n'), conf())
    assert (empty["context_tokens"], empty["percent"], empty["level"]) == (None, None, "unknown")
    compacted = budget.compute(cursor_for(tmp_path, asst(0, 1, 0, 170_000), boundary(post=None)), conf())
    assert (compacted["context_tokens"], compacted["level"], compacted["compacted"]) == (None, "unknown", True)
    assert compacted["tokens_to_autocompact"] is None
    with_post = budget.compute(cursor_for(tmp_path, asst(0, 1, 0, 170_000), boundary(post=12_000)), conf())
    assert (with_post["context_tokens"], with_post["level"], with_post["compactions"]) == (12_000, "ok", 1)


# --- record ------------------------------------------------------------------------------------


def fake_budget(level: str, compactions: int = 0, context: int | None = 100) -> dict[str, Any]:
    return {"level": level, "compactions": compactions, "context_tokens": context, "context_window": 200_000, "percent": 1.0}


def usage_lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (folder / "usage.jsonl").read_text().splitlines()]


def test_record_appends_and_reports_each_crossing_once(tmp_path: Path) -> None:
    folder = tmp_path / "sessions" / SID
    assert budget.record(folder, fake_budget("ok"), "Stop") == []
    assert budget.record(folder, fake_budget("warning"), "Stop") == ["monitor", "warning"]
    assert budget.record(folder, fake_budget("warning"), "Stop") == []
    assert budget.record(folder, fake_budget("monitor"), "Stop") == []
    assert budget.record(folder, fake_budget("critical"), "PreCompact") == ["critical"]
    assert budget.record(folder, fake_budget("monitor", compactions=1), "Stop") == ["monitor"]
    records = usage_lines(folder)
    assert [r.get("crossed") for r in records] == [None, ["monitor", "warning"], None, None, ["critical"], ["monitor"]]
    assert records[4]["event"] == "PreCompact" and records[0]["window"] == 200_000
    assert all(set(r) >= {"ts", "event", "context_tokens", "window", "percent", "level"} for r in records)


def test_record_validates_against_the_usage_model(tmp_path: Path) -> None:
    budget.record(tmp_path, fake_budget("critical"), "Stop")
    budget.record(tmp_path, fake_budget("unknown", context=None), "Stop")
    for entry in usage_lines(tmp_path):
        models.UsageRecord.model_validate(entry)


def _race(args: tuple[str, str]) -> list[str]:
    folder, level = args
    return budget.record(Path(folder), fake_budget(level), "Stop")


@pytest.mark.stress
def test_concurrent_records_cross_each_level_exactly_once(tmp_path: Path) -> None:
    folder = str(tmp_path / "s")
    jobs = [(folder, level) for level in ("monitor", "warning", "critical") * 8]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        results = pool.map(_race, jobs)
    crossed = sorted(level for result in results for level in result)
    assert crossed == ["critical", "monitor", "warning"]
    assert len(usage_lines(Path(folder))) == len(jobs)


# --- the command --------------------------------------------------------------------------


def run_cli(*argv: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # Not `-m session_state.cli`: run as __main__, its CliError would be a different class.
        [sys.executable, "-c", "import sys; from session_state.cli import main; sys.exit(main())", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "SESSION_STATE"))}
    clean.update(
        SESSION_STATE_DIR=str(tmp_path / "state"),
        CLAUDE_PROJECT_DIR=str(tmp_path / "project"),
        SESSION_STATE_USER_CONFIG=str(tmp_path / "none.json"),
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
    )
    return clean


def test_command_json_has_the_contract_fields(env: dict[str, str]) -> None:
    path = FIXTURES / "-experiments-worktrees" / "ef958aa1-0e93-49f0-bb71-150f63befcd1.jsonl"
    done = run_cli("budget", "--json", str(path), env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("context_tokens", "context_window", "percent", "level", "model", "output_tokens", "compacted", "totals"):
        assert key in result
    expected = json.loads((FIXTURES / "expected.json").read_text())
    session = next(s for s in expected["ccusage_sessions"] if s["sessionId"].startswith("ef958aa1"))
    assert result["totals"]["output_tokens"] == session["outputTokens"]
    assert result["context_tokens"] == 66_603


def test_command_human_output_is_a_few_labelled_lines(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path / f"{SID}.jsonl", asst(1, 1, 0, 150_000), boundary(post=20_000))
    done = run_cli("budget", str(path), env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert 3 <= len(lines) <= 8
    assert "20,000" in lines[0] and "estimate" in lines[0]


def test_command_missing_file_exits_2_naming_the_path(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    done = run_cli("budget", str(missing), env=env)
    assert done.returncode == 2 and str(missing) in done.stderr and done.stdout == ""


def test_command_finds_a_session_via_the_state_store(env: dict[str, str], tmp_path: Path) -> None:
    projects = Path(env["CLAUDE_CONFIG_DIR"]) / "projects" / "-some-project"
    projects.mkdir(parents=True)
    path = write(projects / "renamed.jsonl", asst(1, 1, 0, 42_000))
    folder = Path(env["SESSION_STATE_DIR"]) / "sessions" / "my-session"
    folder.mkdir(parents=True)
    (folder / "cursor.json").write_text(json.dumps({"v": 1, "path": str(path), "offset": 0}))
    done = run_cli("budget", "--json", "--session", "my-session", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["context_tokens"] == 42_001
    # a stored path outside Claude Code's projects folder is never followed (it may be planted)
    planted = write(tmp_path / "elsewhere.jsonl", asst(1, 1, 0, 42_000))
    (folder / "cursor.json").write_text(json.dumps({"v": 1, "path": str(planted), "offset": 0}))
    refused = run_cli("budget", "--json", "--session", "my-session", env=env)
    assert refused.returncode == 2 and "no transcript found" in refused.stderr


def test_command_finds_a_session_under_claude_config_dir(env: dict[str, str]) -> None:
    project = Path(env["CLAUDE_CONFIG_DIR"]) / "projects" / "-home-user-proj"
    project.mkdir(parents=True)
    write(project / f"{SID}.jsonl", asst(1, 1, 0, 7_000))
    done = run_cli("budget", "--json", "--session", SID, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["context_tokens"] == 7_001
    unknown = run_cli("budget", "--session", "no-such-session", env=env)
    assert unknown.returncode == 2 and "no-such-session" in unknown.stderr


def test_command_does_not_write_the_hooks_cursor(env: dict[str, str], tmp_path: Path) -> None:
    (Path(env["CLAUDE_CONFIG_DIR"]) / "projects" / "p").mkdir(parents=True)
    path = write(Path(env["CLAUDE_CONFIG_DIR"]) / "projects" / "p" / f"{SID}.jsonl", asst(1, 1, 0, 1_000))
    stored, _ = transcript.update(None, path)
    folder = Path(env["SESSION_STATE_DIR"]) / "sessions" / SID
    folder.mkdir(parents=True)
    (folder / "cursor.json").write_text(json.dumps(stored))
    with open(path, "ab") as handle:
        handle.write(asst(1, 1, 0, 2_000))
    done = run_cli("budget", "--json", "--session", SID, env=env)
    assert json.loads(done.stdout)["context_tokens"] == 2_001
    assert json.loads((folder / "cursor.json").read_text())["offset"] == stored["offset"]


def test_hot_tier_outputs_validate_against_their_models(tmp_path: Path) -> None:
    cursor = cursor_for(tmp_path, asst(1, 1, 0, 50_000), boundary(post=9_000))
    models.TranscriptCursor.model_validate(json.loads(json.dumps(cursor)))
    models.Budget.model_validate(budget.compute(cursor, conf()))
    models.Budget.model_validate(budget.compute(cursor_for(tmp_path, b"{}\n"), conf()))


def test_the_auto_compaction_point_matches_the_compactions_in_the_corpus() -> None:
    """Every `auto` compact_boundary fired at or just above autocompact_at(its window)."""
    from conftest import shared_or_skip

    corpus = shared_or_skip("fixtures", "transcripts", "projects")
    seen = []
    for path in corpus.rglob("*.jsonl"):
        for raw in path.read_bytes().splitlines():
            if b"compact_boundary" not in raw:
                continue
            meta = json.loads(raw).get("compactMetadata") or {}
            if meta.get("trigger") == "auto":
                seen.append(meta["preTokens"])
    assert len(seen) >= 4
    point = budget.autocompact_at(200_000, conf())
    # a turn can overshoot the point before the check runs; it never fires below it
    assert all(point <= pre <= point + 5_000 for pre in seen), (point, sorted(seen))


def test_claude_codes_reported_context_wins_and_says_which_source(tmp_path: Path) -> None:
    cursor = cursor_for(tmp_path, asst(1, 1, 0, 50_000))
    mine = budget.compute(cursor, conf())
    block = {"context_window_size": 200_000, "used_percentage": 60, "total_input_tokens": 9_000_000}
    theirs = budget.with_reported(mine, block, conf(), "hook input", cursor["turns"])
    assert (mine["context_tokens"], mine["context_source"]) == (50_001, "response")
    assert (theirs["context_tokens"], theirs["context_source"], theirs["level"]) == (120_000, "hook input", "monitor")
    assert theirs["tokens_to_autocompact"] == 47_000
    for unusable in (None, "x", {"used_percentage": 60}, {"context_window_size": 0, "used_percentage": 1}, {"context_window_size": 200_000}):
        assert budget.with_reported(mine, unusable, conf(), "hook input") is mine


def test_an_earlier_auto_compaction_far_below_the_default_point_moves_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [asst(1, 1, 0, 367_000, model="claude-opus-4-7"), boundary(post=40_000, pre=367_641), asst(1, 1, 0, 100_000, model="claude-opus-4-7")]
    got = budget.compute(cursor_for(tmp_path, *lines), conf())
    assert (got["autocompact_at"], got["autocompact_source"], got["tokens_to_autocompact"]) == (367_641, "observed compaction", 267_640)
    near = [asst(1, 1, 0, 160_000), boundary(post=40_000, pre=168_000), asst(1, 1, 0, 50_000)]
    assert budget.compute(cursor_for(tmp_path, *near), conf())["autocompact_source"] == "default"  # where expected
    manual = [asst(1, 1, 0, 100_000), boundary(post=30_000, pre=100_000, trigger="manual"), asst(1, 1, 0, 50_000)]
    assert budget.compute(cursor_for(tmp_path, *manual), conf())["autocompact_at"] == 167_000  # /compact says nothing
    monkeypatch.setenv("CLAUDE_AUTOCOMPACT_PCT_OVERRIDE", "50")
    got = budget.compute(cursor_for(tmp_path, *lines), conf())
    assert (got["autocompact_at"], got["autocompact_source"]) == (500_000, "setting")  # a setting wins

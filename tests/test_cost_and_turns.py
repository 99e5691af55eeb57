"""Cost in USD (cost-state lines, the shipped price table, the user's prices) and turns left
before auto-compaction (per-turn growth kept by the reader, the forecast, its reset)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from session_state.core import budget, forecast, pricing, transcript
from session_state.state import config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_budget import FIXTURES, SID, clean_env, conf  # noqa: E402,F401 - clean_env is autouse
from test_transcript import asst, boundary, line, user, write  # noqa: E402


def cost_state(total: float, models: dict[str, float], unknown: bool = False) -> bytes:
    """The shape 2.1.330 writes (../shared/fixtures/transcript-2.1.330-line-examples.txt)."""
    return line(
        {
            "type": "cost-state",
            "sessionId": SID,
            "totalCostUSD": total,
            "modelUsage": {m: {"inputTokens": 1, "costUSD": c} for m, c in models.items()},
            "hasUnknownModelCost": unknown,
        }
    )


# --- cost ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["-experiments-worktrees/ef958aa1-0e93-49f0-bb71-150f63befcd1", "marot-spotter/258c7280-ae70-4798-800f-63464d01a85d"])
def test_in_repo_sessions_cost_what_ccusage_says_within_1_percent(stem: str) -> None:
    expected = json.loads((FIXTURES / "expected.json").read_text())["ccusage_sessions"]
    session = next(s for s in expected if stem.endswith(s["sessionId"]))
    cursor, _ = transcript.update(None, FIXTURES / f"{stem}.jsonl", facts=False)
    got = pricing.session_cost(cursor, conf())
    assert got["cost_source"].startswith("price table ")
    assert got["cost_usd"] == pytest.approx(session["totalCost"], rel=0.01)
    for row in session["modelBreakdowns"]:
        assert got["cost_by_model"][row["modelName"]] == pytest.approx(row["cost"], rel=0.01)
    assert got["cost_by_subagent"], "its subagents' spend is shown apart"
    assert sum(got["cost_by_subagent"].values()) < got["cost_usd"]


def test_one_hour_cache_writes_cost_more_than_five_minute_ones(tmp_path: Path) -> None:
    five = asst(0, 0, 1_000_000, 0, model="claude-sonnet-4-5")
    hour = asst(0, 0, 1_000_000, 0, model="claude-sonnet-4-5")
    obj = json.loads(hour)
    obj["message"]["usage"]["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_000_000}
    a, _ = transcript.update(None, write(tmp_path / "a.jsonl", five), facts=False)
    b, _ = transcript.update(None, write(tmp_path / "b.jsonl", line(obj)), facts=False)
    assert pricing.session_cost(a, conf())["cost_usd"] == pytest.approx(3.75)
    assert pricing.session_cost(b, conf())["cost_usd"] == pytest.approx(6.0)


def test_repeated_lines_of_one_response_are_priced_once(tmp_path: Path) -> None:
    lines = [asst(10, n, 100, 1000, mid="m1", rid="r1", model="claude-haiku-4-5") for n in (1, 5, 40)]
    cursor, _ = transcript.update(None, write(tmp_path / "s.jsonl", *lines), facts=False)
    row = cursor["file_models"]["claude-haiku-4-5"]
    assert row == [10, 40, 100, 1000, 0, 1]  # the largest line, one response
    assert pricing.session_cost(cursor, conf())["cost_usd"] == pytest.approx((10 * 1 + 40 * 5 + 100 * 1.25 + 1000 * 0.1) / 1e6)


def test_cost_state_lines_are_claude_codes_own_figure_and_the_latest_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path / f"{SID}.jsonl",
        asst(4, 10, 12312, 0, model="claude-opus-5-5"),
        cost_state(0.03, {"claude-opus-5-5": 0.03}),
        cost_state(0.061776, {"claude-opus-5-5": 0.061776}),
    )
    cursor, _ = transcript.update(None, path, facts=False)
    got = pricing.session_cost(cursor, conf())
    assert (got["cost_usd"], got["cost_source"]) == (0.061776, "cost-state")
    assert got["cost_by_model"] == {"claude-opus-5-5": 0.061776}
    # the table's 5.x rates were solved from such lines: usage × table gives the same figure
    assert got["cost_estimate_usd"] == pytest.approx(0.061776)


def test_a_real_2_1_330_session_costs_what_the_cli_reported() -> None:
    """Its three runs (-p, --resume, /context) each wrote cost-state; the CLI's JSON result said $0.19172."""
    path = next((FIXTURES / "cli-2.1.330-context").glob("*.jsonl"))
    cursor, _ = transcript.update(None, path, facts=False)
    got = budget.compute(cursor, conf())
    assert (got["cost_usd"], got["cost_source"], got["cost_by_model"]) == (0.19172, "cost-state", {"claude-opus-5-5": 0.19172})
    assert got["cost_estimate_usd"] == pytest.approx(0.19172)  # the table agrees with Claude Code


def test_a_model_without_a_price_has_no_cost_rather_than_a_guess(tmp_path: Path) -> None:
    cursor, _ = transcript.update(None, write(tmp_path / "s.jsonl", asst(1, 1, 0, 10, model="some-proxy-model")), facts=False)
    got = pricing.session_cost(cursor, conf())
    assert got["cost_usd"] is None and got["unpriced_models"] == ["some-proxy-model"]


def test_the_users_prices_override_the_table_and_a_projects_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {"input": 0, "output": 0, "cache_write_5m": 0, "cache_write_1h": 0, "cache_read": 10}
    user_file = tmp_path / "user.json"
    user_file.write_text(json.dumps({"prices": {"some-proxy": rates}}))
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "session-state.json").write_text(json.dumps({"prices": {"claude-haiku-4-5": rates}}))
    monkeypatch.setenv("SESSION_STATE_USER_CONFIG", str(user_file))
    monkeypatch.setenv("SESSION_STATE_DIR", str(tmp_path / "state"))
    values, origin, errors = config.resolve(project)
    assert set(values["prices"]) == {"some-proxy"} and origin["prices"] == str(user_file)
    assert any("'prices'" in e and "misstate" in e for e in config.ignored_project_keys(project)) and not errors
    cursor, _ = transcript.update(None, write(tmp_path / "s.jsonl", asst(0, 0, 0, 100_000, model="some-proxy-model")), facts=False)
    assert pricing.session_cost(cursor, values)["cost_usd"] == pytest.approx(1.0)


def test_a_bad_price_names_the_key_the_value_and_what_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_file = tmp_path / "user.json"
    user_file.write_text(json.dumps({"prices": {"x": {"input": -1}}}))
    monkeypatch.setenv("SESSION_STATE_USER_CONFIG", str(user_file))
    monkeypatch.setenv("SESSION_STATE_DIR", str(tmp_path / "state"))
    _, _, errors = config.resolve(tmp_path)
    assert errors and "prices" in errors[0] and "USD per million tokens" in errors[0]


def test_the_shipped_table_says_its_date_and_source_and_every_row_is_complete() -> None:
    table = pricing.shipped_table()
    assert table["date"] and table["source"] and table["unit"] == "USD per million tokens"
    for rates in table["models"].values():
        config.ModelPrice.model_validate(rates)


# --- subagent transcripts ------------------------------------------------------------------


def test_a_subagents_own_transcript_reports_its_latest_context() -> None:
    expected = json.loads((FIXTURES / "expected.json").read_text())["context_at_end"]
    entry = next(e for e in expected if "/subagents/" in e["file"])
    cursor, _ = transcript.update(None, FIXTURES / entry["file"], facts=False)
    got = budget.compute(cursor, conf())
    assert got["context_tokens"] == entry["ccusage_statusline_context_tokens"]
    assert got["context_source"] == "subagent response"


# --- turns left ----------------------------------------------------------------------------


def turns(*contexts: int) -> list[bytes]:
    """One typed prompt and one response per context figure."""
    out: list[bytes] = []
    for ctx in contexts:
        out += [user("next step please"), asst(1, 100, 0, ctx - 1)]
    return out


def test_growth_per_turn_is_kept_and_tool_results_do_not_start_turns(tmp_path: Path) -> None:
    result = user([{"type": "tool_result", "tool_use_id": "t1", "content": "x"}])
    lines = [*turns(20_000, 30_000), result, asst(1, 1, 0, 34_999), *turns(50_000)]
    for facts in (False, True):
        cursor, _ = transcript.update(None, write(tmp_path / f"{SID}.jsonl", *lines), facts=facts)
        # turn 2 ran 20k -> 35k through a tool call; turn 3 (to 50k) is still running
        assert cursor["turns"] == {"at": 35_000, "deltas": [15_000]}


def test_forecast_divides_the_room_by_the_median_growth(tmp_path: Path) -> None:
    contexts = [20_000 + 10_000 * i for i in range(8)]  # 90k at the end, 10k a turn
    cursor, _ = transcript.update(None, write(tmp_path / f"{SID}.jsonl", *turns(*contexts)), facts=False)
    got = budget.compute(cursor, conf())
    assert got["tokens_to_autocompact"] == 167_000 - 90_000
    assert got["turns_to_autocompact"] == 7  # 77k / 10k
    assert got["turns_forecast"]["low"] <= 7 <= got["turns_forecast"]["high"]
    assert forecast.phrase(got["turns_forecast"]).startswith("about 7 turns left")


def test_forecast_resets_at_each_compaction(tmp_path: Path) -> None:
    lines = [*turns(20_000, 60_000, 100_000, 160_000), boundary(post=30_000), *turns(40_000)]
    cursor, _ = transcript.update(None, write(tmp_path / f"{SID}.jsonl", *lines), facts=False)
    assert cursor["turns"] == {"at": 30_000, "deltas": []}  # counted again from postTokens
    assert forecast.growths(cursor["turns"], 40_000) == [10_000]
    got = budget.compute(cursor, conf())
    assert got["turns_to_autocompact"] is None  # the running turn alone is not enough
    cursor, _ = transcript.update(cursor, write(tmp_path / f"{SID}.jsonl", *lines, *turns(50_000)), facts=False)
    assert budget.compute(cursor, conf())["turns_to_autocompact"] is not None


def test_no_forecast_before_two_turns() -> None:
    assert forecast.turns_left([5_000], 100_000) is None
    assert forecast.turns_left([5_000, 5_000], None) is None
    assert forecast.phrase(forecast.turns_left([5_000, 5_000], 1_000)) == "auto-compaction likely during the next turn"


def test_a_missing_price_table_means_unpriced_never_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "_table", None)
    monkeypatch.setattr(pricing, "TABLE", str(tmp_path / "gone.json"))
    cursor, _ = transcript.update(None, write(tmp_path / "s.jsonl", asst(1, 1, 0, 10, model="claude-haiku-4-5")), facts=False)
    got = budget.compute(cursor, conf())
    assert got["cost_usd"] is None and got["unpriced_models"] == ["claude-haiku-4-5"]
    monkeypatch.setattr(pricing, "_table", None)

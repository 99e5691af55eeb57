"""The wider corpus in ../shared: every file's context at end, every ccusage session's totals,
and chunked reads that must give the same cursor as one full read.

Runs `session-state budget --json` in-process (the same code path as the command line, without
105 interpreter starts). Skips with a message when ../shared is not beside the repository.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from session_state import cli
from session_state.core import transcript

pytestmark = pytest.mark.corpus

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CORPUS = SHARED / "fixtures" / "transcripts"


def corpus() -> Path:
    if not (CORPUS / "projects").is_dir():
        pytest.skip(f"{CORPUS} is not present: the wider corpus lives in ../shared beside the repository")
    return CORPUS


def budget_json(*argv: str) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["budget", "--json", *argv])
    assert code == 0
    return json.loads(out.getvalue())


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user state or config may leak into the figures."""
    monkeypatch.setenv("SESSION_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path / "project"))
    monkeypatch.setenv("SESSION_STATE_USER_CONFIG", str(tmp_path / "none.json"))
    monkeypatch.delenv("CLAUDE_AUTOCOMPACT_PCT_OVERRIDE", raising=False)
    monkeypatch.delenv("CLAUDE_CODE_SESSION_ID", raising=False)
    return tmp_path


def context_entries() -> list[dict[str, Any]]:
    path = CORPUS / "expected" / "context-at-end.json"
    if not path.exists():
        return []
    return [e for e in json.loads(path.read_text()) if isinstance(e.get("file"), str)]


def test_every_file_context_at_end(isolated: Path) -> None:
    root = corpus()
    entries = context_entries()
    files = sorted(p.relative_to(root).as_posix() for p in (root / "projects").rglob("*.jsonl"))
    assert sorted(e["file"] for e in entries) == files, "expected/ must cover every corpus file"
    wrong = []
    for entry in entries:
        # context_tokens: the main-chain rule, and for a subagent's own transcript its latest line.
        got = budget_json(str(root / entry["file"]))
        if got["context_tokens"] != entry["context_tokens"]:
            wrong.append((entry["file"], got["context_tokens"], entry["context_tokens"]))
    assert wrong == [], f"{len(wrong)} of {len(entries)} files differ"
    assert len(entries) == 105


def test_every_ccusage_session_totals(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = corpus()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    sessions = json.loads((root / "expected" / "ccusage-20.0.24-session.json").read_text())["sessions"]
    wrong = []
    for session in sessions:
        # ccusage names a session by its file (or, for subagent files, their session folder).
        got = budget_json("--session", session["sessionId"])["totals"]
        want = {
            "input_tokens": session["inputTokens"],
            "output_tokens": session["outputTokens"],
            "cache_creation_input_tokens": session["cacheCreationTokens"],
            "cache_read_input_tokens": session["cacheReadTokens"],
        }
        if got != want:
            wrong.append((session["projectPath"], session["sessionId"], got, want))
    assert wrong == [], f"{len(wrong)} of {len(sessions)} sessions differ"
    assert len(sessions) == 84


def test_every_ccusage_session_cost(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """USD per session and per model within 1% of ccusage 20.0.24 (which prices 1 h cache writes
    apart, as the shipped table does): 84 of 84 sessions, 93 of 93 model rows."""
    root = corpus()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    sessions = json.loads((root / "expected" / "ccusage-20.0.24-session.json").read_text())["sessions"]
    sessions_ok, rows, rows_ok, wrong = 0, 0, 0, []
    for session in sessions:
        got = budget_json("--session", session["sessionId"])
        assert got["cost_source"].startswith("price table"), "the corpus predates cost-state lines"
        if abs(got["cost_usd"] - session["totalCost"]) <= 0.01 * session["totalCost"]:
            sessions_ok += 1
        else:
            wrong.append((session["sessionId"], got["cost_usd"], session["totalCost"]))
        for model in session["modelBreakdowns"]:
            rows += 1
            mine = got["cost_by_model"].get(model["modelName"])
            if mine is not None and abs(mine - model["cost"]) <= 0.01 * model["cost"]:
                rows_ok += 1
            else:
                wrong.append((session["sessionId"], model["modelName"], mine, model["cost"]))
    assert wrong == []
    assert (sessions_ok, len(sessions), rows_ok, rows) == (84, 84, 93, 93)


def test_every_breakdown_sums_to_the_exact_context(isolated: Path) -> None:
    """On every corpus file the parts of `budget --breakdown` add up to `context_tokens` exactly."""
    root = corpus()
    wrong = []
    for entry in context_entries():
        got = budget_json("--breakdown", str(root / entry["file"]))
        found = got["breakdown"]
        used = sum(c["tokens"] for c in found["categories"] if c["name"] not in ("Free space", "Autocompact buffer"))
        if got["context_tokens"] is not None and used != got["context_tokens"]:
            wrong.append((entry["file"], used, got["context_tokens"]))
        if any(c["tokens"] < 0 for c in found["categories"]):
            wrong.append((entry["file"], "negative part", found["categories"]))
    assert wrong == []


FIGURES = (
    "offset", "skipping", "bad_lines", "long_lines", "last_usage", "side_usage", "compacted",
    "post_tokens", "compactions", "last_compaction", "model_selected", "max_context",
    "file_totals", "totals", "dedup", "first_session_id", "git_branch", "cwd", "version", "pending",
    "file_models", "cost_state", "turns",
)  # fmt: skip


def test_chunked_reads_equal_one_full_read(tmp_path: Path) -> None:
    root = corpus()
    rng = random.Random(20260222)
    mismatched = []
    for source in sorted((root / "projects").rglob("*.jsonl")):
        data = source.read_bytes()
        whole_path = tmp_path / "whole" / source.name
        whole_path.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, whole_path)
        whole, whole_facts = transcript.update(None, whole_path)
        figures_only, _ = transcript.update(None, whole_path, facts=False)
        # the figures-only read (the per-turn hooks) keeps no free text: no task subjects, no branch
        if any(figures_only[k] != whole[k] for k in FIGURES if k not in ("pending", "git_branch")) or figures_only["git_branch"]:
            mismatched.append(f"{source.name} (facts=False)")
        grown = tmp_path / "grown" / source.name
        grown.parent.mkdir(exist_ok=True)
        grown.write_bytes(b"")
        cuts = sorted(rng.sample(range(1, len(data)), min(12, max(len(data) - 1, 0))))
        cursor: dict[str, Any] | None = None
        facts: list[dict[str, Any]] = []
        for a, b in zip([0, *cuts], [*cuts, len(data)]):
            with open(grown, "ab") as handle:
                handle.write(data[a:b])
            cursor, new = transcript.update(cursor, grown)
            facts += new
            cursor = json.loads(json.dumps(cursor))
        assert cursor is not None
        if any(cursor[k] != whole[k] for k in FIGURES) or _stable(facts) != _stable(whole_facts):
            mismatched.append(source.name)
        os.unlink(grown)
    assert mismatched == []


def _stable(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All facts but `assistant`, which keeps only the latest text of each update by design."""
    return sorted((f for f in facts if f["k"] != "assistant"), key=lambda f: f["id"])

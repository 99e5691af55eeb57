"""`session-state statusline`: one line from Claude Code's statusline JSON, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_transcript import asst, boundary, write  # noqa: E402

SID = "11111111-2222-4333-8444-555555555555"
HEAVY = ("pydantic", "orjson", "filelock", "tiktoken", "toons")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "SESSION_STATE"))}
    clean.update(
        SESSION_STATE_DIR=str(tmp_path / "state"),
        SESSION_STATE_USER_CONFIG=str(tmp_path / "none.json"),
        CLAUDE_PROJECT_DIR=str(tmp_path / "project"),
    )
    return clean


def statusline(stdin: str | bytes, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "session_state.commands.statusline"], input=data, capture_output=True, env=env, timeout=30
    )


def one_line(done: subprocess.CompletedProcess[bytes]) -> str:
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert text.endswith("\n") and text.count("\n") == 1
    return text.strip()


def payload(**fields: Any) -> str:
    return json.dumps({"session_id": SID, "hook_event_name": "Status", **fields})


def test_uses_claude_codes_context_window_figures(env: dict[str, str]) -> None:
    block = {
        "used_percentage": 42.5,
        "context_window_size": 200_000,
        "total_input_tokens": 9_000_000,  # a session sum before 2.1.132: never the context
        "current_usage": {"input_tokens": 5, "cache_creation_input_tokens": 1_000, "cache_read_input_tokens": 84_000},
    }
    line = one_line(statusline(payload(context_window=block), env))
    assert line.startswith("ctx 43% ")
    assert "ok" in line and "81k to compact" in line  # 167,000 - 85,005, rounded down


def test_used_percentage_alone_is_enough(env: dict[str, str]) -> None:
    line = one_line(statusline(payload(context_window={"used_percentage": 80, "context_window_size": 1_000_000}), env))
    assert line.startswith("ctx 80% ") and "warning" in line and "167k to compact" in line


def test_falls_back_to_the_transcript(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path / f"{SID}.jsonl", asst(1, 1, 0, 160_000))
    line = one_line(statusline(payload(transcript_path=str(path), context_window={"used_percentage": None}), env))
    assert line.startswith("ctx 80% ") and "warning" in line and "6k to compact" in line


def test_after_compaction_without_post_tokens_the_gauge_is_unknown(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path / f"{SID}.jsonl", asst(1, 1, 0, 170_000), boundary(post=None))
    line = one_line(statusline(payload(transcript_path=str(path)), env))
    assert line.startswith("ctx ? ") and "unknown" in line


def test_shows_the_age_of_the_newest_checkpoint(env: dict[str, str]) -> None:
    folder = Path(env["SESSION_STATE_DIR"]) / "sessions" / SID / "checkpoints"
    folder.mkdir(parents=True)
    old, new = folder / "a.json", folder / "b.json"
    old.write_text("{}")
    new.write_text("{}")
    now = time.time()
    os.utime(old, (now - 7200, now - 7200))
    os.utime(new, (now - 12 * 60 - 5, now - 12 * 60 - 5))
    line = one_line(statusline(payload(context_window={"used_percentage": 10, "context_window_size": 200_000}), env))
    assert line.endswith("ckpt 12m ago")


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]", "null", b"\xff\xfe", '{"context_window": "x"}', '{"transcript_path": 5}'])
def test_bad_input_still_prints_a_line(env: dict[str, str], stdin: str | bytes) -> None:
    line = one_line(statusline(stdin, env))
    assert line.startswith("ctx ?")


def test_missing_transcript_is_unknown_not_a_crash(env: dict[str, str], tmp_path: Path) -> None:
    line = one_line(statusline(payload(transcript_path=str(tmp_path / "gone.jsonl")), env))
    assert line.startswith("ctx ?")


def test_the_statusline_path_imports_no_heavy_module(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path / f"{SID}.jsonl", asst(0, 1, 0, 10_000))
    code = (
        "import io, sys, json\n"
        f"sys.stdin = io.TextIOWrapper(io.BytesIO(json.dumps({{'session_id': '{SID}', 'transcript_path': {str(path)!r}}}).encode()))\n"
        "from session_state.commands import statusline\n"
        "statusline.run()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    first, loaded = done.stdout.strip().splitlines()
    assert first.startswith("ctx 5% ")
    assert loaded == "[]"


def test_keeps_its_own_cursor_and_never_touches_the_hooks_one(env: dict[str, str], tmp_path: Path) -> None:
    from session_state.core import transcript

    path = write(tmp_path / f"{SID}.jsonl", asst(0, 1, 0, 20_000))
    folder = Path(env["SESSION_STATE_DIR"]) / "sessions" / SID
    folder.mkdir(parents=True)
    hooks_cursor, _ = transcript.update(None, path)
    (folder / "cursor.json").write_text(json.dumps(hooks_cursor))
    with open(path, "ab") as handle:
        handle.write(asst(0, 1, 0, 40_000))
    assert one_line(statusline(payload(transcript_path=str(path)), env)).startswith("ctx 20% ")
    own = json.loads((folder / "statusline-cursor.json").read_text())
    assert own["offset"] == path.stat().st_size
    assert json.loads((folder / "cursor.json").read_text()) == hooks_cursor
    with open(path, "ab") as handle:
        handle.write(asst(0, 1, 0, 60_000))
    assert one_line(statusline(payload(transcript_path=str(path)), env)).startswith("ctx 30% ")
    assert json.loads((folder / "statusline-cursor.json").read_text())["totals"]["output_tokens"] == 3


def test_turns_and_cost_come_from_the_transcript_without_a_payload_figure(env: dict[str, str], tmp_path: Path) -> None:
    from test_transcript import user

    lines = []
    for tokens in (40_000, 60_000, 80_000, 100_000):  # 20k a turn: 67k of room is 3 turns
        lines += [user("go on"), asst(0, 1_000_000, 0, tokens, model="claude-haiku-4-5")]
    path = write(tmp_path / f"{SID}.jsonl", *lines)
    line = one_line(statusline(payload(transcript_path=str(path)), env))
    assert "67k ~3 turns to compact" in line
    assert "$20.03" in line  # 4M output at $5/M + 280k cache read at $0.10/M = $20.028


def test_claude_codes_own_figures_win_over_the_transcript(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path / f"{SID}.jsonl", asst(0, 1, 0, 10_000, model="claude-haiku-4-5"))
    block = {"context_window_size": 200_000, "current_usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100_000}}
    line = one_line(statusline(payload(transcript_path=str(path), context_window=block, cost={"total_cost_usd": 1.5}), env))
    assert line.startswith("ctx 50% ") and "$1.50" in line and "67k to compact" in line

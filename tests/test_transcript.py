"""transcript.update on small hand-built transcripts: one test per rule, plus the in-repo fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from session_state.core import transcript
from session_state.core.facts import CMD_CHARS, PROMPT_CHARS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transcripts"
SID = "11111111-2222-4333-8444-555555555555"
_counter = iter(range(10**9))


def line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def asst(
    inp: int,
    out: int,
    cc: int = 0,
    cr: int = 0,
    *,
    mid: str | None = None,
    rid: str | None = None,
    model: str = "claude-opus-4-6",
    side: bool = False,
    content: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> bytes:
    n = next(_counter)
    obj = {
        "parentUuid": None,
        "isSidechain": side,
        "type": "assistant",
        "uuid": f"a-{n}",
        "timestamp": f"2026-01-01T00:00:{n % 60:02d}Z",
        "sessionId": SID,
        "version": "2.1.330",
        "gitBranch": "main",
        "cwd": "/home/user/proj",
        "message": {
            "id": mid if mid is not None else f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content if content is not None else [{"type": "text", "text": "ok"}],
            "usage": {
                "input_tokens": inp,
                "cache_creation_input_tokens": cc,
                "cache_read_input_tokens": cr,
                "output_tokens": out,
            },
        },
        "requestId": rid if rid is not None else f"req_{n}",
        **extra,
    }
    return line(obj)


def user(content: Any, **extra: Any) -> bytes:
    n = next(_counter)
    return line(
        {
            "type": "user",
            "isSidechain": False,
            "uuid": f"u-{n}",
            "timestamp": "2026-01-01T00:01:00Z",
            "sessionId": extra.pop("sessionId", SID),
            "message": {"role": "user", "content": content},
            **extra,
        }
    )


def boundary(post: int | None, pre: int = 170_000, trigger: str = "auto") -> bytes:
    meta: dict[str, Any] = {"trigger": trigger, "preTokens": pre}
    if post is not None:
        meta["postTokens"] = post
    n = next(_counter)
    return line(
        {
            "type": "system",
            "subtype": "compact_boundary",
            "isSidechain": False,
            "uuid": f"c-{n}",
            "timestamp": "2026-01-01T00:02:00Z",
            "sessionId": SID,
            "compactMetadata": meta,
        }
    )


def context_of(cursor: dict[str, Any]) -> int | None:
    if cursor["compacted"]:
        return cursor["post_tokens"]
    last = cursor["last_usage"]
    return None if last is None else last["input"] + last["cache_creation"] + last["cache_read"]


def write(path: Path, *chunks: bytes) -> Path:
    path.write_bytes(b"".join(chunks))
    return path


def append(path: Path, *chunks: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(b"".join(chunks))


def roundtrip(cursor: dict[str, Any]) -> dict[str, Any]:
    """What a hook does between turns: the cursor goes through cursor.json."""
    return json.loads(json.dumps(cursor))


# --- context -----------------------------------------------------------------------------


def test_context_is_latest_main_chain_input_plus_cache(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(5, 100, 1000, 20_000), asst(7, 50, 300, 21_000))
    cursor, _ = transcript.update(None, path, facts=False)
    assert context_of(cursor) == 7 + 300 + 21_000
    assert cursor["last_usage"]["output"] == 50
    assert cursor["max_context"] == 21_307


def test_sidechain_synthetic_and_api_errors_are_not_the_context(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        asst(1, 1, 0, 40_000),
        asst(3, 3, 0, 90_000, side=True),
        asst(0, 0, 0, 0, model="<synthetic>"),
        asst(2, 2, 0, 5, isApiErrorMessage=True),
    )
    cursor, _ = transcript.update(None, path, facts=False)
    assert context_of(cursor) == 40_001
    assert cursor["side_usage"]["cache_read"] == 90_000


def test_compaction_uses_post_tokens_then_the_next_response(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 150_000), boundary(post=2638))
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["compacted"] is True and context_of(cursor) == 2638
    assert cursor["compactions"] == 1 and cursor["last_compaction"]["pre_tokens"] == 170_000
    append(path, asst(4, 10, 30_000, 2_000))
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert cursor["compacted"] is False and context_of(cursor) == 32_004


def test_compaction_without_post_tokens_is_unknown_not_stale(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 150_000), boundary(post=None))
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["compacted"] is True
    assert context_of(cursor) is None


def test_sidechain_compact_boundary_does_not_reset(tmp_path: Path) -> None:
    side = json.loads(boundary(post=10))
    side["isSidechain"] = True
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 50_000), line(side))
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["compacted"] is False and context_of(cursor) == 50_001


# --- totals --------------------------------------------------------------------------------


def test_totals_dedup_keeps_the_largest_line_of_a_response(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        asst(10, 1, 100, 1000, mid="m1", rid="r1"),
        asst(10, 7, 100, 1000, mid="m1", rid="r1"),
        asst(10, 3, 100, 1000, mid="m1", rid="r1"),
        asst(20, 5, 0, 2000, mid="m2", rid="r2"),
    )
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["totals"] == {
        "input_tokens": 30,
        "output_tokens": 12,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 3000,
    }


def test_lines_without_ids_are_each_counted(tmp_path: Path) -> None:
    bare = json.loads(asst(1, 2, rid="r"))
    del bare["message"]["id"]
    path = write(tmp_path / "s.jsonl", line(bare), line(bare))
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["totals"]["output_tokens"] == 4


def test_dedup_window_is_bounded_and_survives_json(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", *(asst(1, 1) for _ in range(transcript.DEDUP_WINDOW * 2)))
    cursor, _ = transcript.update(None, path, facts=False)
    assert len(cursor["dedup"]) == transcript.DEDUP_WINDOW
    last = json.loads(path.read_bytes().splitlines()[-1])
    append(path, asst(1, 9, mid=last["message"]["id"], rid=last["requestId"]))
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert cursor["totals"]["output_tokens"] == transcript.DEDUP_WINDOW * 2 - 1 + 9
    assert cursor["totals"]["input_tokens"] == transcript.DEDUP_WINDOW * 2


# --- incremental reading -----------------------------------------------------------------


def test_reads_only_new_bytes_and_waits_for_a_whole_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 1000))
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["offset"] == path.stat().st_size
    second = asst(2, 2, 0, 5000)
    append(path, second[:40])
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert context_of(cursor) == 1001
    assert cursor["offset"] == path.stat().st_size - 40
    append(path, second[40:])
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert context_of(cursor) == 5002
    assert cursor["totals"]["output_tokens"] == 3
    assert cursor["bad_lines"] == 0


def test_restarts_when_the_file_shrank(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 1000), asst(1, 1, 0, 2000))
    cursor, _ = transcript.update(None, path, facts=False)
    write(path, asst(3, 3, 0, 10))
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert context_of(cursor) == 13
    assert cursor["totals"]["output_tokens"] == 3


def test_restarts_when_the_file_was_replaced(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 1000))
    cursor, _ = transcript.update(None, path, facts=False)
    other = write(tmp_path / "new.jsonl", asst(9, 9, 0, 99_000), asst(1, 1, 0, 5))
    os.replace(other, path)
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert context_of(cursor) == 6
    assert cursor["totals"]["output_tokens"] == 10


def test_missing_path_and_directory_set_error_and_keep_figures(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 1000))
    cursor, _ = transcript.update(None, path, facts=False)
    path.unlink()
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert cursor["error"] and context_of(cursor) == 1001
    folder, _ = transcript.update(None, tmp_path, facts=False)
    assert folder["error"] == "is a directory" and folder["last_usage"] is None
    missing, facts = transcript.update(None, tmp_path / "nope.jsonl")
    assert missing["error"] and facts == []


def test_bad_and_foreign_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        b'{"type":"assistant","message":{"usage":{"input_tokens":\n',
        b'not json at all "usage": 5\n',
        b'[1, 2, "usage":]\n',
        b'{"tool":"other","usage":{"input_tokens":5}}\n',
        b'\xff\xfe"usage":\n',
        b"\n",
        asst(1, 1, 0, 700),
    )
    cursor, _ = transcript.update(None, path, facts=False)
    assert context_of(cursor) == 701
    assert cursor["bad_lines"] == 4
    assert cursor["totals"]["input_tokens"] == 1


def test_an_overlong_line_is_skipped_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    huge = b'{"type":"user","message":{"content":"' + b"x" * (transcript.MAX_LINE + 1000) + b'"}}\n'
    write(path, asst(1, 1, 0, 100), huge[: transcript.MAX_LINE // 2])
    cursor, _ = transcript.update(None, path, facts=False)
    append(path, huge[transcript.MAX_LINE // 2 :], asst(2, 2, 0, 200))
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert cursor["long_lines"] == 1 and cursor["skipping"] is False
    assert context_of(cursor) == 202
    assert cursor["offset"] == path.stat().st_size


def test_an_overlong_line_read_in_one_go_is_skipped_the_same_way(tmp_path: Path) -> None:
    huge = b'{"type":"assistant","message":{"usage":{"input_tokens":"' + b"9" * (transcript.MAX_LINE + 10) + b'"}}}\n'
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 100), huge, asst(2, 2, 0, 200))
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["long_lines"] == 1 and cursor["bad_lines"] == 0
    assert context_of(cursor) == 202 and cursor["totals"]["input_tokens"] == 3


def test_a_damaged_cursor_starts_over(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", asst(1, 1, 0, 100))
    good, _ = transcript.update(None, path, facts=False)
    broken = [
        {"v": 1, "path": str(path), "offset": "x"},
        {"v": 99},
        [],
        {"v": 1, "path": str(path), "totals": 3},
        {**good, "offset": -5},
        {**good, "offset": 0, "file_totals": {"input_tokens": "1"}},
        {**good, "offset": 0, "subagents": {"x": 5, "y": {"kind": "beside", "path": 3}}},
        {**good, "offset": 0, "pending": {"t": 1}, "beside_foreign": [[1]]},
    ]
    for bad in broken:
        cursor, _ = transcript.update(bad, path, facts=False)  # type: ignore[arg-type]
        assert context_of(cursor) == 101 and cursor["offset"] == path.stat().st_size


# --- session metadata -------------------------------------------------------------------


def test_metadata_model_selection_and_first_session_id(tmp_path: Path) -> None:
    model = {
        "type": "attachment",
        "attachment": {"type": "model", "identity": {"modelId": "claude-sonnet-4-6[1m]"}},
        "sessionId": "22222222-2222-4333-8444-555555555555",
    }
    path = write(
        tmp_path / "s.jsonl",
        b'{"type":"summary","summary":"title"}\n',
        user("hello", sessionId="parent-session"),
        line(model),
        asst(1, 1, model="claude-sonnet-4-6"),
    )
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["first_session_id"] == "parent-session"
    assert cursor["model_selected"] == "claude-sonnet-4-6[1m]"
    assert (cursor["git_branch"], cursor["cwd"], cursor["version"]) == (None, "/home/user/proj", "2.1.330")
    with_facts, _ = transcript.update(None, path, facts=True)  # the branch is free text: kept only redacted
    assert with_facts["git_branch"] == "main"


# --- subagents ------------------------------------------------------------------------------


def test_subagent_files_fold_into_totals_with_their_own_cursors(tmp_path: Path) -> None:
    path = write(tmp_path / f"{SID}.jsonl", asst(1, 10, 0, 1000))
    sub_dir = tmp_path / SID / "subagents"
    sub_dir.mkdir(parents=True)
    write(sub_dir / "agent-a1.jsonl", asst(2, 20, 5, 30_000, side=True))
    (sub_dir / "agent-a1.meta.json").write_text("{}")
    cursor, _ = transcript.update(None, path, facts=False)
    assert set(cursor["subagents"]) == {"agent-a1.jsonl"}
    assert cursor["totals"]["output_tokens"] == 30
    assert cursor["file_totals"]["output_tokens"] == 10
    assert context_of(cursor) == 1001  # the subagent never sets the session's context
    append(sub_dir / "agent-a1.jsonl", asst(1, 5, side=True))
    write(sub_dir / "agent-b2.jsonl", asst(1, 7, side=True))
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert cursor["totals"]["output_tokens"] == 42
    assert cursor["subagents"]["agent-a1.jsonl"]["offset"] == (sub_dir / "agent-a1.jsonl").stat().st_size
    append(sub_dir / "agent-b2.jsonl", *(asst(1, 1, side=True) for _ in range(transcript.SUB_DEDUP_WINDOW * 3)))
    cursor, _ = transcript.update(roundtrip(cursor), path, facts=False)
    assert len(cursor["subagents"]["agent-b2.jsonl"]["dedup"]) == transcript.SUB_DEDUP_WINDOW
    assert cursor["totals"]["output_tokens"] == 42 + transcript.SUB_DEDUP_WINDOW * 3


def test_2_0_agent_files_beside_the_session_are_kept_apart(tmp_path: Path) -> None:
    path = write(tmp_path / f"{SID}.jsonl", asst(1, 10, version="2.0.42"))
    write(tmp_path / "agent-1234.jsonl", asst(3, 30, side=True))
    other = json.loads(asst(4, 40, side=True))
    other["sessionId"] = "someone-else"
    write(tmp_path / "agent-9999.jsonl", line(other))
    cursor, _ = transcript.update(None, path, facts=False)
    assert cursor["totals"]["output_tokens"] == 10
    assert cursor["agent_files_totals"]["output_tokens"] == 30
    assert cursor["beside_foreign"] == ["agent-9999.jsonl"]


def test_a_session_without_its_main_file_reports_its_subagents(tmp_path: Path) -> None:
    sub_dir = tmp_path / SID / "subagents"
    sub_dir.mkdir(parents=True)
    write(sub_dir / "agent-x.jsonl", asst(2, 20, side=True))
    cursor, _ = transcript.update(None, tmp_path / f"{SID}.jsonl", facts=False)
    assert cursor["error"] and cursor["totals"]["output_tokens"] == 20


# --- facts ------------------------------------------------------------------------------------


def tool(name: str, args: dict[str, Any], tool_id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id or f"toolu_{next(_counter)}", "name": name, "input": args}


def result(tool_id: str, *, error: bool = False, text: str = "ok") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": text, "is_error": error}


def facts_of(facts: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in facts if f["k"] == kind]


def test_prompt_facts_skip_meta_commands_and_tool_results_and_are_redacted(tmp_path: Path) -> None:
    secret = "sk-ant-api03-" + "A1b2C3d4" * 12
    path = write(
        tmp_path / "s.jsonl",
        user(f"please deploy with key {secret} <private>my diary</private> now"),
        user("Caveat: local", isMeta=True),
        user("<command-name>/exit</command-name>"),
        user([{"type": "tool_result", "tool_use_id": "t1", "content": "done"}]),
        user([{"type": "text", "text": "<ide_opened_file>x</ide_opened_file>"}, {"type": "text", "text": "fix the bug"}]),
        user("summary", isCompactSummary=True),
        user("x" * 5000),
    )
    _, facts = transcript.update(None, path)
    prompts = facts_of(facts, "prompt")
    assert [p["text"][:20] for p in prompts] == ["please deploy with k", "fix the bug", "x" * 20]
    assert secret not in prompts[0]["text"] and "my diary" not in prompts[0]["text"]
    assert "[REDACTED" in prompts[0]["text"]
    assert len(prompts[2]["text"]) == PROMPT_CHARS


def test_tool_facts_todos_files_commands_and_latest_assistant_text(tmp_path: Path) -> None:
    todos = [{"content": "write tests", "status": "in_progress", "activeForm": "Writing tests"}]
    path = write(
        tmp_path / "s.jsonl",
        asst(1, 1, content=[{"type": "text", "text": "first"}, tool("TodoWrite", {"todos": todos})]),
        asst(1, 1, content=[tool("Read", {"file_path": "/p/a.py"}, "t_a"), tool("Edit", {"file_path": "/p/b.py"}, "t_b")]),
        user([result("t_a"), result("t_b")]),
        asst(1, 1, content=[tool("Write", {"file_path": "/p/c.py"}, "t_c"), tool("NotebookEdit", {"notebook_path": "/p/n.ipynb"}, "t_n")]),
        user([result("t_c"), result("t_n")]),
        asst(1, 1, content=[tool("Bash", {"command": "export TOKEN=ghp_" + "a" * 36 + " && " + "y" * 400})]),
        asst(1, 1, content=[{"type": "text", "text": "the last word"}]),
        asst(1, 1, side=True, content=[{"type": "text", "text": "from a sidechain"}]),
    )
    _, facts = transcript.update(None, path)
    assert facts_of(facts, "todos")[0]["items"] == todos
    assert [(f["path"], f["op"]) for f in facts_of(facts, "file")] == [
        ("/p/a.py", "read"),
        ("/p/b.py", "edit"),
        ("/p/c.py", "write"),
        ("/p/n.ipynb", "edit"),
    ]
    (cmd,) = facts_of(facts, "cmd")
    assert "ghp_" + "a" * 36 not in cmd["command"] and len(cmd["command"]) <= CMD_CHARS
    assert [f["text"] for f in facts_of(facts, "assistant")] == ["the last word"]
    assert len({f["id"] for f in facts}) == len(facts)


def test_a_denied_or_failed_file_tool_is_not_listed(tmp_path: Path) -> None:
    """Finding 8 of issue 11: a Write the permission system denied was listed as an edit."""
    denied = "Claude requested permissions to write to /p/secret.py, but you haven't granted it yet."
    path = write(
        tmp_path / "s.jsonl",
        asst(1, 1, content=[tool("Write", {"file_path": "/p/secret.py", "content": "x"}, "t_w")]),
        user([result("t_w", error=True, text=denied)]),
        asst(1, 1, content=[tool("Edit", {"file_path": "/p/ok.py"}, "t_e")]),
    )
    cursor, facts = transcript.update(None, path)
    assert facts_of(facts, "file") == []  # the Edit's result has not arrived yet
    append(path, user([result("t_e")]))
    _, more = transcript.update(roundtrip(cursor), path)
    assert [(f["path"], f["op"]) for f in facts_of(more, "file")] == [("/p/ok.py", "edit")]


def test_task_create_is_joined_with_its_result_across_updates(tmp_path: Path) -> None:
    create = tool("TaskCreate", {"subject": "Research", "description": "look", "activeForm": "Researching"}, "toolu_A")
    path = write(tmp_path / "s.jsonl", asst(1, 1, content=[create]))
    cursor, facts = transcript.update(None, path)
    assert facts_of(facts, "task_create") == [] and "toolu_A" in cursor["pending"]
    append(
        path,
        user([{"type": "tool_result", "tool_use_id": "toolu_other", "content": "x"}], toolUseResult={"task": {"id": "9"}}),
        user([{"type": "tool_result", "tool_use_id": "toolu_A", "content": "Task #1 created"}], toolUseResult={"task": {"id": "1"}}),
        asst(1, 1, content=[tool("TaskUpdate", {"taskId": "1", "status": "completed"})]),
    )
    cursor, facts = transcript.update(roundtrip(cursor), path)
    (created,) = facts_of(facts, "task_create")
    assert (created["task_id"], created["subject"], created["description"], created["activeForm"]) == (
        "1",
        "Research",
        "look",
        "Researching",
    )
    (updated,) = facts_of(facts, "task_update")
    assert (updated["task_id"], updated["status"]) == ("1", "completed")
    assert cursor["pending"] == {}


def test_pending_tool_map_is_bounded(tmp_path: Path) -> None:
    blocks = [tool("TaskCreate", {"subject": f"t{i}"}) for i in range(transcript.PENDING_MAX + 10)]
    path = write(tmp_path / "s.jsonl", asst(1, 1, content=blocks))
    cursor, _ = transcript.update(None, path)
    assert len(cursor["pending"]) == transcript.PENDING_MAX


def test_compact_fact_and_stable_ids_across_rereads(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", user("go"), asst(1, 1, content=[tool("Read", {"file_path": "/a"})]), boundary(post=1234))
    _, first = transcript.update(None, path)
    _, again = transcript.update(None, path)
    assert first == again
    (compact,) = facts_of(first, "compact")
    assert (compact["trigger"], compact["pre_tokens"], compact["post_tokens"]) == ("auto", 170_000, 1234)


def test_json_with_spaces_after_colons_is_read_too(tmp_path: Path) -> None:
    """A transcript rewritten by another tool (Python's default json.dumps separators)."""
    spaced = [json.dumps(json.loads(raw)).encode() + b"\n" for raw in (user("hello there"), asst(1, 2, 3, 4))]
    assert b'"type": "user"' in spaced[0]
    cursor, facts = transcript.update(None, write(tmp_path / "s.jsonl", *spaced))
    assert context_of(cursor) == 8 and cursor["totals"]["output_tokens"] == 2
    assert [f["text"] for f in facts_of(facts, "prompt")] == ["hello there"]


def test_facts_false_returns_no_facts(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", user("go"), asst(1, 1))
    _, facts = transcript.update(None, path, facts=False)
    assert facts == []


# --- the in-repo fixtures -----------------------------------------------------------------


def expected() -> dict[str, Any]:
    return json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("entry", expected()["context_at_end"], ids=lambda e: e["file"].rsplit("/", 1)[-1])
def test_fixture_context_at_end(entry: dict[str, Any]) -> None:
    cursor, _ = transcript.update(None, FIXTURES / entry["file"], facts=False)
    assert context_of(cursor) == entry["main_chain_context_tokens"]
    if entry["main_chain_context_tokens"] is None:
        side = cursor["side_usage"]
        assert side["input"] + side["cache_creation"] + side["cache_read"] == entry["ccusage_statusline_context_tokens"]


@pytest.mark.parametrize("session", expected()["ccusage_sessions"], ids=lambda s: s["sessionId"][:8])
def test_fixture_session_totals_match_ccusage(session: dict[str, Any]) -> None:
    path = FIXTURES / session["projectPath"] / f"{session['sessionId']}.jsonl"
    cursor, _ = transcript.update(None, path, facts=False)
    totals = cursor["totals"]
    assert (
        totals["input_tokens"],
        totals["output_tokens"],
        totals["cache_creation_input_tokens"],
        totals["cache_read_input_tokens"],
    ) == (session["inputTokens"], session["outputTokens"], session["cacheCreationTokens"], session["cacheReadTokens"])


def test_fixture_task_tools_become_facts() -> None:
    path = FIXTURES / "-experiments-worktrees" / "ef958aa1-0e93-49f0-bb71-150f63befcd1.jsonl"
    cursor, facts = transcript.update(None, path)
    created = facts_of(facts, "task_create")
    assert created and all(f["task_id"] and f["subject"] for f in created)
    assert facts_of(facts, "task_update")
    assert facts_of(facts, "prompt")
    assert cursor["first_session_id"] == "ef958aa1-0e93-49f0-bb71-150f63befcd1"


def test_a_100_mb_line_is_read_in_bounded_memory(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "s.jsonl"
    with open(path, "wb") as handle:
        handle.write(asst(1, 1, 0, 100))
        handle.write(b'{"type":"user","message":{"content":"')
        block = b"y" * (8 << 20)
        for _ in range(100 // 8):
            handle.write(block)
        handle.write(b'"}}\n')
        handle.write(asst(2, 2, 0, 200))
    if not os.path.exists("/proc/self/status"):
        pytest.skip("peak memory is read from /proc/self/status (Linux)")
    # VmHWM is this process image's own peak; ru_maxrss would include the forking parent's.
    code = (
        "import json, re, sys\n"
        "from session_state.core import transcript\n"
        "cursor, facts = transcript.update(None, sys.argv[1])\n"
        "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "print(json.dumps([cursor['long_lines'], cursor['last_usage']['cache_read'], cursor['offset'], peak // 1024]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    long_lines, cache_read, offset, peak_mb = json.loads(done.stdout)
    assert (long_lines, cache_read, offset) == (1, 200, path.stat().st_size)
    limit_mb = (transcript.MAX_LINE + transcript.BLOCK) // (1 << 20) + 40  # held bytes + interpreter
    assert peak_mb < limit_mb

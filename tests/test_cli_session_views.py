"""status, sessions, checkpoints, usage-log, handoff, decide, export and fork, run as a user runs them."""

from __future__ import annotations

import json
import os
import time

from session_state.state.inject import COMPACTED_HEADING

from test_cli_support import MAROT_ID, WORKTREES_ID, Project, bare, fresh, shared  # noqa: F401 - fixtures


def test_status_reports_task_items_budget_checkpoint_handoff_and_lineage(shared: Project) -> None:
    data = json.loads(shared.ok("status", "--session", WORKTREES_ID, "--json"))
    assert data["session_id"] == WORKTREES_ID
    assert len(data["items"]) == 6 and all(i["status"] == "completed" for i in data["items"])
    assert data["budget"]["context_tokens"] == 66603 and data["budget"]["context_window"] == 1_000_000
    assert data["last_checkpoint"] and data["handoff"].endswith("handoff.toon")
    assert data["lineage"]["previous"] == MAROT_ID
    text = shared.ok("status", "--session", WORKTREES_ID)
    assert "Items (6/6 completed)" in text and "[x] Research plan mode (alice)" in text
    assert "66,603 of 1,000,000 tokens = 6.7% [ok]" in text
    assert f"previous {MAROT_ID}" in text


def test_status_defaults_to_env_session_then_latest(shared: Project) -> None:
    shared.ok("status", "--session", WORKTREES_ID)  # status writes its state: now the latest
    latest = json.loads(shared.ok("status", "--json"))
    assert latest["session_id"] == WORKTREES_ID
    by_env = json.loads(shared.ok("status", "--json", env={"CLAUDE_CODE_SESSION_ID": MAROT_ID}))
    assert by_env["session_id"] == MAROT_ID
    assert by_env["lineage"]["cleared_into"] == WORKTREES_ID
    assert by_env["status"] == "ended"


def test_status_materializes_first(fresh: Project) -> None:
    """A fact in the journal that no hook folded yet is in status's answer."""
    journal = fresh.session_dir(WORKTREES_ID) / "journal.jsonl"
    fact = {"k": "prompt", "id": "test-fresh-prompt", "ts": "2026-01-01T00:00:00Z", "text": "a request only the journal knows"}
    with journal.open("a") as handle:
        handle.write(json.dumps(fact) + "\n")
    data = json.loads(fresh.ok("status", "--json"))
    assert data["task"] == "a request only the journal knows"


def test_unknown_session_and_no_state_are_one_line_errors(shared: Project, tmp_path) -> None:  # noqa: ANN001
    line = shared.fails("status", "--session", "no-such-session")
    assert "unknown session 'no-such-session'" in line and MAROT_ID in line
    line = shared.fails("status", env={"CLAUDE_CODE_SESSION_ID": "ffffffff-0000-4000-8000-000000000000"})
    assert "CLAUDE_CODE_SESSION_ID" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (["status"], ["sessions"], ["checkpoints"], ["usage-log"], ["handoff", "show"], ["fork"], ["prune"]):
        line = shared.fails(*command, "--project", str(empty))
        assert "no session-state data in" in line and "written by the plugin's hooks" in line
    assert "does not exist" in shared.fails("status", "--project", str(tmp_path / "missing"))


def _touch_transcript(project: Project, sid: str, when: float) -> None:
    path = json.loads((project.session_dir(sid) / "cursor.json").read_text())["path"]
    os.utime(path, (when, when))


def test_sessions_lists_newest_first_with_lineage(shared: Project) -> None:
    """Newest by transcript activity; commands that write a session's state do not reorder."""
    now = time.time()
    _touch_transcript(shared, WORKTREES_ID, now - 60)
    _touch_transcript(shared, MAROT_ID, now - 120)
    shared.ok("status", "--session", MAROT_ID)  # writes MAROT's state: not activity
    rows = json.loads(shared.ok("sessions", "--json"))
    assert [r["session_id"] for r in rows] == [WORKTREES_ID, MAROT_ID]
    assert [r["updated"] for r in rows] == sorted((r["updated"] for r in rows), reverse=True)
    _touch_transcript(shared, MAROT_ID, now)
    assert [r["session_id"] for r in json.loads(shared.ok("sessions", "--json"))] == [MAROT_ID, WORKTREES_ID]
    assert rows[1]["cleared_into"] == WORKTREES_ID and rows[0]["previous"] == MAROT_ID
    assert rows[0]["tasks"] == "6/6" and rows[1]["percent"] == 38.7
    text = shared.ok("sessions")
    assert f"cleared into {WORKTREES_ID}" in text and f"previous {MAROT_ID}" in text


def test_checkpoints_lists_and_validates(fresh: Project) -> None:
    rows = json.loads(fresh.ok("checkpoints", "--session", MAROT_ID, "--json"))
    triggers = {r["trigger"] for r in rows}
    assert {"pre-compact-auto", "subagent-stop", "session-end-clear"} <= triggers
    assert all(r["valid"] and r["percent"] == 38.7 and r["bytes"] > 1000 for r in rows)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    broken = fresh.session_dir(MAROT_ID) / "checkpoints" / f"{rows[0]['id']}.json"
    broken.write_text('{"schema_version": 1, "id": "x"}')
    rows = json.loads(fresh.ok("checkpoints", "--session", MAROT_ID, "--json"))
    assert not rows[0]["valid"] and "field" in rows[0]["problem"]
    assert "invalid" in fresh.ok("checkpoints", "--session", MAROT_ID)
    everything = json.loads(fresh.ok("checkpoints", "--all", "--json"))
    assert {r["session_id"] for r in everything if r["valid"]} == {MAROT_ID, WORKTREES_ID}


def test_usage_log_table_and_json(shared: Project) -> None:
    records = json.loads(shared.ok("usage-log", "--session", MAROT_ID, "--json"))
    events = [r["event"] for r in records]
    assert events[:3] == ["SessionStart", "UserPromptSubmit", "Stop"] and "PreCompact" in events
    assert all(r["context_tokens"] == 77334 and r["percent"] == 38.7 for r in records)
    text = shared.ok("usage-log", "--session", MAROT_ID, "--last", "2")
    assert len(text.strip().splitlines()) == 3 and "77,334" in text
    assert "--last must be 1 or more" in shared.fails("usage-log", "--last", "0")


def test_usage_log_marks_crossings(fresh: Project) -> None:
    usage = fresh.session_dir(MAROT_ID) / "usage.jsonl"
    with usage.open("a") as handle:
        handle.write(json.dumps({"ts": "2026-01-01T00:00:00Z", "event": "Stop", "context_tokens": 160000, "window": 200000,
                                 "percent": 80.0, "level": "warning", "crossed": ["monitor", "warning"]}) + "\n")
        handle.write("not json\n")
    text = fresh.ok("usage-log", "--session", MAROT_ID)
    assert "<< crossed monitor, warning" in text
    assert "1 line(s) of usage.jsonl did not validate" in text


def test_handoff_show_formats_and_create(fresh: Project) -> None:
    path = fresh.ok("handoff", "create", "--session", MAROT_ID).strip()
    assert path.endswith(f"{MAROT_ID}/handoff.toon")
    toon = fresh.ok("handoff", "show", "--session", MAROT_ID)
    assert toon.startswith("schema_version: 1") and f"session_id: {MAROT_ID}" in toon
    md = fresh.ok("handoff", "show", "--session", MAROT_ID, "--format", "md")
    assert md.startswith(f"# Handoff — session {MAROT_ID}") and "## How to resume" in md
    data = json.loads(fresh.ok("handoff", "show", "--session", MAROT_ID, "--format", "json"))
    assert data["session_context"]["session_id"] == MAROT_ID
    inject = fresh.ok("handoff", "show", "--session", MAROT_ID, "--format", "inject")
    # the very heading a compaction without a summary injects (one constant for both)
    assert inject.startswith(COMPACTED_HEADING) and inject.rstrip().endswith(path)
    assert len(inject) <= 9000 + 1
    (fresh.session_dir(MAROT_ID) / "handoff.toon").write_text("schema_version: 1\nhandoff_id: x\n")
    line = fresh.fails("handoff", "show", "--session", MAROT_ID)
    assert "does not validate" in line and "field" in line
    (fresh.session_dir(MAROT_ID) / "handoff.toon").unlink()
    assert "handoff create" in fresh.fails("handoff", "show", "--session", MAROT_ID)


def test_decide_records_and_refreshes_the_handoff(fresh: Project) -> None:
    out = json.loads(fresh.ok("decide", "keep TOON for handoffs", "--why", "the model reads tables well", "--json",
                              "--session", MAROT_ID))
    assert out["choice"] == "keep TOON for handoffs" and out["by"] == "user" and out["session_id"] == MAROT_ID
    decisions = fresh.root / "decisions.toon"
    assert "keep TOON for handoffs" in decisions.read_text()
    assert "keep TOON for handoffs" in (fresh.session_dir(MAROT_ID) / "handoff.toon").read_text()
    fresh.ok("decide", "no background summaries", "--why", "tokens cost money", "--by", "model")
    text = decisions.read_text()
    assert "no background summaries" in text and ",model" in text
    assert "required" in fresh.run("decide", "x").stderr  # --why is required (argparse, exit 2)
    assert "empty" in fresh.fails("decide", "  ", "--why", "w")


def test_export_every_kind_to_toon_and_json(fresh: Project) -> None:
    fresh.ok("decide", "a decision", "--why", "so decisions.toon exists")
    sdir = fresh.session_dir(MAROT_ID)
    checkpoint = sorted((sdir / "checkpoints").glob("*.json"))[0]
    for path, marker in [
        (sdir / "state.json", "session_id"),
        (checkpoint, "trigger"),
        (sdir / "handoff.toon", "handoff_id"),
        (fresh.root / "decisions.toon", "decisions"),
        (sdir / "cursor.json", "offset"),
    ]:
        as_json = json.loads(fresh.ok("export", str(path), "--format", "json"))
        assert marker in as_json
        as_toon = fresh.ok("export", str(path), "--format", "toon")
        assert marker in as_toon
    out = fresh.dir / "state.toon"
    fresh.ok("export", str(sdir / "state.json"), "--format", "toon", "--out", str(out))
    assert out.read_text().startswith("schema_version: 1")
    # the exported TOON reads back as the same kind of file
    assert json.loads(fresh.ok("export", str(out), "--format", "json"))["session_id"] == MAROT_ID


def test_export_errors_name_the_problem(fresh: Project) -> None:
    bad = fresh.dir / "bad-state.json"
    state = json.loads((fresh.session_dir(MAROT_ID) / "state.json").read_text())
    state["status"] = "sleeping"
    bad.write_text(json.dumps(state))
    line = fresh.fails("export", str(bad), "--format", "toon")
    assert "is a state file but does not validate" in line and "field status" in line
    (fresh.dir / "other.json").write_text('{"hello": 1}')
    assert "not a session-state file" in fresh.fails("export", str(fresh.dir / "other.json"), "--format", "json")
    (fresh.dir / "broken.json").write_text('{"v": 1, "offset": ')
    assert "not valid JSON" in fresh.fails("export", str(fresh.dir / "broken.json"), "--format", "json")
    assert "no such file" in fresh.fails("export", str(fresh.dir / "missing.json"), "--format", "json")


def test_fork_takes_a_fork_checkpoint_and_prints_the_command(fresh: Project) -> None:
    before = set((fresh.session_dir(MAROT_ID) / "checkpoints").glob("*.json"))
    out = json.loads(fresh.ok("fork", "--session", MAROT_ID, "--json"))
    assert out["command"] == f"claude --resume {MAROT_ID} --fork-session"
    new = set((fresh.session_dir(MAROT_ID) / "checkpoints").glob("*.json")) - before
    assert [p.stem for p in new] == [out["checkpoint"]] and "-fork-" in out["checkpoint"]
    cp = json.loads(next(iter(new)).read_text())
    assert cp["trigger"] == "fork" and cp["state"]["session_id"] == MAROT_ID
    assert f"claude --resume {MAROT_ID} --fork-session" in fresh.ok("fork", "--session", MAROT_ID)


def test_decide_before_any_session(bare: Project) -> None:
    """A project decision needs no session: it is recorded and later handoffs carry it."""
    out = bare.ok("decide", "monorepo stays", "--why", "one CI")
    assert "recorded decision" in out and "handoff refreshed" not in out
    assert "monorepo stays" in (bare.root / "decisions.toon").read_text()

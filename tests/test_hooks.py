"""Every hook, run as Claude Code runs it, on the captured 2.1.330 payloads and real transcripts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hookrun import COMPACT_TRANSCRIPT, PAYLOADS, REPO, TASKS_SESSION, TASKS_TRANSCRIPT, Sandbox

from session_state.state import models
from session_state.hooks import output

CONTEXT_EVENTS = output.CONTEXT_EVENTS


def assert_accepted(event: str, result) -> dict | None:
    """Exit 0 and stdout that the event accepts (measured rules in docs/claude-code.md)."""
    assert result.code == 0, result.stderr
    if event == "PreCompact":
        return None  # plain text, appended to the compaction prompt
    if not result.stdout.strip():
        return None
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    allowed = {"systemMessage", "hookSpecificOutput", "decision", "reason"}
    assert set(data) <= allowed, data
    if "hookSpecificOutput" in data:
        assert event in CONTEXT_EVENTS
        assert data["hookSpecificOutput"]["hookEventName"] == event
        assert len(data["hookSpecificOutput"]["additionalContext"]) < 10_000
    if "decision" in data:
        assert event in ("Stop", "SubagentStop") and data["decision"] == "block"
    return data


@pytest.mark.parametrize("fixture", sorted(p.name for p in PAYLOADS.glob("*.json")))
def test_every_captured_payload(sandbox: Sandbox, fixture: str) -> None:
    """All 20 captured inputs, including events the plugin does not handle: exit 0, valid output."""
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, "aaaaaaaa-1111-4111-8111-000000000001")
    payload = sandbox.payload(fixture, transcript_path=str(transcript))
    event = payload["hook_event_name"]
    result = sandbox.run(event, payload)
    assert_accepted(event, result)
    assert result.stderr == ""
    handled = event in ("SessionStart", "UserPromptSubmit", "PreCompact", "PostCompact", "Stop", "SubagentStop", "SessionEnd")
    sdir = sandbox.session_dir(payload["session_id"])
    assert (sdir / "cursor.json").exists() == handled
    if handled and event != "UserPromptSubmit" and event != "Stop":
        state = models.SessionState.model_validate_json((sdir / "state.json").read_bytes())
        assert state.session_id == payload["session_id"]
        assert (sdir / "handoff.toon").exists()


def run_session(sandbox: Sandbox, session_id: str, transcript: Path) -> None:
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=session_id, transcript_path=str(transcript)))
    sandbox.run("Stop", sandbox.payload("Stop.json", session_id=session_id, transcript_path=str(transcript)))
    sandbox.wait_refresh(session_id)


def test_stop_folds_tasks_into_state_and_handoff(sandbox: Sandbox) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    run_session(sandbox, TASKS_SESSION, transcript)
    sdir = sandbox.session_dir(TASKS_SESSION)
    state = models.SessionState.model_validate_json((sdir / "state.json").read_bytes())
    subjects = {t.subject: t.status for t in state.tasks}
    # the six TaskCreate items of this real 2.1.114 session, all completed by its TaskUpdates
    assert len(subjects) == 6 and set(subjects.values()) == {"completed"}
    assert "Research plan mode (alice)" in subjects
    assert state.model == "claude-opus-4-7"
    assert state.requests and "list of tasks" in state.requests[0].text
    toon = (sdir / "handoff.toon").read_text()
    assert "Research plan mode (alice)" in toon
    from session_state.state.handoff import read

    pkg = read(sdir)
    assert pkg is not None and pkg.session_context.session_id == TASKS_SESSION


def test_hot_files_validate_against_their_models(sandbox: Sandbox) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    run_session(sandbox, TASKS_SESSION, transcript)
    sdir = sandbox.session_dir(TASKS_SESSION)
    models.TranscriptCursor.model_validate_json((sdir / "cursor.json").read_bytes())
    lines = (sdir / "journal.jsonl").read_bytes().splitlines()
    assert len(lines) > 10
    for line in lines:
        models.JournalRecord.model_validate_json(line)
    for line in (sdir / "usage.jsonl").read_bytes().splitlines():
        models.UsageRecord.model_validate_json(line)
    record = models.ProjectRecord.model_validate_json((sandbox.root / "project.json").read_bytes())
    assert record.project == str(sandbox.project)


def test_state_lives_outside_the_project_owner_only(sandbox: Sandbox) -> None:
    """Nothing is written into the project; the state folder and its files are the user's alone."""
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    run_session(sandbox, TASKS_SESSION, transcript)
    assert list(sandbox.project.iterdir()) == []
    assert sandbox.root.is_relative_to(sandbox.claude_config / "session-state" / "projects")
    assert re.fullmatch(r"[a-z0-9-]+-project-[0-9a-f]{12}", sandbox.root.name)  # readable: the folder's name, then the hash
    for path in [sandbox.root, *sandbox.root.rglob("*")]:
        mode = path.lstat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_hot_hooks_import_no_heavy_dependency(sandbox: Sandbox) -> None:
    """Stop and UserPromptSubmit stay stdlib-only: pydantic etc. would cost more than the hook's budget."""
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    for event, fixture in (("Stop", "Stop.json"), ("UserPromptSubmit", "UserPromptSubmit.json")):
        payload = sandbox.payload(fixture, session_id=TASKS_SESSION, transcript_path=str(transcript))
        proc = subprocess.run(
            [sys.executable, "-I", "-X", "importtime", str(REPO / "bin" / "_run.py"), event],
            input=json.dumps(payload).encode(), capture_output=True, env=sandbox.env, timeout=60,
        )
        assert proc.returncode == 0
        imported = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines() if "|" in line}
        heavy = {m for m in imported if m.split(".")[0] in ("pydantic", "pydantic_core", "orjson", "filelock", "tiktoken", "detect_secrets", "regex", "yaml", "requests")}
        assert heavy == set(), f"{event} imported {sorted(heavy)}"


def test_session_start_compact_injects_the_handoff(sandbox: Sandbox) -> None:
    sid = COMPACT_TRANSCRIPT.stem
    transcript = sandbox.copy_transcript(COMPACT_TRANSCRIPT, sid)
    pre = sandbox.run("PreCompact", sandbox.payload("PreCompact__manual.json", session_id=sid, transcript_path=str(transcript)))
    assert pre.code == 0 and "The task in hand:" in pre.stdout and "handoff.toon" in pre.stdout
    start = sandbox.payload("SessionStart__compact.json", session_id=sid, transcript_path=str(transcript))
    out = assert_accepted("SessionStart", sandbox.run("SessionStart", start))
    text = out["hookSpecificOutput"]["additionalContext"]
    assert "just compacted" in text
    assert len(text) < 9000
    full = str(sandbox.session_dir(sid) / "handoff.toon")
    assert text.rstrip().endswith(full)
    assert "Next step:" in text and "Requests, newest first:" in text
    # SessionStart can fire twice: the same text is never injected twice
    again = sandbox.run("SessionStart", start)
    assert again.code == 0 and "additionalContext" not in again.stdout


@pytest.mark.slow
def test_clear_hands_the_handoff_to_exactly_one_new_session(sandbox: Sandbox) -> None:
    old = "11111111-0000-4000-8000-000000000001"
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, old)
    run_session(sandbox, old, transcript)
    sandbox.run("SessionEnd", sandbox.payload("SessionEnd__clear.json", session_id=old, transcript_path=str(transcript)))
    heirs = [f"22222222-0000-4000-8000-00000000000{i}" for i in range(6)]

    def start(sid: str):
        t = sandbox.copy_transcript(TASKS_TRANSCRIPT, sid)
        t.write_text("")  # a new session's transcript starts empty
        return sandbox.run("SessionStart", sandbox.payload("SessionStart__clear.json", session_id=sid, transcript_path=str(t)))

    with ThreadPoolExecutor(len(heirs)) as pool:
        results = list(pool.map(start, heirs))
    injected = [r for r in results if "from the session before /clear" in r.stdout]
    assert len(injected) == 1, [r.stdout[:120] for r in results]
    text = json.loads(injected[0].stdout)["hookSpecificOutput"]["additionalContext"]
    assert old in text and "Research plan mode (alice)" in text
    # the others get nothing of the old session: its handoff is claimed
    assert all(old not in r.stdout for r in results if r is not injected[0])
    winner = heirs[results.index(injected[0])]
    state = models.SessionState.model_validate_json((sandbox.session_dir(winner) / "state.json").read_bytes())
    assert state.lineage.previous_session_id == old
    old_state = models.SessionState.model_validate_json((sandbox.session_dir(old) / "state.json").read_bytes())
    assert old_state.lineage.cleared_into == winner


def test_startup_points_at_the_previous_handoff_and_fork_names_its_parent(sandbox: Sandbox) -> None:
    parent = TASKS_SESSION
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, parent)
    run_session(sandbox, parent, transcript)
    sandbox.run("SessionEnd", sandbox.payload("SessionEnd__prompt_input_exit.json", session_id=parent, transcript_path=str(transcript)))
    new = "33333333-0000-4000-8000-000000000001"
    empty = sandbox.transcripts / f"{new}.jsonl"
    empty.write_text("")
    out = assert_accepted("SessionStart", sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=new, transcript_path=str(empty))))
    pointer = out["hookSpecificOutput"]["additionalContext"]
    assert parent in pointer and "handoff.toon" in pointer and "\n" not in pointer
    # a fork's transcript starts with the parent's lines, which carry the parent's sessionId
    fork = "44444444-0000-4000-8000-000000000001"
    forked = sandbox.copy_transcript(TASKS_TRANSCRIPT, fork)
    out = assert_accepted("SessionStart", sandbox.run("SessionStart", sandbox.payload("SessionStart__fork.json", session_id=fork, transcript_path=str(forked))))
    assert f"fork of session {parent}" in out["hookSpecificOutput"]["additionalContext"]
    state = models.SessionState.model_validate_json((sandbox.session_dir(fork) / "state.json").read_bytes())
    assert state.lineage.parent_session_id == parent
    # the fork carries the work on: the goal from the copied history, its handoff names the parent
    parent_state = models.SessionState.model_validate_json((sandbox.session_dir(parent) / "state.json").read_bytes())
    assert state.goal is not None and parent_state.goal is not None and state.goal.text == parent_state.goal.text
    toon = (sandbox.session_dir(fork) / "handoff.toon").read_text()
    assert f"{parent} (forked)" in toon and parent_state.goal.text[:80] in toon


def _usage_line(msg_id: str, tokens: int, uuid: str) -> str:
    return json.dumps({
        "type": "assistant", "uuid": uuid, "isSidechain": False, "sessionId": "s", "timestamp": "2026-11-22T01:00:00Z",
        "requestId": f"req_{msg_id}",
        "message": {"id": msg_id, "model": "claude-sonnet-4-5", "role": "assistant",
                    "content": [{"type": "text", "text": "ok"}],
                    "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": tokens - 10, "output_tokens": 5}},
    })


@pytest.mark.slow
def test_budget_crossing_is_told_once_and_stop_blocks_once(sandbox: Sandbox) -> None:
    sid = "55555555-0000-4000-8000-000000000001"
    transcript = sandbox.transcripts / f"{sid}.jsonl"
    transcript.write_text(_usage_line("m1", 100_000, "u1") + "\n")  # 50% of 200k
    sandbox.write_config({"stop_block_at_critical": True})
    stop = sandbox.payload("Stop.json", session_id=sid, transcript_path=str(transcript))
    prompt = sandbox.payload("UserPromptSubmit.json", session_id=sid, transcript_path=str(transcript))
    assert sandbox.run("Stop", stop).stdout == ""
    assert "additionalContext" not in sandbox.run("UserPromptSubmit", prompt).stdout
    with transcript.open("a") as f:
        f.write(_usage_line("m2", 176_000, "u2") + "\n")  # 88%: critical (and warning crossed on the way)
    blocked = assert_accepted("Stop", sandbox.run("Stop", stop))
    assert blocked and blocked["decision"] == "block" and "critical" in blocked["reason"]
    # stop_hook_active (the block's own follow-up) and any later Stop in this epoch: no second block
    assert sandbox.run("Stop", {**stop, "stop_hook_active": True}).stdout == ""
    assert sandbox.run("Stop", stop).stdout == ""
    told = assert_accepted("UserPromptSubmit", sandbox.run("UserPromptSubmit", prompt))
    text = told["hookSpecificOutput"]["additionalContext"]
    assert "88%" in text and "critical" in text and "/compact" in text
    assert "88%" in told["systemMessage"]
    assert sandbox.run("UserPromptSubmit", prompt).stdout == ""  # once per crossing
    sandbox.wait_refresh(sid)
    usage = [json.loads(x) for x in (sandbox.session_dir(sid) / "usage.jsonl").read_text().splitlines()]
    crossed = [lvl for rec in usage for lvl in (rec.get("crossed") or [])]
    assert sorted(crossed) == ["critical", "monitor", "warning"]
    names = os.listdir(sandbox.session_dir(sid) / "checkpoints")
    assert any("budget-critical" in n for n in names), names


def test_the_warning_says_how_many_turns_are_left_at_this_sessions_pace(sandbox: Sandbox) -> None:
    sid = "55555555-0000-4000-8000-000000000002"
    transcript = sandbox.transcripts / f"{sid}.jsonl"
    lines = []
    for turn, tokens in enumerate(range(60_000, 160_001, 20_000)):  # 20k a turn, ending at 80% of 200k
        prompt = {"type": "user", "uuid": f"p{turn}", "isSidechain": False, "sessionId": sid,
                  "message": {"role": "user", "content": f"step {turn}"}}
        lines += [json.dumps(prompt), _usage_line(f"m{turn}", tokens, f"u{turn}")]
    transcript.write_text("\n".join(lines) + "\n")
    sandbox.run("Stop", sandbox.payload("Stop.json", session_id=sid, transcript_path=str(transcript)))
    told = assert_accepted("UserPromptSubmit", sandbox.run("UserPromptSubmit", sandbox.payload("UserPromptSubmit.json", session_id=sid, transcript_path=str(transcript))))
    # room 167,000 - 160,000 = 7,000 tokens at 20,000 a turn: the next turn will compact
    assert "auto-compaction likely during the next turn" in told["hookSpecificOutput"]["additionalContext"]
    assert "7,000 tokens" in told["systemMessage"]


def test_context_figures_in_hook_input_win_over_the_transcript(sandbox: Sandbox) -> None:
    """2.1.330 sends none; should a newer Claude Code send `context_window`, it is the measure."""
    sid = "55555555-0000-4000-8000-000000000003"
    transcript = sandbox.transcripts / f"{sid}.jsonl"
    transcript.write_text(_usage_line("m1", 50_000, "u1") + "\n")
    block = {"context_window_size": 200_000, "current_usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 90_000}}
    sandbox.run("Stop", {**sandbox.payload("Stop.json", session_id=sid, transcript_path=str(transcript)), "context_window": block})
    sandbox.run("Stop", sandbox.payload("Stop.json", session_id=sid, transcript_path=str(transcript)))
    usage = [json.loads(x) for x in (sandbox.session_dir(sid) / "usage.jsonl").read_text().splitlines()]
    assert [(u["context_tokens"], u["source"]) for u in usage] == [(90_000, "hook input"), (50_000, "response")]


@pytest.mark.slow
def test_corrupt_state_is_recovered_from_the_latest_checkpoint_and_said_once(sandbox: Sandbox) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    run_session(sandbox, TASKS_SESSION, transcript)
    sdir = sandbox.session_dir(TASKS_SESSION)
    sandbox.run("SubagentStop", sandbox.payload("SubagentStop.json", session_id=TASKS_SESSION, transcript_path=str(transcript)))
    for damage in (b"", b"\x00garbage{", (sdir / "state.json").read_bytes()[:100]):
        (sdir / "state.json").write_bytes(damage)
        res = sandbox.run("SessionStart", sandbox.payload("SessionStart__resume.json", session_id=TASKS_SESSION, transcript_path=str(transcript)))
        out = assert_accepted("SessionStart", res)
        assert out is not None and "restored checkpoint" in out.get("systemMessage", ""), res.stdout
        state = models.SessionState.model_validate_json((sdir / "state.json").read_bytes())
        assert state.status == "recovered" and state.recovered_from
        assert len(state.tasks) == 6
        assert list(sdir.glob("state.json.corrupt-*"))
        again = sandbox.run("SessionStart", sandbox.payload("SessionStart__resume.json", session_id=TASKS_SESSION, transcript_path=str(transcript)))
        assert "restored checkpoint" not in again.stdout  # said once


@pytest.mark.slow
def test_bad_input_never_fails_and_never_writes(sandbox: Sandbox) -> None:
    for event in ("SessionStart", "Stop", "UserPromptSubmit", "PreCompact", "SubagentStop", "SessionEnd"):
        for raw in (b"", b"not json", b"[1,2]", b'{"session_id": 5}', b"\xff\xfe", b'{"hook_event_name":"Stop"}'):
            res = sandbox.run(event, None, raw=raw)
            assert res.code == 0 and res.stdout == "" and res.stderr == ""
    assert not sandbox.root.exists() or not any((sandbox.root / "sessions").glob("*"))
    log = (sandbox.data / "logs" / "session-state.log").read_text()
    assert "not usable JSON" in log and "field 'session_id'" in log


def test_internal_error_exits_zero_with_one_stderr_line(sandbox: Sandbox) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    sandbox.root.parent.mkdir(parents=True, exist_ok=True)
    sandbox.root.write_text("a file where the state folder should be")
    res = sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION, transcript_path=str(transcript)))
    assert res.code == 0 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("session-state:") and "session-state.log" in lines[0]
    assert "Traceback" in (sandbox.data / "logs" / "session-state.log").read_text()


def test_read_only_state_folder_is_said_once(sandbox: Sandbox) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions; test_full_disk_or_read_only_state_folder_is_said_once covers it with a read-only mount")
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    run_session(sandbox, TASKS_SESSION, transcript)
    os.chmod(sandbox.session_dir(TASKS_SESSION), 0o500)
    try:
        payload = sandbox.payload("SessionStart__resume.json", session_id=TASKS_SESSION, transcript_path=str(transcript))
        first = sandbox.run("SessionStart", payload)
        assert first.code == 0 and "cannot save" in first.stdout
        assert "cannot save" not in sandbox.run("SessionStart", payload).stdout
    finally:
        os.chmod(sandbox.session_dir(TASKS_SESSION), 0o700)


def test_subagent_stop_records_the_subagent_and_skips_the_compaction_agent(sandbox: Sandbox) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    agent_file = next((sandbox.transcripts / TASKS_SESSION / "subagents").glob("agent-*.jsonl"))
    payload = sandbox.payload(
        "SubagentStop.json", session_id=TASKS_SESSION, transcript_path=str(transcript),
        agent_id="a4ca7529859c158c2", agent_type="general-purpose", agent_transcript_path=str(agent_file),
        last_assistant_message="Done. The token is ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    )
    assert sandbox.run("SubagentStop", payload).code == 0
    compaction = {**payload, "agent_id": "acompact", "agent_type": "", "agent_transcript_path": str(sandbox.tmp / "missing.jsonl")}
    assert sandbox.run("SubagentStop", compaction).code == 0
    state = models.SessionState.model_validate_json((sandbox.session_dir(TASKS_SESSION) / "state.json").read_bytes())
    assert [s.agent_id for s in state.subagents] == ["a4ca7529859c158c2"]
    sub = state.subagents[0]
    assert sub.totals.output_tokens > 0 and "ghp_" not in sub.last_message and "REDACTED" in sub.last_message
    assert any("subagent-stop" in n for n in os.listdir(sandbox.session_dir(TASKS_SESSION) / "checkpoints"))


def _mount(args: list[str]) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.mark.parametrize("kind", ["full", "read-only"])
def test_full_disk_or_read_only_state_folder_is_said_once(sandbox: Sandbox, kind: str) -> None:
    """A real tmpfs as the state folder: filled up, or remounted read-only. The session goes on."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    state_dir = sandbox.root.parent  # the user's per-project state folders
    state_dir.mkdir(parents=True)
    if not _mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs", str(state_dir)]):
        pytest.skip("cannot mount a tmpfs here")
    try:
        run_session(sandbox, TASKS_SESSION, transcript)  # works while there is room
        if kind == "full":
            with open(state_dir / "filler", "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                except OSError:
                    pass
        else:
            assert _mount(["-o", "remount,ro", str(state_dir)])
        payload = sandbox.payload("SessionStart__resume.json", session_id=TASKS_SESSION, transcript_path=str(transcript))
        first = sandbox.run("SessionStart", payload)
        out = assert_accepted("SessionStart", first)
        assert out is not None and "cannot save" in out["systemMessage"], first.stdout + first.stderr
        for event, fixture in (("SessionStart", "SessionStart__resume.json"), ("Stop", "Stop.json"),
                               ("UserPromptSubmit", "UserPromptSubmit.json"), ("PreCompact", "PreCompact__auto.json")):
            again = sandbox.run(event, sandbox.payload(fixture, session_id=TASKS_SESSION, transcript_path=str(transcript)))
            assert again.code == 0 and "cannot save" not in again.stdout, (event, again.stdout)  # said once
    finally:
        subprocess.run(["umount", "-l", str(state_dir)], capture_output=True)


def test_session_start_puts_the_cli_on_the_bash_tools_path(sandbox: Sandbox) -> None:
    """Claude Code sources CLAUDE_ENV_FILE before each Bash call; the skill relies on this."""
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    env_file = sandbox.tmp / "claude-env.sh"
    env = {"CLAUDE_ENV_FILE": str(env_file)}
    payload = sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION, transcript_path=str(transcript))
    for _ in range(2):  # idempotent: one line however often SessionStart fires
        assert sandbox.run("SessionStart", payload, env=env).code == 0
    assert env_file.read_text().count("export PATH=") == 1
    # tools do not get CLAUDE_PLUGIN_DATA (measured on 2.1.330): the launcher must not need it
    shell_env = {k: v for k, v in sandbox.env.items() if k != "CLAUDE_PLUGIN_DATA"}
    shell_env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    proc = subprocess.run(
        ["bash", "-c", f". {env_file} && command -v session-state && session-state status --json"],
        capture_output=True, text=True, env=shell_env, cwd=sandbox.project, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    where, _, status = proc.stdout.partition("\n")
    assert where == str(sandbox.data / "bin" / "session-state")
    assert TASKS_SESSION in status


def test_a_2_1_330_fork_finds_its_parent_by_the_history_it_copied(sandbox: Sandbox) -> None:
    """2.1.330 rewrites sessionId in the copied lines (measured in the e2e run) but keeps uuids."""
    parent = TASKS_SESSION
    sandbox.copy_transcript(TASKS_TRANSCRIPT, parent)
    decoy = sandbox.copy_transcript(COMPACT_TRANSCRIPT, "66666666-0000-4000-8000-000000000001")
    fork = "77777777-0000-4000-8000-000000000001"
    lines = []
    for raw in TASKS_TRANSCRIPT.read_text().splitlines():
        line = json.loads(raw)
        if "sessionId" in line:
            line["sessionId"] = fork
        lines.append(json.dumps(line))
    forked = sandbox.transcripts / f"{fork}.jsonl"
    forked.write_text("\n".join(lines) + "\n")
    os.utime(decoy)  # the newest sibling is not the parent
    out = assert_accepted("SessionStart", sandbox.run("SessionStart", sandbox.payload(
        "SessionStart__fork.json", session_id=fork, transcript_path=str(forked))))
    assert f"fork of session {parent}" in out["hookSpecificOutput"]["additionalContext"]
    state = models.SessionState.model_validate_json((sandbox.session_dir(fork) / "state.json").read_bytes())
    assert state.lineage.parent_session_id == parent
    assert len(state.tasks) == 6  # the fork starts from the parent's work
    parent_journal = (sandbox.session_dir(parent) / "journal.jsonl").read_text()
    assert f'"session_id":"{fork}"' in parent_journal and "fork_child" in parent_journal


def test_a_stable_launcher_survives_plugin_updates_for_the_status_line(sandbox: Sandbox) -> None:
    """The status line runs outside the Bash tool: settings.json gets a path that never moves."""
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION, transcript_path=str(transcript)))
    launcher = sandbox.data / "bin" / "session-state"
    assert str(REPO / "bin" / "session-state") in launcher.read_text()
    env = {k: v for k, v in sandbox.env.items() if k != "CLAUDE_PLUGIN_DATA"}  # the status line lacks it too
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    settings_file = sandbox.tmp / "settings.json"
    settings_file.write_text('{"theme": "dark"}\n')
    proc = subprocess.run(["sh", str(launcher), "install-statusline", "--settings", str(settings_file)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    command = json.loads(settings_file.read_text())["statusLine"]["command"]
    assert command == f"sh {launcher} statusline"
    line = subprocess.run(command, shell=True, input=json.dumps({"session_id": TASKS_SESSION, "transcript_path": str(transcript), "cwd": str(sandbox.project)}),
                          capture_output=True, text=True, env=env, timeout=60)
    assert line.returncode == 0 and "%" in line.stdout and "\n" not in line.stdout.strip()


def test_stop_waits_for_the_reply_it_reports_to_reach_the_transcript(sandbox: Sandbox) -> None:
    """2.1.330 under load can run Stop before the last assistant line is written (seen in e2e)."""
    import threading

    sid = "88888888-0000-4000-8000-000000000001"
    transcript = sandbox.transcripts / f"{sid}.jsonl"
    transcript.write_text(_usage_line("m1", 1200, "u1") + "\n")
    late = json.loads(_usage_line("m2", 150_000, "u2"))
    late["message"]["content"] = [{"type": "text", "text": "Refactored the parser and all tests pass now"}]

    def flush_later() -> None:
        time.sleep(0.25)
        with transcript.open("a") as f:
            f.write(json.dumps(late) + "\n")

    writer = threading.Thread(target=flush_later)
    writer.start()
    stop = sandbox.payload("Stop.json", session_id=sid, transcript_path=str(transcript),
                           last_assistant_message="Refactored the parser and all tests pass now")
    assert sandbox.run("Stop", stop).code == 0
    writer.join()
    usage = [json.loads(x) for x in (sandbox.session_dir(sid) / "usage.jsonl").read_text().splitlines()]
    assert usage[-1]["context_tokens"] == 150_000  # not the previous turn's 1,200


def test_a_fork_whose_transcript_appears_after_its_first_turn_finds_its_parent(sandbox: Sandbox) -> None:
    """2.1.330 writes a fork's transcript only when its first turn ends (measured in e2e)."""
    parent = TASKS_SESSION
    sandbox.copy_transcript(TASKS_TRANSCRIPT, parent)
    fork = "99999999-0000-4000-8000-000000000001"
    forked = sandbox.transcripts / f"{fork}.jsonl"
    start = sandbox.payload("SessionStart__fork.json", session_id=fork, transcript_path=str(forked))
    out = assert_accepted("SessionStart", sandbox.run("SessionStart", start))
    assert "12,946" in out["hookSpecificOutput"]["additionalContext"]  # the payload's context_tokens
    lines = [json.loads(raw) for raw in TASKS_TRANSCRIPT.read_text().splitlines()]
    forked.write_text("".join(json.dumps({**l, "sessionId": fork} if "sessionId" in l else l) + "\n" for l in lines))
    with forked.open("a") as f:  # the fork's own first turn: lines no other transcript holds
        f.write(_usage_line("m-fork-1", 70_000, "fork-own-line-1") + "\n")
    assert sandbox.run("Stop", sandbox.payload("Stop.json", session_id=fork, transcript_path=str(forked))).code == 0
    sandbox.wait_refresh(fork)
    state = models.SessionState.model_validate_json((sandbox.session_dir(fork) / "state.json").read_bytes())
    assert state.lineage.parent_session_id == parent and "fork" in state.lineage.sources


def test_a_fork_is_not_mistaken_for_its_sibling_fork(sandbox: Sandbox) -> None:
    """Two forks of one parent both hold the copied lines; each must name the parent."""
    parent = TASKS_SESSION
    sandbox.copy_transcript(TASKS_TRANSCRIPT, parent)
    lines = [json.loads(raw) for raw in TASKS_TRANSCRIPT.read_text().splitlines()]
    for n, fork in enumerate(["aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"]):
        forked = sandbox.transcripts / f"{fork}.jsonl"
        forked.write_text("".join(json.dumps({**l, "sessionId": fork} if "sessionId" in l else l) + "\n" for l in lines)
                          + _usage_line(f"m-own-{n}", 70_000, f"own-line-{n}") + "\n")
        sandbox.run("SessionStart", sandbox.payload("SessionStart__fork.json", session_id=fork, transcript_path=str(forked)))
        sandbox.run("Stop", sandbox.payload("Stop.json", session_id=fork, transcript_path=str(forked)))
        sandbox.wait_refresh(fork)
        state = models.SessionState.model_validate_json((sandbox.session_dir(fork) / "state.json").read_bytes())
        assert state.lineage.parent_session_id == parent, (fork, state.lineage)


def test_configured_extra_redaction_reaches_everything_written(sandbox: Sandbox) -> None:
    sid = "cccccccc-0000-4000-8000-00000000000c"
    transcript = sandbox.transcripts / f"{sid}.jsonl"
    prompt = {"type": "user", "uuid": "p1", "sessionId": sid, "message": {"role": "user", "content": "deploy with ticket ACME-INTERNAL-4471 today"}}
    transcript.write_text(json.dumps(prompt) + "\n" + _usage_line("m1", 5000, "u1") + "\n")
    sandbox.write_config({"redact_extra": ["ACME-INTERNAL-\\d+"]})
    sandbox.run("UserPromptSubmit", sandbox.payload("UserPromptSubmit.json", session_id=sid, transcript_path=str(transcript),
                                                    prompt="deploy with ticket ACME-INTERNAL-4471 today"))
    sandbox.run("Stop", sandbox.payload("Stop.json", session_id=sid, transcript_path=str(transcript)))
    sandbox.wait_refresh(sid)
    sandbox.run("SessionEnd", sandbox.payload("SessionEnd__other.json", session_id=sid, transcript_path=str(transcript)))
    written = [p for p in sandbox.root.rglob("*") if p.is_file()]
    assert any("deploy with ticket" in p.read_text(errors="replace") for p in written)
    assert not [p for p in written if "ACME-INTERNAL-4471" in p.read_text(errors="replace")]


def test_a_second_compaction_gets_the_handoff_again_but_a_double_fire_does_not(sandbox: Sandbox) -> None:
    sid = COMPACT_TRANSCRIPT.stem
    transcript = sandbox.copy_transcript(COMPACT_TRANSCRIPT, sid)
    start = sandbox.payload("SessionStart__compact.json", session_id=sid, transcript_path=str(transcript))
    assert "additionalContext" in sandbox.run("SessionStart", start).stdout
    assert "additionalContext" not in sandbox.run("SessionStart", start).stdout  # the same start firing twice
    for marker in (sandbox.session_dir(sid) / "markers").glob("inject-compact-*"):
        old = time.time() - 3600
        os.utime(marker, (old, old))  # the next compaction, an hour later, with the same state
    assert "additionalContext" in sandbox.run("SessionStart", start).stdout


def test_per_turn_hooks_write_no_conversation_text(sandbox: Sandbox) -> None:
    """UserPromptSubmit and the hot part of Stop keep offsets, ids and budget figures only: the
    prompt, commands and replies reach the journal later, through the full tier's redactor."""
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    marker = "zq-unique-prompt-words-for-this-test"
    payload = sandbox.payload("UserPromptSubmit.json", session_id=TASKS_SESSION, transcript_path=str(transcript), prompt=f"please {marker}")
    assert sandbox.run("UserPromptSubmit", payload).code == 0
    sdir = sandbox.session_dir(TASKS_SESSION)
    written = {p.name: p.read_text(errors="replace") for p in sdir.rglob("*") if p.is_file()}
    assert "cursor.json" in written and not any(marker in text for text in written.values())
    assert not (sdir / "journal.jsonl").exists() or '"text"' not in (sdir / "journal.jsonl").read_text()
    cursor = json.loads(written["cursor.json"])
    assert cursor["offset"] > 0 and cursor["git_branch"] is None and not cursor.get("pending")

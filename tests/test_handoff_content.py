"""What the handoff carries (issue 10): the thread across /clear, what a compaction summary
dropped, failing commands, the model's stated next step, and one entry per prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hookrun import Sandbox

from session_state.state import project_files as project, fold as state
from session_state.core import settings, transcript
from session_state.state.models import SessionState

GOAL = "Build the CSV importer for the billing service with streaming parsing and row validation"
OPEN = "Wire the importer into the billing CLI"
DOING = "Write the streaming row parser"
DONE = "Sketch the importer's data model"
NEXT = "Next I'll run the parser against the March export to check the totals."


def lines(*objs: dict) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


def work_transcript(session_id: str) -> str:
    """A session that sets a goal, keeps a task list, edits a file, runs a failing command and says what is next."""
    base = {"sessionId": session_id, "cwd": "/w/billing", "version": "2.1.330", "isSidechain": False}
    return lines(
        {**base, "type": "user", "uuid": "u1", "timestamp": "2026-11-30T12:00:00.000Z", "message": {"role": "user", "content": GOAL}},
        {**base, "type": "assistant", "uuid": "a1", "timestamp": "2026-11-30T12:00:05.000Z", "message": {
            "id": "m1", "role": "assistant", "model": "claude-opus-4-7", "content": [
                {"type": "tool_use", "id": "t1", "name": "TodoWrite", "input": {"todos": [
                    {"content": DONE, "status": "completed", "activeForm": "Sketching"},
                    {"content": DOING, "status": "in_progress", "activeForm": "Working on the parser"},
                    {"content": OPEN, "status": "pending", "activeForm": "Wiring"}]}},
                {"type": "tool_use", "id": "t2", "name": "Edit", "input": {"file_path": "/w/billing/importer/rows.py"}},
                {"type": "tool_use", "id": "t3", "name": "Bash", "input": {"command": "pytest tests/test_rows.py -q"}},
                {"type": "tool_use", "id": "t4", "name": "Bash", "input": {"command": "ls"}}],
            "usage": {"input_tokens": 10, "output_tokens": 10}}},
        {**base, "type": "user", "uuid": "r1", "timestamp": "2026-11-30T12:00:06.000Z", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t2", "content": "The file /w/billing/importer/rows.py has been updated."},
            {"type": "tool_result", "tool_use_id": "t3", "is_error": True, "content": "Exit code 1\nFAILED test_rows.py::test_totals - assert 41 == 42"},
            {"type": "tool_result", "tool_use_id": "t4", "content": "importer"}]}},
        {**base, "type": "assistant", "uuid": "a2", "timestamp": "2026-11-30T12:00:09.000Z", "message": {
            "id": "m2", "role": "assistant", "model": "claude-opus-4-7",
            "content": [{"type": "text", "text": f"The totals are off by one. {NEXT}"}], "usage": {"input_tokens": 10, "output_tokens": 10}}},
    )


def test_a_failing_command_and_its_error_become_a_fact_and_a_success_does_not(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(work_transcript("s"))
    cursor, facts = transcript.update(None, path)
    failed = [f for f in facts if f["k"] == "cmd_failed"]
    assert [(f["command"], f["error"].splitlines()[1]) for f in failed] == [
        ("pytest tests/test_rows.py -q", "FAILED test_rows.py::test_totals - assert 41 == 42")]
    assert cursor["pending"] == {}  # the successful `ls` was forgotten without a fact


def test_the_next_step_is_the_models_own_words_never_the_active_form(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(work_transcript("s"))
    st = state.new_state("s", tmp_path)
    state.fold(st, transcript.update(None, path)[1])
    assert st.next_step == NEXT
    assert st.goal is not None and st.goal.text == GOAL
    st.next_step = None  # a latest message that states nothing: the task list says what is next
    from session_state.state import handoff

    pkg = handoff.build(st, tmp_path, settings.defaults())
    assert pkg.task_context.next_step == f"finish the task in progress: {DOING}"
    assert "Working on" not in pkg.task_context.next_step and not pkg.task_context.next_step_stated


def test_a_tool_result_fragment_is_never_the_last_assistant_message(tmp_path: Path) -> None:
    st = state.new_state("s", tmp_path)
    fragment = '[{"type": "text", "text": "[Subagent hand-back] the parser is do'
    state.fold(st, [{"k": "assistant", "id": "x1", "text": fragment}])
    assert st.last_assistant is None
    whole = json.dumps([{"type": "text", "text": "The parser is done."}])
    state.fold(st, [{"k": "assistant", "id": "x2", "text": whole}])
    assert st.last_assistant == "The parser is done."


def test_a_forks_prompt_reported_twice_is_one_request_after_the_parents(tmp_path: Path) -> None:
    """UserPromptSubmit records the fork's first prompt before its transcript (with the parent's
    earlier prompts copied in) is read; the two reports differ only in milliseconds."""
    st = state.new_state("fork", tmp_path)
    state.fold(st, [
        {"k": "prompt", "id": "prompt:p1", "ts": "2026-11-30T12:04:11Z", "text": "now try the fork with the streaming parser"},
        {"k": "prompt", "id": "u-parent-1", "ts": "2026-11-30T11:58:00.100Z", "text": GOAL},
        {"k": "prompt", "id": "u-fork-1", "ts": "2026-11-30T12:04:11.760Z", "text": "now try the fork with the streaming parser"},
    ])
    assert [r.text for r in st.requests] == [GOAL, "now try the fork with the streaming parser"]
    assert st.goal is not None and st.goal.text == GOAL


def context_of(result) -> str:
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)["hookSpecificOutput"]["additionalContext"]


@pytest.mark.slow
def test_the_thread_survives_three_clears_and_a_compaction(sandbox: Sandbox) -> None:
    first = "aaaaaaaa-0000-4000-8000-000000000001"
    path = sandbox.transcripts / f"{first}.jsonl"
    path.write_text(work_transcript(first))
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=first, transcript_path=str(path)))
    sandbox.run("PreCompact", sandbox.payload("PreCompact__manual.json", session_id=first, transcript_path=str(path)))
    project.decide(sandbox.root, "stream rows instead of loading the file", "exports reach 2 GB", session_id=first)
    chain = [first]
    for n in range(2, 5):  # three /clear in a row, a prompt in between each
        sandbox.run("SessionEnd", sandbox.payload("SessionEnd__clear.json", session_id=chain[-1], transcript_path=str(path)))
        sid = f"aaaaaaaa-0000-4000-8000-00000000000{n}"
        path = sandbox.transcripts / f"{sid}.jsonl"
        path.write_text("")
        text = context_of(sandbox.run("SessionStart", sandbox.payload("SessionStart__clear.json", session_id=sid, transcript_path=str(path))))
        sandbox.run("UserPromptSubmit", sandbox.payload("UserPromptSubmit.json", session_id=sid, transcript_path=str(path),
                                                        prompt=f"keep going, round {n}"))
        chain.append(sid)
    for needed in (GOAL, OPEN, DOING, DONE, "stream rows instead of loading the file", "exports reach 2 GB"):
        assert needed in text, (needed, text)
    # the handoff of the session before the last /clear, naming the whole chain before it
    assert " → ".join(f"{s} (cleared)" for s in chain[:-2]) + f" → {chain[-2]}" in text
    # a compaction of the third heir keeps all of it too
    text = context_of(sandbox.run("SessionStart", sandbox.payload("SessionStart__compact.json", session_id=chain[-1], transcript_path=str(path))))
    assert GOAL in text and OPEN in text and f"{chain[0]} (cleared)" in text
    st = SessionState.model_validate_json((sandbox.session_dir(chain[-1]) / "state.json").read_bytes())
    assert st.lineage.previous_session_id == chain[-2]
    assert [t.subject for t in st.tasks if t.status != "completed"] == [DOING, OPEN]


def test_after_compaction_what_the_summary_dropped_comes_first(sandbox: Sandbox) -> None:
    """2.1.330 order: PreCompact, the compaction's SubagentStop (the summary), SessionStart
    `compact`, PostCompact. The summary here keeps the goal and the parser task, drops the rest."""
    sid = "bbbbbbbb-0000-4000-8000-000000000001"
    path = sandbox.transcripts / f"{sid}.jsonl"
    path.write_text(work_transcript(sid))
    project.decide(sandbox.root, "stream rows instead of loading the file", "exports reach 2 GB", session_id=sid)
    common = {"session_id": sid, "transcript_path": str(path)}
    summary = f"<summary>1. Primary Request and Intent: {GOAL}\n2. Current work: {DOING}</summary>"
    sandbox.run("PreCompact", sandbox.payload("PreCompact__auto.json", **common))
    sandbox.run("SubagentStop", sandbox.payload("SubagentStop.json", **common, agent_type="", agent_id="acompact",
                                                agent_transcript_path=str(sandbox.tmp / "absent.jsonl"), last_assistant_message=summary))
    text = context_of(sandbox.run("SessionStart", sandbox.payload("SessionStart__compact.json", **common)))
    lead, _, rest = text.partition("Also saved (the summary has these):")
    assert "Not in Claude Code's summary above:" in lead
    for dropped in (OPEN, "stream rows instead of loading the file", "pytest tests/test_rows.py -q", NEXT):
        assert dropped in lead, (dropped, text)
    assert GOAL not in lead and DOING not in lead  # the summary has those: named briefly after
    assert DOING in rest and "goal: " in rest
    assert text.rstrip().endswith(str(sandbox.session_dir(sid) / "handoff.toon"))
    post = sandbox.run("PostCompact", sandbox.payload("PostCompact__auto.json", **common, compact_summary=summary))
    assert post.code == 0 and post.stdout == ""
    record = json.loads((sandbox.session_dir(sid) / "compact-summary.json").read_text())
    assert record["source"] == "PostCompact" and "goal" in record["covered"]
    assert any(key.startswith("decision:") for key in record["missing"])

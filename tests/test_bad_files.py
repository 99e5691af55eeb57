"""Bad files do not stop hooks (issue 9, reproduction 7).

Corrupt, non-UTF-8 or symlinked state files, TOON files, locks and a symlinked state root, met by
the real hook processes and the real CLI: one notice, the file set aside as
`<name>.corrupt-<time>-<pid>` and rewritten, the hook goes on, the CLI prints one line, and
nothing a link points to is read, truncated or written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hookrun import TASKS_SESSION, TASKS_TRANSCRIPT, Sandbox  # noqa: E402

SID = "eeeeeeee-0000-4000-8000-000000000001"
PRECIOUS = b"precious bytes of another project\n"


def _start(sandbox: Sandbox, sid: str = SID, source: str = "startup") -> dict:
    result = sandbox.run("SessionStart", sandbox.payload(f"SessionStart__{source}.json", session_id=sid,
                                                         transcript_path=str(sandbox.transcripts / f"{sid}.jsonl")))
    assert result.code == 0, result.stderr
    assert "failed internally" not in result.stderr, result.stderr
    return result.json() or {}


def _cli(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "session_state.cli", *args], cwd=sandbox.project, env=sandbox.env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _aside(folder: Path, name: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(f"{name}.corrupt-"))


def _victim(sandbox: Sandbox) -> Path:
    victim = sandbox.tmp / "elsewhere" / "victim.txt"
    victim.parent.mkdir(exist_ok=True)
    victim.write_bytes(PRECIOUS)
    return victim


@pytest.mark.parametrize("content", [b"project: [unterminated\n  \"x\n:\n", b"\xff\xfe\x00garbage \x80\x81\n"],
                         ids=["corrupt", "non-utf8"])
def test_bad_session_context_toon_is_set_aside_and_rewritten(sandbox: Sandbox, content: bytes) -> None:
    import toons

    _start(sandbox)
    context = sandbox.root / "session-context.toon"
    context.write_bytes(content)
    out = _start(sandbox, "eeeeeeee-0000-4000-8000-000000000002")
    assert "session-context.toon" in out.get("systemMessage", "") and "set aside" in out["systemMessage"]
    data = toons.loads(context.read_text(encoding="utf-8"))  # rewritten, valid
    assert data["path"] == str(sandbox.project)
    moved = _aside(sandbox.root, "session-context.toon")
    assert len(moved) == 1 and moved[0].read_bytes() == content  # kept for a human
    again = _start(sandbox, "eeeeeeee-0000-4000-8000-000000000003")
    assert "set aside" not in again.get("systemMessage", "")  # said once


def test_symlinked_root_lock_does_not_break_decide_or_truncate_its_target(sandbox: Sandbox) -> None:
    _start(sandbox)
    victim = _victim(sandbox)
    (sandbox.root / ".lock").unlink(missing_ok=True)
    (sandbox.root / ".lock").symlink_to(victim)
    out = _cli(sandbox, "decide", "keep the lock a plain file", "--why", "a link would be followed")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert [ln for ln in out.stderr.splitlines() if ln.strip()] and len(out.stderr.strip().splitlines()) == 1
    assert ".lock" in out.stderr and "set aside" in out.stderr
    assert victim.read_bytes() == PRECIOUS
    lock = sandbox.root / ".lock"
    assert lock.exists() and not lock.is_symlink()
    assert "keep the lock a plain file" in (sandbox.root / "decisions.toon").read_text()


def test_symlinked_state_root_is_moved_aside_and_hooks_go_on(sandbox: Sandbox) -> None:
    """The link (only the link) is moved aside and a fresh root made: writing through it would put
    this session's prompts wherever it points, and reading it would take its files as our state."""
    elsewhere = sandbox.tmp / "elsewhere-root"
    (elsewhere / "sessions").mkdir(parents=True)
    (elsewhere / "victim.txt").write_bytes(PRECIOUS)
    sandbox.root.parent.mkdir(parents=True, exist_ok=True)
    sandbox.root.symlink_to(elsewhere, target_is_directory=True)
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    tp = str(transcript)
    first = sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION,
                                                        transcript_path=tp))
    assert first.code == 0 and "failed internally" not in first.stderr, first.stderr
    assert "was a symlink" in (first.json() or {}).get("systemMessage", "")
    for event, fixture in (("UserPromptSubmit", "UserPromptSubmit.json"), ("Stop", "Stop.json"),
                           ("PreCompact", "PreCompact__manual.json"), ("SessionEnd", "SessionEnd__other.json")):
        result = sandbox.run(event, sandbox.payload(fixture, session_id=TASKS_SESSION, transcript_path=tp))
        assert result.code == 0 and "failed internally" not in result.stderr, (event, result.stderr)
        assert "was a symlink" not in result.stdout  # said once
    sandbox.wait_refresh(TASKS_SESSION)
    assert sandbox.root.is_dir() and not sandbox.root.is_symlink()
    assert (sandbox.session_dir(TASKS_SESSION) / "state.json").is_file()
    assert sorted(p.name for p in elsewhere.rglob("*")) == ["sessions", "victim.txt"]  # nothing written there
    assert (elsewhere / "victim.txt").read_bytes() == PRECIOUS
    assert [p for p in sandbox.root.parent.iterdir() if p.name.startswith(sandbox.root.name + ".corrupt-") and p.is_symlink()]


@pytest.mark.parametrize("name", ["state.json", "cursor.json", "journal.jsonl", "usage.jsonl", "handoff.toon", "handoff.md"])
def test_symlinked_session_file_is_set_aside_never_followed(sandbox: Sandbox, name: str) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    tp = str(transcript)
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION, transcript_path=tp))
    sdir = sandbox.session_dir(TASKS_SESSION)
    victim = _victim(sandbox)
    (sdir / name).unlink(missing_ok=True)
    (sdir / name).symlink_to(victim)
    with transcript.open("a") as fh:  # the user types on: a new fact for the journal (facts come from the transcript)
        fh.write(json.dumps({"type": "user", "uuid": "5d1c1f3e-0000-4000-8000-000000000001", "sessionId": TASKS_SESSION,
                             "timestamp": "2026-11-30T12:00:00.000Z", "isSidechain": False,
                             "message": {"role": "user", "content": "go on with the parser"}}) + "\n")
    for event, fixture in (("UserPromptSubmit", "UserPromptSubmit.json"), ("PreCompact", "PreCompact__manual.json")):
        result = sandbox.run(event, sandbox.payload(fixture, session_id=TASKS_SESSION, transcript_path=tp))
        assert result.code == 0 and "failed internally" not in result.stderr, (event, result.stderr)
    assert victim.read_bytes() == PRECIOUS
    assert not (sdir / name).is_symlink() and (sdir / name).is_file()  # rewritten as our own file
    assert [p for p in _aside(sdir, name) if p.is_symlink()]
    log = (sandbox.data / "logs" / "session-state.log").read_text()
    assert f"{name} was a symlink" in log


# (a non-UTF-8 workflow-state.toon is never read back, only replaced: nothing to guard there)
@pytest.mark.parametrize(("kind", "name"), [("symlink", "decisions.toon"), ("symlink", "workflow-state.toon"),
                                            ("non-utf8", "decisions.toon")])
def test_bad_project_toon_files_do_not_stop_hooks(sandbox: Sandbox, name: str, kind: str) -> None:
    import toons

    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    tp = str(transcript)
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION, transcript_path=tp))
    victim = _victim(sandbox)
    path = sandbox.root / name
    path.unlink(missing_ok=True)
    if kind == "symlink":
        path.symlink_to(victim)
    else:
        path.write_bytes(b"decisions[1]{id}:\n  \xff\xfe\n")
    pre = sandbox.run("PreCompact", sandbox.payload("PreCompact__manual.json", session_id=TASKS_SESSION, transcript_path=tp))
    assert pre.code == 0 and "failed internally" not in pre.stderr, pre.stderr
    assert "The task in hand" in pre.stdout
    decided = _cli(sandbox, "decide", "go on", "--why", "bad files do not stop us", "--session", TASKS_SESSION)
    assert decided.returncode == 0 and "Traceback" not in decided.stderr, decided.stderr
    assert victim.read_bytes() == PRECIOUS
    assert path.is_file() and not path.is_symlink()
    toons.loads(path.read_text(encoding="utf-8"))  # rewritten, valid
    assert _aside(sandbox.root, name)
    # the notice reaches the user once: PreCompact cannot speak, so it waits for the next prompt
    prompt = sandbox.run("UserPromptSubmit", sandbox.payload("UserPromptSubmit.json", session_id=TASKS_SESSION, transcript_path=tp))
    said = (prompt.json() or {}).get("systemMessage", "") + decided.stderr
    assert name in said and "set aside" in said


def test_corrupt_handoff_is_a_one_line_cli_error(sandbox: Sandbox) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    tp = str(transcript)
    sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION, transcript_path=tp))
    (sandbox.session_dir(TASKS_SESSION) / "handoff.toon").write_bytes(b"\xff\xfe not toon\n")
    out = _cli(sandbox, "handoff", "show", "--session", TASKS_SESSION)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("session-state:") and "handoff.toon" in out.stderr
    assert _aside(sandbox.session_dir(TASKS_SESSION), "handoff.toon")  # set aside, not met again
    create = _cli(sandbox, "handoff", "create", "--session", TASKS_SESSION)
    assert create.returncode == 0, create.stderr
    assert _cli(sandbox, "handoff", "show", "--session", TASKS_SESSION).returncode == 0  # rewritten

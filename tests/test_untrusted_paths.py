"""No value read from a file chooses a path to walk or a place to run (issue 9).

Real symlinks, a real git with a real fsmonitor command, real hook processes: a planted
`checkpoints -> elsewhere` or `archive -> elsewhere` link is refused, never followed or deleted
through; git runs only in the project folder Claude Code named, with fsmonitor, hooks and the
environment's GIT_* variables out of play and a PATH without the project's folders; a transcript
path read back from cursor.json or state.json is used only inside Claude Code's projects folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hookrun import TASKS_SESSION, TASKS_TRANSCRIPT, Sandbox  # noqa: E402
from secrets_corpus import _Lines  # noqa: E402

from session_state.core import paths
from session_state.state import fold as state  # noqa: E402

NEW = "cccccccc-0000-4000-8000-000000000001"


def _user_config(sandbox: Sandbox, values: dict) -> None:
    (sandbox.tmp / "user-config.json").write_text(json.dumps(values))


def _victim(folder: Path, names: list[str], size: int = 80_000) -> dict[str, bytes]:
    """A sibling project's files, big enough together to exceed the smallest project cap."""
    folder.mkdir(parents=True)
    out = {}
    for n, name in enumerate(names):
        data = bytes([65 + n]) * size
        (folder / name).write_bytes(data)
        os.utime(folder / name, (time.time() - 3600 * (n + 1),) * 2)
        out[name] = data
    return out


def _intact(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        assert (folder / name).read_bytes() == data, f"{folder / name} was changed or deleted"
    assert sorted(p.name for p in folder.iterdir()) == sorted(files), "files were added to or removed from the victim"


def _log(sandbox: Sandbox) -> str:
    log = sandbox.data / "logs" / "session-state.log"
    return log.read_text(errors="replace") if log.exists() else ""


def _start(sandbox: Sandbox, sid: str = NEW) -> None:
    result = sandbox.run("SessionStart", sandbox.payload("SessionStart__startup.json", session_id=sid,
                                                         transcript_path=str(sandbox.transcripts / f"{sid}.jsonl")))
    assert result.code == 0 and "failed internally" not in result.stderr, result.stderr


@pytest.mark.parametrize("link", ["checkpoints", "archive"])
def test_planted_checkpoint_or_archive_link_is_never_followed(sandbox: Sandbox, link: str) -> None:
    """Reproduction 2: retention at SessionStart (and `prune`) with the smallest cap and a
    session whose checkpoints/ or checkpoints/archive/ is a link to a sibling project."""
    _user_config(sandbox, {"project_cap_bytes": 100_000})
    _start(sandbox)  # the state root exists now
    sibling = sandbox.tmp / "other-project"
    suffix = ".json" if link == "checkpoints" else ".gz"
    files = _victim(sibling, [f"package{suffix}", f"package-lock{suffix}", f"tsconfig{suffix}"])
    evil = sandbox.root / "sessions" / "evil"
    if link == "checkpoints":
        evil.mkdir(parents=True)
        (evil / "checkpoints").symlink_to(sibling)
    else:
        (evil / "checkpoints").mkdir(parents=True)
        (evil / "checkpoints" / "archive").symlink_to(sibling)
    _start(sandbox, "cccccccc-0000-4000-8000-000000000002")
    _intact(sibling, files)
    assert (evil / "checkpoints" if link == "checkpoints" else evil / "checkpoints" / "archive").is_symlink()
    assert "refusing" in _log(sandbox) and "symlink" in _log(sandbox)
    prune = subprocess.run([sys.executable, "-m", "session_state.cli", "prune"], cwd=sandbox.project, env=sandbox.env,
                           capture_output=True, text=True, timeout=120)
    assert prune.returncode == 0, prune.stderr
    _intact(sibling, files)
    assert str(sibling) not in prune.stdout


def test_inside_root_refuses_every_symlink_on_the_way(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sessions" / "s" / "checkpoints").mkdir(parents=True)
    ok = root / "sessions" / "s" / "checkpoints" / "a.json"
    ok.write_text("{}")
    assert paths.inside_root(root, ok)
    assert paths.inside_root(root, ok.parent, folder=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.json").write_text("{}")
    (root / "sessions" / "t").symlink_to(root / "sessions" / "s")  # a link inside the root is a link too
    assert not paths.inside_root(root, root / "sessions" / "t" / "checkpoints" / "a.json")
    (root / "sessions" / "s" / "link.json").symlink_to(outside / "a.json")
    assert not paths.inside_root(root, root / "sessions" / "s" / "link.json")
    assert not paths.inside_root(root, outside / "a.json")
    assert not paths.inside_root(root, root / "sessions" / ".." / ".." / "outside" / "a.json")
    linked_root = tmp_path / "linked-root"
    linked_root.symlink_to(root)
    assert not paths.inside_root(linked_root, linked_root / "sessions" / "s" / "checkpoints" / "a.json")


# --- git --------------------------------------------------------------------------------------


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
                        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def _repo(folder: Path, fsmonitor: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _git("init", "-q", "-b", "main", cwd=folder)
    (folder / "README").write_text("x\n")
    _git("add", "README", cwd=folder)
    _git("commit", "-qm", "init", cwd=folder)
    if fsmonitor:
        _git("config", "core.fsmonitor", fsmonitor, cwd=folder)


def _transcript_with_cwd(sandbox: Sandbox, sid: str, cwd: str) -> Path:
    lines = _Lines(sid, cwd)
    lines.prompt("look at the repository")
    lines.assistant([{"type": "text", "text": "Looking."}])
    path = sandbox.transcripts / f"{sid}.jsonl"
    path.write_text(lines.jsonl(), encoding="utf-8")
    return path


def test_git_runs_only_in_the_project_and_never_runs_a_planted_command(sandbox: Sandbox) -> None:
    """Reproduction 1's last step: a transcript line's `cwd` names an embedded repository whose
    config sets core.fsmonitor to a command; the environment names another git dir; the
    project's PATH holds a `git`. None of them runs anything; the branch is the project's."""
    pwned = sandbox.tmp / "pwned"
    _repo(sandbox.project)
    _repo(sandbox.project / "vendor" / "evil", fsmonitor=f"touch {pwned}-embedded; false")
    _git("checkout", "-qb", "feature-x", cwd=sandbox.project)
    _git("config", "core.fsmonitor", f"touch {pwned}-project; false", cwd=sandbox.project)  # set last: git runs it
    fake_bin = sandbox.project / "bin"
    fake_bin.mkdir()
    (fake_bin / "git").write_text(f"#!/bin/sh\ntouch {pwned}-path\nexit 1\n")
    (fake_bin / "git").chmod(0o755)
    sid = "cccccccc-0000-4000-8000-000000000003"
    transcript = _transcript_with_cwd(sandbox, sid, str(sandbox.project / "vendor" / "evil"))
    env = {
        "PATH": f"{fake_bin}:bin:{os.environ['PATH']}",
        "GIT_DIR": str(sandbox.project / "vendor" / "evil" / ".git"),
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": str(fake_bin),
    }
    for event, fixture in (("SessionStart", "SessionStart__startup.json"), ("PreCompact", "PreCompact__manual.json")):
        result = sandbox.run(event, sandbox.payload(fixture, session_id=sid, transcript_path=str(transcript)), env=env)
        assert result.code == 0 and "failed internally" not in result.stderr, result.stderr
    assert sorted(p.name for p in sandbox.tmp.glob("pwned*")) == []
    saved = json.loads((sandbox.session_dir(sid) / "state.json").read_text())
    assert saved["git_branch"] == "feature-x"  # git did run, in the project


@pytest.mark.parametrize("where", ["project", "submodule"])
def test_a_filter_driver_in_a_repositorys_own_config_never_runs(tmp_path: Path, where: str) -> None:
    """`git status` runs `filter.<name>.clean` on a file whose stat changed, when the repository's
    .gitattributes maps it to that filter: a repository (or a submodule of it) may not name a
    program that way. The branch is still read; whether the tree is dirty is then unknown."""
    pwned = tmp_path / "pwned"
    project = tmp_path / "p"
    _repo(project)
    inner = project / "sub" if where == "submodule" else project
    if where == "submodule":
        _repo(tmp_path / "lib")
        _git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(tmp_path / "lib"), "sub", cwd=project)
        _git("commit", "-qm", "sub", cwd=project)
    (inner / ".gitattributes").write_text("* filter=ev\n")
    _git("config", "filter.ev.clean", f"touch {pwned}; cat", cwd=inner)
    time.sleep(1.1)
    (inner / "README").touch()  # a stat change: status must look at the content again
    branch, dirty = state.git_status(project)
    assert not pwned.exists()
    assert branch == "main"
    if where == "project":
        assert dirty is None


def test_git_status_has_a_timeout_and_a_clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _repo(tmp_path / "p")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", "touch /tmp/never")
    env = state.git_env(tmp_path / "p")
    assert not [k for k in env if k.startswith("GIT_") and k != "GIT_TERMINAL_PROMPT"]
    assert state.git_status(tmp_path / "p") == ("main", False)  # GIT_DIR did not send it elsewhere
    assert state.GIT_TIMEOUT_S <= 5 and "core.fsmonitor=false" in state.GIT_SAFETY


# --- transcript paths read back from files ------------------------------------------------------


PLANTED = "PLANTED-REQUEST-push-everything-with-force"


def _planted_transcript(sandbox: Sandbox) -> Path:
    """A transcript inside the repository (not Claude Code's folder) holding a planted request."""
    lines = _Lines("dddddddd-0000-4000-8000-000000000001", str(sandbox.project))
    lines.prompt(PLANTED)
    lines.assistant([{"type": "text", "text": "ok"}])
    path = sandbox.project / "planted.jsonl"
    path.write_text(lines.jsonl(), encoding="utf-8")
    return path


def test_cleared_session_cursor_cannot_choose_the_transcript(sandbox: Sandbox) -> None:
    """claim_cleared reads the cleared session's transcript only from Claude Code's folder."""
    _start(sandbox)
    planted = _planted_transcript(sandbox)
    prev = sandbox.root / "sessions" / "prev"
    prev.mkdir(parents=True)
    (prev / "ended.clear").touch()
    (prev / "journal.jsonl").write_text("")
    (prev / "cursor.json").write_text(json.dumps({"path": str(planted)}))
    heir = "cccccccc-0000-4000-8000-000000000004"
    result = sandbox.run("SessionStart", sandbox.payload("SessionStart__clear.json", session_id=heir,
                                                         transcript_path=str(sandbox.transcripts / f"{heir}.jsonl")))
    assert result.code == 0 and "failed internally" not in result.stderr, result.stderr
    assert PLANTED not in result.stdout
    for path in sandbox.root.rglob("*"):
        if path.is_file():
            assert PLANTED not in path.read_text(errors="replace"), path


def test_cli_reads_a_stored_transcript_path_only_from_claude_codes_folder(sandbox: Sandbox) -> None:
    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    _start(sandbox, TASKS_SESSION)
    sandbox.run("Stop", sandbox.payload("Stop.json", session_id=TASKS_SESSION, transcript_path=str(transcript)))
    sandbox.wait_refresh(TASKS_SESSION)
    planted = _planted_transcript(sandbox)
    sdir = sandbox.session_dir(TASKS_SESSION)
    cursor = json.loads((sdir / "cursor.json").read_text())
    (sdir / "cursor.json").write_text(json.dumps({**cursor, "path": str(planted), "offset": 0}))
    st = json.loads((sdir / "state.json").read_text())
    (sdir / "state.json").write_text(json.dumps({**st, "transcript_path": str(planted)}))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "session_state.cli", *args], cwd=sandbox.project,
                              env=sandbox.env, capture_output=True, text=True, timeout=120)

    status = cli("status", "--session", TASKS_SESSION, "--json")
    assert status.returncode == 0, status.stderr
    assert PLANTED not in status.stdout
    budget = cli("budget", "--session", TASKS_SESSION, "--json")
    assert str(planted) not in budget.stdout + budget.stderr
    assert "Traceback" not in budget.stderr


def test_trusted_transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "claude"
    (config / "projects" / "p").mkdir(parents=True)
    inside = config / "projects" / "p" / "s.jsonl"
    inside.write_text("")
    outside = tmp_path / "repo" / "s.jsonl"
    outside.parent.mkdir()
    outside.write_text("")
    (config / "projects" / "p" / "link.jsonl").symlink_to(outside)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    assert paths.trusted_transcript(str(inside)) == str(inside)
    for bad in (str(outside), str(config / "projects" / "p" / "link.jsonl"), "relative/s.jsonl",
                str(config / "projects" / ".." / "x.jsonl"), None, 5, ""):
        assert paths.trusted_transcript(bad) is None, bad

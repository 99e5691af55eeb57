"""doctor: all well on hook-written state; each kind of breakage named with its fix, exit 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_support import MAROT_ID, REPO, WORKTREES_ID, Project, fresh  # noqa: F401 - fixtures

sys.path.insert(0, str(REPO / "tests" / "e2e"))
from harness import find_claude_bin  # noqa: E402 - the e2e harness knows where CI installs claude


def _path_without_claude() -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if not (Path(d) / "claude").exists())


def _doctor(project: Project, **env: str) -> tuple[int, dict[str, dict]]:
    out = project.run("doctor", "--json", env={"PATH": _path_without_claude(), **env})
    assert "Traceback" not in out.stderr, out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] == (out.returncode == 0)
    return out.returncode, {c["name"]: c for c in data["checks"]}


def test_healthy_project(fresh: Project) -> None:
    code, checks = _doctor(fresh)
    assert code == 0, [c for c in checks.values() if c["status"] == "fail"]
    for name in ("dependency pydantic", "dependency orjson", "dependency toons", "state folder", "configuration", "disk use"):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks[f"memory sync {MAROT_ID}"]["status"] == "ok"
    assert checks[f"memory sync {WORKTREES_ID}"]["status"] == "ok"
    assert checks["tokenizer offline"]["status"] in ("ok", "skip"), checks["tokenizer offline"]
    assert checks["hooks registered"]["status"] == "skip" and "not on PATH" in checks["hooks registered"]["detail"]
    assert checks["python environment"]["status"] in ("ok", "warn")
    text = fresh.run("doctor", env={"PATH": _path_without_claude()}).stdout
    assert "all checks passed" in text and "[  ok] state folder" in text


def test_memory_sync_failures_name_the_fix(fresh: Project) -> None:
    a, b = fresh.session_dir(MAROT_ID), fresh.session_dir(WORKTREES_ID)
    shutil.copy(b / "handoff.toon", a / "handoff.toon")  # the other session's handoff in this folder
    journal = b / "journal.jsonl"
    journal.write_bytes(journal.read_bytes()[:10])  # shorter than the state's offset
    code, checks = _doctor(fresh)
    assert code == 1
    first = checks[f"memory sync {MAROT_ID}"]
    assert first["status"] == "fail" and f"handoff.toon is for session {WORKTREES_ID}" in first["detail"]
    assert "handoff create" in first["fix"]
    second = checks[f"memory sync {WORKTREES_ID}"]
    assert second["status"] == "fail" and "past the journal's end" in second["detail"]
    text = fresh.run("doctor", env={"PATH": _path_without_claude()}).stdout
    assert "[FAIL] memory sync" in text and "fix: session-state handoff create" in text
    assert "something needs fixing" in text


def test_corrupt_state_stale_handoff_and_missing_transcript(fresh: Project) -> None:
    a, b = fresh.session_dir(MAROT_ID), fresh.session_dir(WORKTREES_ID)
    (a / "state.json").write_text("{")
    state = json.loads((b / "state.json").read_text())
    state["updated"] = "2999-01-01T00:00:00Z"
    (b / "state.json").write_text(json.dumps(state))
    Path(json.loads((b / "cursor.json").read_text())["path"]).unlink()
    code, checks = _doctor(fresh)
    assert code == 1
    assert checks[f"memory sync {MAROT_ID}"]["status"] == "fail"
    assert checks[f"memory sync {MAROT_ID}"]["fix"] == f"session-state recover --session {MAROT_ID}"
    assert (a / "state.json").read_text() == "{"  # doctor only looks
    second = checks[f"memory sync {WORKTREES_ID}"]
    assert second["status"] == "warn"
    assert "older than the state" in second["detail"] and "no longer exists" in second["detail"]


def test_bad_config_and_disk_cap(fresh: Project) -> None:
    (fresh.home / ".claude" / "session-state.json").write_text(json.dumps({"project_cap_bytes": 100000}))
    (fresh.dir / ".claude").mkdir()
    (fresh.dir / ".claude" / "session-state.json").write_text(json.dumps({"inject_cap_chars": 1}))
    code, checks = _doctor(fresh)
    assert code == 1
    assert checks["configuration"]["status"] == "fail" and "inject_cap_chars" in checks["configuration"]["detail"]
    assert checks["disk use"]["status"] == "fail" and checks["disk use"]["fix"].startswith("session-state prune")


def test_unwritable_state_folder(fresh: Project) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions do not stop writes")
    fresh.root.chmod(0o500)
    try:
        code, checks = _doctor(fresh)
    finally:
        fresh.root.chmod(0o700)
    assert code == 1 and checks["state folder"]["status"] == "fail"


def test_state_folder_that_is_a_file(fresh: Project) -> None:
    """A state root that cannot hold files (a file in its place) is reported, not a traceback."""
    target = fresh.dir / "elsewhere"
    target.write_text("a file, not a folder")
    code, checks = _doctor(fresh, SESSION_STATE_DIR=str(target / "state"))
    assert code == 1 and checks["state folder"]["status"] == "fail"


def test_hooks_registered_asks_the_real_claude(fresh: Project, tmp_path: Path) -> None:
    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (scripts/setup installs it for CI)")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "claude").symlink_to(claude)
    path = f"{bindir}{os.pathsep}{_path_without_claude()}"
    code, checks = _doctor(fresh, PATH=path)
    assert code == 1 and checks["hooks registered"]["status"] == "fail"
    assert "not in `claude plugin list`" in checks["hooks registered"]["detail"]
    env = {**fresh.env, "PATH": path}
    name = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text())["name"]
    for args in (["plugin", "marketplace", "add", str(REPO)], ["plugin", "install", f"session-state@{name}"]):
        subprocess.run([str(claude), *args], env=env, check=True, capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    code, checks = _doctor(fresh, PATH=path)
    hooks = checks["hooks registered"]
    assert hooks["status"] == "ok" and "SessionStart" in hooks["detail"] and "enabled" in hooks["detail"]


def test_tokenizer_check_never_imports_from_the_project(fresh: Project) -> None:
    """The check's child starts isolated (-I): a json.py the project brings is never what it runs."""
    marker = fresh.dir / "planted json.py ran"
    (fresh.dir / "json.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    code, checks = _doctor(fresh)
    assert not marker.exists(), "the tokenizer check imported the project's json.py"
    assert checks["tokenizer offline"]["status"] in ("ok", "skip"), checks["tokenizer offline"]

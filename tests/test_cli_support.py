"""Shared setup for the CLI tests: a project whose state was written by the real hooks.

A copy of a bundled transcript (timestamps moved to just before now, so the session looks
live) is fed to `bin/_run.py <Event>` with the captured hook payloads, exactly as Claude Code
would start them; the CLI is then run as a user runs it, as a separate process. Nothing is
mocked. This module holds no tests of its own; the test_cli_* modules import it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
PAYLOADS = FIXTURES / "hook-payloads"
MAROT_ID = "258c7280-ae70-4798-800f-63464d01a85d"
WORKTREES_ID = "ef958aa1-0e93-49f0-bb71-150f63befcd1"
MAROT = FIXTURES / "transcripts" / "marot-spotter" / f"{MAROT_ID}.jsonl"
WORKTREES = FIXTURES / "transcripts" / "-experiments-worktrees" / f"{WORKTREES_ID}.jsonl"
_STAMP = re.compile(rb'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z"')


def cli_argv() -> list[str]:
    script = Path(sys.executable).parent / "session-state"
    return [str(script)] if script.exists() else [sys.executable, "-m", "session_state.cli"]


@dataclass
class Project:
    """A temporary project with hook-written state, and how to run the CLI in it."""

    dir: Path
    home: Path
    env: dict[str, str]

    @property
    def root(self) -> Path:
        from session_state.core import paths

        return self.home / ".claude" / paths.STATE_HOME / paths.PROJECTS / paths.project_key(self.dir)

    def session_dir(self, sid: str = MAROT_ID) -> Path:
        return self.root / "sessions" / sid

    def run(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli_argv(), *args],
            cwd=cwd or self.dir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kw: object) -> str:
        out = self.run(*args, **kw)  # type: ignore[arg-type]
        assert out.returncode == 0, f"{args} exited {out.returncode}: {out.stderr}"
        assert "Traceback" not in out.stderr, out.stderr
        return out.stdout

    def fails(self, *args: str, code: int = 2, **kw: object) -> str:
        """Run a command that must fail with one clear line on stderr; return that line."""
        out = self.run(*args, **kw)  # type: ignore[arg-type]
        assert out.returncode == code, f"{args} exited {out.returncode} (want {code}): {out.stdout} {out.stderr}"
        assert "Traceback" not in out.stderr, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, f"want one error line, got: {out.stderr!r}"
        assert lines[0].startswith("session-state"), lines[0]
        return lines[0]

    def hook(self, event: str, payload_file: str, **fields: object) -> subprocess.CompletedProcess[str]:
        payload = json.loads((PAYLOADS / f"{payload_file}.json").read_text())["stdin"]
        payload.update(fields)
        payload["cwd"] = str(self.dir)
        out = subprocess.run(
            [sys.executable, str(REPO / "bin" / "_run.py"), event],
            input=json.dumps(payload),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.dir,
        )
        assert out.returncode == 0, out.stderr
        assert "session-state:" not in out.stderr, f"hook {event} reported a failure: {out.stderr}"
        return out


def copy_transcript(source: Path, dest_dir: Path, *, end: datetime) -> Path:
    """Copy a transcript and its subagents with every timestamp shifted so the last is `end`."""
    files = [source] + sorted((source.parent / source.stem).rglob("*.jsonl"))
    stamps = [m.group(1) for f in files for m in _STAMP.finditer(f.read_bytes())]
    last = max(datetime.fromisoformat(s.decode()).replace(tzinfo=timezone.utc) for s in stamps)
    shift = end - last

    def moved(match: re.Match[bytes]) -> bytes:
        t = datetime.fromisoformat(match.group(1).decode()).replace(tzinfo=timezone.utc) + shift
        return b'"timestamp":"' + t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b'Z"'

    for f in files:
        target = dest_dir / f.relative_to(source.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_STAMP.sub(moved, f.read_bytes()))
    return dest_dir / source.name


def wait_for_refresh(project: Project, timeout: float = 20.0) -> None:
    """Stop starts a detached refresh; let it finish so the tests see settled files."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not list(project.root.glob("sessions/*/refresh.pending")):
            time.sleep(0.3)
            if not list(project.root.glob("sessions/*/refresh.pending")):
                return
        time.sleep(0.1)


def bare_project(base: Path) -> Project:
    """An empty project in an isolated home: no hook has run there yet."""
    proj = base / "proj"
    proj.mkdir(parents=True)
    home = base / "home"
    (home / ".claude").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESSION_STATE_", "CLAUDE_"))}
    env.update(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        CLAUDE_PROJECT_DIR=str(proj),
        CLAUDE_PLUGIN_DATA=str(base / "plugin-data"),
        XDG_DATA_HOME=str(base / "xdg"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return Project(proj, home, env)


def make_project(base: Path) -> Project:
    """Project with two sessions: the marot one (compaction, subagents) then /clear into another."""
    project = bare_project(base)
    now = datetime.now(timezone.utc)
    # where Claude Code keeps them: a transcript path read back from state is trusted only there
    projects = project.home / ".claude" / "projects"
    tx = copy_transcript(MAROT, projects / "-proj", end=now - timedelta(minutes=2))
    tx2 = copy_transcript(WORKTREES, projects / "-proj-2", end=now - timedelta(seconds=30))
    a = {"session_id": MAROT_ID, "transcript_path": str(tx)}
    project.hook("SessionStart", "SessionStart__startup", **a)
    project.hook("UserPromptSubmit", "UserPromptSubmit", **a)
    project.hook("Stop", "Stop", **a)
    project.hook("PreCompact", "PreCompact__auto", **a)
    project.hook("SessionStart", "SessionStart__compact", **a)
    project.hook("SubagentStop", "SubagentStop", **a)
    project.hook("Stop", "Stop", **a)
    wait_for_refresh(project)
    project.hook("SessionEnd", "SessionEnd__clear", **a)
    b = {"session_id": WORKTREES_ID, "transcript_path": str(tx2)}
    project.hook("SessionStart", "SessionStart__clear", **b)
    project.hook("UserPromptSubmit", "UserPromptSubmit", **b, prompt="carry on with the worktree tasks")
    project.hook("Stop", "Stop", **b)
    wait_for_refresh(project)
    return project


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One hook-written project per test module, for tests that only read."""
    return make_project(tmp_path_factory.mktemp("cli"))


@pytest.fixture()
def bare(tmp_path: Path) -> Project:
    return bare_project(tmp_path)


@pytest.fixture()
def fresh(tmp_path: Path) -> Project:
    """A project of its own, for tests that change files."""
    return make_project(tmp_path)

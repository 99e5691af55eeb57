"""Run the real hook entrypoint as Claude Code does: a process, a JSON payload on stdin.

Shared by the hook, reliability and CLI tests. Payloads start from the captured real inputs
in tests/fixtures/hook-payloads/ and are pointed at a temporary project and transcript.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
PAYLOADS = FIXTURES / "hook-payloads"
TASKS_SESSION = "ef958aa1-0e93-49f0-bb71-150f63befcd1"
TASKS_TRANSCRIPT = FIXTURES / "transcripts" / "-experiments-worktrees" / f"{TASKS_SESSION}.jsonl"
COMPACT_SESSION = "258c7280-ae70-4798-800f-63464d01a85d"
COMPACT_TRANSCRIPT = FIXTURES / "transcripts" / "marot-spotter" / f"{COMPACT_SESSION}.jsonl"


def last_reply(transcript: Path) -> str:
    """The text of the main chain's last assistant message, or "" when a typed prompt comes after
    it (a real transcript that ends with `/exit`: no reply of that turn to wait for) or there is none."""
    from session_state.core import turn

    try:
        if not stat.S_ISREG(os.stat(transcript).st_mode):  # the hostile tier's FIFO would block a read
            return ""
        with open(transcript, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - (4 << 20)))  # its last 4 MB
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except (OSError, ValueError):  # ValueError: a hostile path holding NUL
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("isSidechain"):
            continue
        if entry.get("type") == "user" and turn._is_prompt(entry):  # the rule Stop's wait applies
            return ""
        content = (entry.get("message") or {}).get("content") if isinstance(entry.get("message"), dict) else None
        texts = [str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"] if isinstance(content, list) else []
        if entry.get("type") == "assistant" and texts and texts[-1].strip():
            return texts[-1]
    return ""


@dataclass
class HookResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any] | None:
        return json.loads(self.stdout) if self.stdout.strip() else None


class Sandbox:
    """A project folder, a plugin data folder and transcripts, all under one tmp dir."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.project = tmp / "project"
        self.project.mkdir()
        self.data = tmp / "plugin-data"
        # Claude Code's own folder (the user's ~/.claude): where the state lives, and the only
        # place a transcript path read back from state is used
        self.claude_config = tmp / "claude-config"
        self.transcripts = self.claude_config / "projects" / "-project"
        self.transcripts.mkdir(parents=True)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "SESSION_STATE_"))
        }
        self.env.update(
            CLAUDE_PROJECT_DIR=str(self.project),
            CLAUDE_CONFIG_DIR=str(self.claude_config),
            CLAUDE_PLUGIN_DATA=str(self.data),
            SESSION_STATE_USER_CONFIG=str(tmp / "user-config.json"),
            PYTHONDONTWRITEBYTECODE="1",
        )

    @property
    def root(self) -> Path:
        """The project's state root, in the user's folder (never inside the project)."""
        from session_state.core import paths

        return self.claude_config / paths.STATE_HOME / paths.PROJECTS / paths.project_key(self.project)

    def session_dir(self, session_id: str) -> Path:
        from session_state.core import paths

        return self.root / paths.SESSIONS / paths.safe_id(session_id)

    def copy_transcript(self, source: Path, session_id: str, *, with_subagents: bool = True) -> Path:
        dest = self.transcripts / f"{session_id}.jsonl"
        shutil.copyfile(source, dest)
        sub = source.with_suffix("")
        if with_subagents and sub.is_dir():
            shutil.copytree(sub, self.transcripts / session_id, dirs_exist_ok=True)
        return dest

    def payload(self, fixture: str, **overrides: Any) -> dict[str, Any]:
        """A captured payload pointed at this sandbox. A Stop pointed at a transcript reports that
        transcript's last reply, as Claude Code does: the captured reply belongs to another
        session, and Stop waits (up to 1.5 s) for a reply it cannot find on disk."""
        data = json.loads((PAYLOADS / fixture).read_text())["stdin"]
        data["cwd"] = str(self.project)
        if data.get("hook_event_name") == "Stop" and "transcript_path" in overrides and "last_assistant_message" not in overrides:
            data["last_assistant_message"] = last_reply(Path(overrides["transcript_path"]))
        data.update(overrides)
        return data

    def run(self, event: str, payload: Any, *, raw: bytes | None = None, timeout: float = 60, env: dict[str, str] | None = None) -> HookResult:
        body = raw if raw is not None else json.dumps(payload).encode()
        proc = subprocess.run(
            [sys.executable, "-I", "-X", "utf8", str(REPO / "bin" / "_run.py"), event],
            input=body,
            capture_output=True,
            env={**self.env, **(env or {})},
            cwd=str(self.project),
            timeout=timeout,
        )
        return HookResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    def write_config(self, values: dict[str, Any]) -> None:
        """The user's own configuration file (trusted; the project's file may set only a few keys)."""
        Path(self.env["SESSION_STATE_USER_CONFIG"]).write_text(json.dumps(values))

    def write_project_config(self, values: dict[str, Any]) -> None:
        path = self.project / ".claude" / "session-state.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    def wait_refresh(self, session_id: str, timeout: float = 20) -> None:
        """Wait for the detached refresh a Stop hook started (its pending marker goes away)."""
        import time

        pending = self.session_dir(session_id) / "refresh.pending"
        deadline = time.time() + timeout
        while pending.exists() and time.time() < deadline:
            time.sleep(0.05)
        # the marker is removed when the refresh starts; give it the lock to finish
        from session_state.state import store

        with store.locked(self.session_dir(session_id), timeout=timeout):
            pass

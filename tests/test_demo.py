"""Issue 11, finding 9: the demo shows the product as a user would see it, read cold.

Runs `examples/replay.py` (what `bash scripts/demo` runs) on the bundled real transcript that
crosses a threshold and compacts, and checks each thing a first-time reader must see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hookrun import REPO

pytestmark = pytest.mark.slow  # replays 1,863 lines through ~20 real hook processes (about 10 s)


def test_the_demo_shows_budget_warning_injection_subagents_files_and_decisions(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "SESSION_STATE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "replay.py"), "--keep", str(tmp_path / "demo")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    out = proc.stdout
    assert "{" not in out.split("== Threshold warnings")[0].split("== Budget now")[1], "the budget is words, not JSON"
    assert "Context: 77,334 of 200,000 tokens = 38.7% [ok]" in out
    assert "compaction (auto) begins context 166,759 of 200,000 tokens = 83.4% (warning)   <- crossed monitor, warning" in out
    warnings = out.split("== Threshold warnings the model received ==")[1].split("\n== ")[0]
    assert "session-state: context is at 83% of the 200,000-token window (warning" in warnings
    injected = out.split("verbatim ==\n")[1].split("\n== ")[0]
    assert injected.startswith("session-state handoff: the conversation was just compacted")
    assert "Requests, newest first:\n- Implement spotter-gqc\n" in injected, "one request, not doubled"
    assert "- lib/spotter_web/live/session_live.ex (6 edits)" in injected and "Full handoff" in injected
    subagents = out.split("== Subagents")[1].split("\n== ")[0]
    assert "a881341 (general-purpose)" in subagents and "SessionStart Hook Output Contract" in subagents
    assert "(replayed subagent)" not in out
    files = out.split("== Files in play")[1].split("\n== ")[0]
    assert " 3 / 6  /home/USER/projects/spotter-worktrees/spotter-gqc/lib/spotter_web/live/session_live.ex" in files
    decisions = out.split("== Decisions")[1]
    assert "recorded decision" in decisions
    assert "- Resume from the saved handoff after each compaction, because recorded by this demo" in decisions

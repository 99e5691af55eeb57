"""Issue 11, findings 6 and 7: one set of CLI conventions, the same in every command.

The project's state is written by the real hooks (test_cli_support); the CLI runs as a user
runs it, a separate process, with no Claude Code variables (so nothing names the session).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from test_cli_support import MAROT_ID, REPO, WORKTREES_ID, Project, fresh  # noqa: F401 - fixtures

PYDANTIC_WORDS = ("Input should", "Extra inputs", "greater than", "less than", "validation error", "Value error")


def _age_transcripts(project: Project, newest: str) -> None:
    """Make `newest` the session last worked in; the other one an hour older."""
    now = time.time()
    for sid in (MAROT_ID, WORKTREES_ID):
        path = json.loads((project.session_dir(sid) / "cursor.json").read_text())["path"]
        when = now if sid == newest else now - 3600
        os.utime(path, (when, when))


# --- finding 6 ----------------------------------------------------------------------------------------


def test_the_default_session_is_the_newest_by_transcript_activity(fresh: Project) -> None:
    _age_transcripts(fresh, WORKTREES_ID)
    fresh.ok("status", "--session", MAROT_ID)  # a command touching the older session's files
    fresh.ok("fork", "--session", MAROT_ID, "--json")
    assert json.loads(fresh.ok("status", "--json"))["session_id"] == WORKTREES_ID
    assert json.loads(fresh.ok("budget", "--json"))["session_id"] == WORKTREES_ID
    assert json.loads(fresh.ok("sessions", "--json"))[0]["session_id"] == WORKTREES_ID


def test_report_does_not_rewrite_the_sessions_handoff(fresh: Project, tmp_path: Path) -> None:
    handoff = fresh.session_dir(MAROT_ID) / "handoff.toon"
    state = fresh.session_dir(MAROT_ID) / "state.json"
    before = (handoff.read_bytes(), handoff.stat().st_mtime_ns, state.read_bytes())
    time.sleep(1.1)  # a rewrite within the same second could keep the handoff's timestamp
    fresh.ok("report", "--session", MAROT_ID, "--out", str(tmp_path / "r.html"))
    assert (handoff.read_bytes(), handoff.stat().st_mtime_ns, state.read_bytes()) == before


# --- finding 7 ----------------------------------------------------------------------------------------


def test_handoff_show_takes_json_like_every_data_command(fresh: Project) -> None:
    data = json.loads(fresh.ok("handoff", "show", "--session", MAROT_ID, "--json"))
    assert data == json.loads(fresh.ok("handoff", "show", "--session", MAROT_ID, "--format", "json"))
    assert "--json" in fresh.fails("handoff", "show", "--session", MAROT_ID, "--json", "--format", "md")


def test_budget_without_arguments_picks_the_same_session_as_status(fresh: Project) -> None:
    _age_transcripts(fresh, MAROT_ID)
    assert json.loads(fresh.ok("budget", "--json"))["session_id"] == json.loads(fresh.ok("status", "--json"))["session_id"]


def test_a_bad_flag_gives_one_line_naming_the_subcommand_and_its_help(fresh: Project) -> None:
    line = fresh.fails("status", "--bogus")
    assert line == "session-state status: unrecognized arguments: --bogus (see `session-state status --help`)"
    line = fresh.fails("handoff", "show", "--fromat", "md")
    assert line.startswith("session-state handoff show: unrecognized arguments: --fromat")
    assert "`session-state handoff show --help`" in line
    assert "session-state budget --help" in fresh.fails("budget", "--sesion", "x")


def test_paths_that_do_not_exist_are_errors(fresh: Project, tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "dir"
    line = fresh.fails("report", "--session", MAROT_ID, "--out", str(missing / "x.html"))
    assert "does not exist" in line and str(missing) in line
    assert not missing.exists()
    assert "does not exist" in fresh.fails("budget", str(tmp_path / "nope.jsonl"))
    assert "does not exist" in fresh.fails("status", "--project", str(tmp_path / "nowhere"))


def test_a_file_that_is_not_a_transcript_is_an_error_that_says_so(fresh: Project) -> None:
    line = fresh.fails("budget", str(REPO / "README.md"))
    assert "is not a Claude Code transcript" in line and "README.md" in line


def test_configuration_messages_are_plain_words(fresh: Project) -> None:
    config = fresh.home / ".claude" / "session-state.json"  # the user's own file: every key allowed
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"colour": "blue", "context_window": 5, "checkpoints_keep": 0}))
    out = fresh.run("config", "show")
    text = out.stdout + out.stderr
    assert "unknown key 'colour' is ignored" in text and "known keys:" in text
    assert f"{config}: key 'context_window' has value 5, which is not accepted; accepted: an integer or null ≥ 1000" in text
    assert "key 'checkpoints_keep' has value 0" in text
    assert not [w for w in PYDANTIC_WORDS if w in text], text
    line = fresh.fails("config", "set", "context_window", "5", "--user")
    assert "context_window" in line and "≥ 1000" in line and not [w for w in PYDANTIC_WORDS if w in line]


def test_a_broken_config_shows_one_line_in_status_and_budget(fresh: Project) -> None:
    config = fresh.home / ".claude" / "session-state.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('{"thresholds": ')
    for command in (["status"], ["budget"]):
        out = fresh.ok(*command, "--session", MAROT_ID)
        lines = [line for line in out.splitlines() if line.startswith("Config: ")]
        assert len(lines) == 1 and str(config) in lines[0] and "not valid JSON" in lines[0], out
        data = json.loads(fresh.ok(*command, "--session", MAROT_ID, "--json"))
        assert any(str(config) in e for e in data["config_errors"])

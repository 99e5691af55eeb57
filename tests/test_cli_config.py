"""config show / set / path: origins per layer, validation before writing, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from session_state.state.config import PROJECT_KEYS, REFUSED
from test_cli_support import Project, bare  # noqa: F401 - fixtures


def _settings(project: Project, *extra: str, env: dict[str, str] | None = None) -> dict[str, dict]:
    out = project.run("config", "show", "--json", *extra, env=env)
    assert "Traceback" not in out.stderr
    return {row["key"]: row for row in json.loads(out.stdout)["settings"]}


def test_show_defaults_with_descriptions(bare: Project) -> None:
    rows = _settings(bare)
    assert rows["thresholds"]["value"] == {"monitor": 60.0, "warning": 75.0, "critical": 85.0}
    assert all(r["origin"] == "default" for r in rows.values())
    assert rows["checkpoints_keep"]["description"]
    text = bare.ok("config", "show")
    assert "checkpoints_keep" in text and "default" in text


def test_origin_of_each_layer(bare: Project) -> None:
    bare.ok("config", "set", "checkpoints_keep", "40")
    bare.ok("config", "set", "inject_cap_chars", "5000", "--project-file")
    bare.ok("config", "set", "thresholds.warning", "70", "--project-file")
    rows = _settings(bare, env={"SESSION_STATE_ARCHIVE_AFTER_DAYS": "3"})
    assert rows["checkpoints_keep"]["value"] == 40 and rows["checkpoints_keep"]["origin"].startswith("user file")
    assert rows["inject_cap_chars"]["value"] == 5000 and rows["inject_cap_chars"]["origin"].startswith("project file")
    assert rows["thresholds"]["value"]["warning"] == 70
    assert rows["archive_after_days"]["value"] == 3 and rows["archive_after_days"]["origin"] == "environment"
    project_file = json.loads((bare.dir / ".claude" / "session-state.json").read_text())
    assert project_file["inject_cap_chars"] == 5000 and project_file["thresholds"]["warning"] == 70
    # a project value shadows the user value: set says so
    out = bare.ok("config", "set", "inject_cap_chars", "6000")
    assert "effective value comes from project file" in out


def test_set_rejects_bad_values_and_writes_nothing(bare: Project) -> None:
    target = bare.home / ".claude" / "session-state.json"
    line = bare.fails("config", "set", "checkpoints_keep", "0")
    assert "checkpoints_keep" in line and "has value 0, which is not accepted" in line and "≥ 1" in line and "accepted:" in line
    line = bare.fails("config", "set", "thresholds.warning", "95")
    assert "must rise" in line
    line = bare.fails("config", "set", "no_such_key", "1")
    assert "known keys" in line
    line = bare.fails("config", "set", "thresholds.extreme", "99")
    assert "unknown threshold" in line
    line = bare.fails("config", "set", "redact_extra", '["(unclosed"]')
    assert "not a valid regular expression" in line
    assert not target.exists()
    bare.ok("config", "set", "redact_extra", '["ACME-[0-9]+"]')
    assert json.loads(target.read_text())["redact_extra"] == ["ACME-[0-9]+"]


def test_show_exits_1_and_names_a_bad_file_value(bare: Project) -> None:
    user = bare.home / ".claude" / "session-state.json"
    user.write_text(json.dumps({"checkpoints_keep": "lots", "inject_cap_chars": 4000}))
    out = bare.run("config", "show")
    assert out.returncode == 1
    assert f"error: {user}: key 'checkpoints_keep'" in out.stdout and "using the default" in out.stdout
    rows = _settings(bare)
    assert rows["checkpoints_keep"]["origin"] == "default" and rows["inject_cap_chars"]["value"] == 4000
    user.write_text("{not json")
    assert bare.run("config", "show").returncode == 1
    line = bare.fails("config", "set", "checkpoints_keep", "3", "--user")
    assert "not a JSON object of settings" in line and user.read_text() == "{not json"


def test_path_lists_both_files(bare: Project) -> None:
    data = json.loads(bare.ok("config", "path", "--json"))
    assert data["user"]["path"] == str(bare.home / ".claude" / "session-state.json") and not data["user"]["exists"]
    assert data["project"]["path"] == str(bare.dir / ".claude" / "session-state.json")
    assert "not created yet" in bare.ok("config", "path")


def _files(project: Project) -> tuple[Path, Path]:
    return project.home / ".claude" / "session-state.json", project.dir / ".claude" / "session-state.json"


def test_set_writes_the_users_own_file_unless_told_project_file(bare: Project) -> None:
    user, project_file = _files(bare)
    out = bare.ok("config", "set", "checkpoints_keep", "40")
    assert f"in {user}" in out
    assert json.loads(user.read_text()) == {"checkpoints_keep": 40} and not project_file.exists()
    assert _settings(bare)["checkpoints_keep"]["origin"] == f"user file ({user})"

    bare.ok("config", "set", "inject_cap_chars", "5000", "--user")  # the default, said explicitly
    bare.ok("config", "set", "available_tokens_floor", "1000", "--project-file")
    assert json.loads(user.read_text()) == {"checkpoints_keep": 40, "inject_cap_chars": 5000}
    assert json.loads(project_file.read_text()) == {"available_tokens_floor": 1000}

    line = bare.fails("config", "set", "inject_cap_chars", "4000", "--user", "--project-file")
    assert "not allowed with argument" in line
    assert json.loads(user.read_text())["inject_cap_chars"] == 5000


def test_set_help_says_which_file_is_the_default_and_why(bare: Project) -> None:
    text = " ".join(bare.ok("config", "set", "--help").split())
    assert "into your own file (the default)" in text
    assert "it is trusted, so every key works there" in text and "may be a stranger's" in text
    assert "--user write your own file (the default)" in text
    assert "--project-file write the project's file" in text
    assert "session-state config set inject_cap_chars 6000 --project-file" in text


@pytest.mark.parametrize("key, value", [("checkpoints_keep", "40"), ("context_window", "200000"),
                                        ("prices", '{"claude": {"input": 0}}'), ("stop_block_at_critical", "true")])
def test_project_file_refuses_a_key_a_project_may_not_set(bare: Project, key: str, value: str) -> None:
    user, project_file = _files(bare)
    project_file.parent.mkdir()
    project_file.write_text('{"inject_cap_chars": 5000}\n')
    line = bare.fails("config", "set", key, value, "--project-file")
    assert line.startswith(f"session-state: {key} cannot go in the project's file {project_file}:")
    assert "a project may set only " + ", ".join(PROJECT_KEYS) + ";" in line
    assert REFUSED[key] in line and "nothing was written" in line
    assert f"Leave out --project-file to set it in your own file ({user})" in line
    assert project_file.read_text() == '{"inject_cap_chars": 5000}\n' and not user.exists()


def test_project_file_refusal_comes_before_checking_the_value(bare: Project) -> None:
    """An invalid value for a refused key is refused for the file, not reported as a bad value to fix."""
    _, project_file = _files(bare)
    line = bare.fails("config", "set", "checkpoints_keep", "0", "--project-file")
    assert "cannot go in the project's file" in line and "not accepted" not in line
    assert not project_file.parent.exists()


def test_one_threshold_in_the_users_file_never_takes_the_projects_or_the_environments_levels(bare: Project) -> None:
    """Setting one level writes the three: the others come from the user's own file and the
    defaults, never from the project's file (untrusted) or a variable meant for one run."""
    user, project_file = _files(bare)
    bare.ok("config", "set", "thresholds.warning", "70", "--project-file")
    bare.ok("config", "set", "thresholds.monitor", "58", env={"SESSION_STATE_THRESHOLDS": '{"critical": 80}'})
    assert json.loads(user.read_text())["thresholds"] == {"monitor": 58, "warning": 75, "critical": 85}
    bare.ok("config", "set", "thresholds.critical", "90")
    assert json.loads(user.read_text())["thresholds"] == {"monitor": 58, "warning": 75, "critical": 90}
    assert json.loads(project_file.read_text())["thresholds"]["warning"] == 70
    # a project's levels are measured against the user's: with --project-file the user's are below
    project_file.unlink()
    bare.ok("config", "set", "thresholds.warning", "70", "--project-file")
    assert json.loads(project_file.read_text())["thresholds"] == {"monitor": 58, "warning": 70, "critical": 90}


def test_a_layer_may_set_some_threshold_levels_below_the_users_own(bare: Project) -> None:
    """Each layer is checked level by level; only the merge must rise. A user who lowered all three
    levels and a project that lowers one more (the 'earlier warnings only' a project may ask for)."""
    user_file = bare.home / ".claude" / "session-state.json"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(json.dumps({"thresholds": {"monitor": 50, "warning": 55, "critical": 60}}))
    project_file = bare.dir / ".claude" / "session-state.json"
    project_file.parent.mkdir(parents=True, exist_ok=True)
    project_file.write_text(json.dumps({"thresholds": {"critical": 58}}))
    out = json.loads(bare.run("config", "show", "--json").stdout)
    rows = {row["key"]: row for row in out["settings"]}
    assert rows["thresholds"]["value"] == {"monitor": 50.0, "warning": 55.0, "critical": 58.0}
    assert out["errors"] == [] and not out.get("ignored")

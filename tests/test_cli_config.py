"""config show / set / path: origins per layer, validation before writing, clear errors."""

from __future__ import annotations

import json

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
    bare.ok("config", "set", "checkpoints_keep", "40", "--user")
    bare.ok("config", "set", "inject_cap_chars", "5000")
    bare.ok("config", "set", "thresholds.warning", "70")
    rows = _settings(bare, env={"SESSION_STATE_ARCHIVE_AFTER_DAYS": "3"})
    assert rows["checkpoints_keep"]["value"] == 40 and rows["checkpoints_keep"]["origin"].startswith("user file")
    assert rows["inject_cap_chars"]["value"] == 5000 and rows["inject_cap_chars"]["origin"].startswith("project file")
    assert rows["thresholds"]["value"]["warning"] == 70
    assert rows["archive_after_days"]["value"] == 3 and rows["archive_after_days"]["origin"] == "environment"
    project_file = json.loads((bare.dir / ".claude" / "session-state.json").read_text())
    assert project_file["inject_cap_chars"] == 5000 and project_file["thresholds"]["warning"] == 70
    # a project value shadows the user value: set says so
    out = bare.ok("config", "set", "inject_cap_chars", "6000", "--user")
    assert "effective value comes from project file" in out


def test_set_rejects_bad_values_and_writes_nothing(bare: Project) -> None:
    target = bare.dir / ".claude" / "session-state.json"
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

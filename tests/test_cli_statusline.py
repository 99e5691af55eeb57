"""install-statusline / uninstall-statusline edit settings.json without disturbing anything else."""

from __future__ import annotations

import json

from test_cli_support import Project, bare  # noqa: F401 - fixtures

OURS = {"type": "command", "command": "session-state statusline"}
ORIGINAL = """{
    "permissions": {
        "allow": ["Bash(git status:*)", "Read(//home/u/**)"],
        "deny": []
    },
    "model": "opusplan",
    "cleanupPeriodDays": 1.50e2,
    "env": {"FOO": "b\\u00e4r"},
    "hooks": {}
}
"""


def test_install_then_uninstall_restores_the_file_byte_for_byte(bare: Project) -> None:
    settings = bare.home / ".claude" / "settings.json"
    settings.write_text(ORIGINAL)
    settings.chmod(0o600)
    out = bare.ok("install-statusline")
    assert str(settings) in out and "backup" in out
    text = settings.read_text()
    assert text.startswith(ORIGINAL.rstrip().rstrip("}").rstrip())  # everything before is untouched
    data = json.loads(text)
    assert data["statusLine"] == OURS and list(data)[-1] == "statusLine"
    assert list(data)[:-1] == ["permissions", "model", "cleanupPeriodDays", "env", "hooks"]
    assert '"cleanupPeriodDays": 1.50e2' in text and "b\\u00e4r" in text  # number and escape kept as written
    assert '\n    "statusLine": {\n        "type"' in text  # the file's own indentation
    assert settings.stat().st_mode & 0o777 == 0o600
    backups = list(settings.parent.glob("settings.json.bak-*"))
    assert len(backups) == 1 and backups[0].read_text() == ORIGINAL
    assert "already installed" in bare.ok("install-statusline")
    assert settings.read_text() == text
    bare.ok("uninstall-statusline")
    assert settings.read_text() == ORIGINAL
    assert "nothing to remove" in bare.ok("uninstall-statusline")


def test_refuses_a_different_statusline_without_force(bare: Project) -> None:
    settings = bare.dir / "settings.json"
    theirs = '{"statusLine": {"type": "command", "command": "ccstatusline"}, "theme": "dark"}'
    settings.write_text(theirs)
    line = bare.fails("install-statusline", "--settings", str(settings))
    assert "already has a statusLine" in line and "--force" in line and "ccstatusline" in line
    assert settings.read_text() == theirs
    line = bare.fails("uninstall-statusline", "--settings", str(settings))
    assert "not session-state's" in line and settings.read_text() == theirs
    bare.ok("install-statusline", "--settings", str(settings), "--force")
    assert settings.read_text() == '{"statusLine": ' + json.dumps(OURS) + ', "theme": "dark"}'
    bare.ok("uninstall-statusline", "--settings", str(settings))
    assert settings.read_text() == '{"theme": "dark"}'


def test_new_file_empty_object_and_bad_json(bare: Project) -> None:
    fresh_file = bare.dir / "nested" / "settings.json"
    bare.ok("install-statusline", "--settings", str(fresh_file))
    assert json.loads(fresh_file.read_text()) == {"statusLine": OURS}
    assert not list(fresh_file.parent.glob("*.bak-*"))  # nothing to back up
    bare.ok("uninstall-statusline", "--settings", str(fresh_file))
    assert json.loads(fresh_file.read_text()) == {}
    empty = bare.dir / "empty.json"
    empty.write_text("{}\n")
    bare.ok("install-statusline", "--settings", str(empty))
    assert json.loads(empty.read_text()) == {"statusLine": OURS}
    broken = bare.dir / "broken.json"
    broken.write_text('{"a": 1,}')
    line = bare.fails("install-statusline", "--settings", str(broken))
    assert "not valid JSON" in line and "nothing was changed" in line
    assert broken.read_text() == '{"a": 1,}'
    array = bare.dir / "array.json"
    array.write_text("[1]")
    assert "JSON object" in bare.fails("install-statusline", "--settings", str(array))


def test_uses_claude_config_dir(bare: Project) -> None:
    other = bare.dir / "cfg"
    other.mkdir()
    bare.ok("install-statusline", env={"CLAUDE_CONFIG_DIR": str(other)})
    assert json.loads((other / "settings.json").read_text())["statusLine"] == OURS
    assert not (bare.home / ".claude" / "settings.json").exists()

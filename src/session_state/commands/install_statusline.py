"""`session-state install-statusline` / `uninstall-statusline`: our statusLine in Claude Code's settings.

The user's settings.json holds much more than a status line (permissions, env, hooks, other
plugins' keys), so it is edited as text, not re-serialised: only the `statusLine` member is
inserted, replaced or cut out, every other byte stays as it was (order, spacing, number
formats). A timestamped copy is kept beside the file before any change, and a status line that
is not ours is never replaced without `--force` nor removed at all.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_state.commands import _common

KEY = "statusLine"


def statusline_command() -> str:
    """The command to put in settings.json, as an absolute path that survives plugin updates.

    Claude Code runs the status line outside the Bash tool, so the PATH that SessionStart
    extends there does not apply; the plugin's own folder changes with every update. The
    launcher that SessionStart keeps in the plugin's data folder has a stable path.
    """
    import shlex
    import shutil

    from session_state.core import paths

    stable = paths.launcher_path()
    if stable.is_file():
        return f"sh {shlex.quote(str(stable))} statusline"
    found = shutil.which("session-state")
    return f"{shlex.quote(found)} statusline" if found else "session-state statusline"


def ours() -> dict[str, str]:
    return {"type": "command", "command": statusline_command()}


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "install-statusline",
        "show the budget in Claude Code's status line (edits your settings.json)",
        f'Add "{KEY}": {{"type": "command", "command": ".../session-state statusline"}} to Claude Code\'s user settings ($CLAUDE_CONFIG_DIR/settings.json or '
        "~/.claude/settings.json), keeping everything else in the file as it is, with a timestamped backup beside it.",
        ["session-state install-statusline", "session-state install-statusline --settings ./settings.json --force"],
    )
    p.add_argument("--settings", metavar="PATH", help="the settings file to edit")
    p.add_argument("--force", action="store_true", help="replace a different existing statusLine")
    p.set_defaults(func=run_install)
    u = _common.parser(
        subparsers,
        "uninstall-statusline",
        "remove session-state's status line from Claude Code's settings",
        "Remove the statusLine that install-statusline added; a status line that is not session-state's is left alone.",
        ["session-state uninstall-statusline", "session-state uninstall-statusline --settings ./settings.json"],
    )
    u.add_argument("--settings", metavar="PATH", help="the settings file to edit")
    u.set_defaults(func=run_uninstall)


def settings_path(given: str | None) -> Path:
    if given:
        return Path(given).expanduser()
    from session_state.core import paths

    return paths.claude_config_dir() / paths.CLAUDE_SETTINGS


# --- locating members in the text ------------------------------------------------------------


@dataclass
class Member:
    """One top-level `"key": value` of the settings object, as offsets into the text."""

    key: str
    key_start: int
    value_start: int
    value_end: int
    value: Any


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def members(text: str) -> tuple[list[Member], int, int]:
    """The top-level members, the offset just after `{` and the offset of the closing `}`."""
    decoder = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "{":
        raise ValueError("the file does not hold a JSON object")
    open_end = i + 1
    found: list[Member] = []
    i = _skip_ws(text, open_end)
    if i < len(text) and text[i] == "}":
        return found, open_end, i
    while True:
        if i >= len(text) or text[i] != '"':
            raise ValueError(f"expected a key at offset {i}")
        key_start = i
        key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]  # public in json.decoder, absent from typeshed
        i = _skip_ws(text, i)
        if i >= len(text) or text[i] != ":":
            raise ValueError(f"expected ':' at offset {i}")
        value_start = _skip_ws(text, i + 1)
        value, value_end = decoder.raw_decode(text, value_start)
        found.append(Member(key, key_start, value_start, value_end, value))
        i = _skip_ws(text, value_end)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        if i < len(text) and text[i] == "}":
            if text[i + 1 :].strip():
                raise ValueError(f"unexpected text after the closing brace at offset {i + 1}")
            return found, open_end, i
        raise ValueError(f"expected ',' or '}}' at offset {i}")


def _indent_of(text: str, member: Member) -> str:
    line_start = text.rfind("\n", 0, member.key_start) + 1
    prefix = text[line_start : member.key_start]
    return prefix if not prefix.strip() else ""


def insert(text: str) -> str:
    """`text` with our statusLine added as the last member (indentation copied from the file)."""
    found, open_end, close = members(text)
    if not found:
        value = json.dumps(ours(), indent=2).replace("\n", "\n  ")
        return text[:open_end] + f'\n  "{KEY}": {value}\n' + text[close:]
    last = found[-1]
    indent = _indent_of(text, last)
    if indent or "\n" in text[open_end : found[0].key_start]:
        value = json.dumps(ours(), indent=len(indent.expandtabs()) or 2).replace("\n", "\n" + indent)
        addition = f',\n{indent}"{KEY}": {value}'
    else:  # a one-line object: stay on one line
        addition = f', "{KEY}": {json.dumps(ours())}'
    return text[: last.value_end] + addition + text[last.value_end :]


def replace(text: str, member: Member) -> str:
    indent = _indent_of(text, member)
    value = json.dumps(ours(), indent=len(indent.expandtabs()) or 2).replace("\n", "\n" + indent) if indent else json.dumps(ours())
    return text[: member.value_start] + value + text[member.value_end :]


def remove(text: str, found: list[Member], index: int, open_end: int, close: int) -> str:
    """`text` without member `index` and exactly one of its separating commas."""
    if len(found) == 1:
        return text[:open_end] + ("\n" if "\n" in text[open_end:close] else "") + text[close:]
    if index + 1 < len(found):
        return text[: found[index].key_start] + text[found[index + 1].key_start :]
    return text[: found[index - 1].value_end] + text[found[index].value_end :]


def is_ours(value: Any) -> bool:
    command = str(value.get("command", "")).strip() if isinstance(value, dict) else ""
    return isinstance(value, dict) and value.get("type") == "command" and (
        command == statusline_command() or command.endswith("session-state statusline")
        or command.endswith("session-state' statusline")
    )


# --- the commands -----------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _common.error(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _common.error(f"{path} is not UTF-8 text; not touching it") from None


def _parse(path: Path, text: str) -> tuple[list[Member], int, int]:
    try:
        json.loads(text)
        return members(text)
    except ValueError as exc:
        raise _common.error(f"{path} is not valid JSON ({exc}); fix it first, nothing was changed") from None


def _write(path: Path, old: str | None, new: str) -> Path | None:
    """Back up the old bytes beside the file, then replace it atomically keeping its mode."""
    from session_state.core import fsutil

    backup = None
    mode = None
    if old is not None:
        backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%dT%H%M%S')}")
        n = 1
        while backup.exists():
            backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%dT%H%M%S')}-{n}")
            n += 1
        backup.write_bytes(old.encode("utf-8"))
        mode = path.stat().st_mode & 0o777
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.atomic_write(path, new.encode("utf-8"))
    if mode is not None:
        os.chmod(path, mode)
    return backup


def run_install(args: argparse.Namespace) -> int:
    path = settings_path(args.settings)
    old = _read(path)
    if old is None or not old.strip():
        new = json.dumps({KEY: ours()}, indent=2) + "\n"
    else:
        found, _, _ = _parse(path, old)
        current = next((m for m in reversed(found) if m.key == KEY), None)  # JSON's last duplicate wins
        if current is not None and is_ours(current.value):
            print(f"already installed in {path}; nothing changed")
            return 0
        if current is not None and not args.force:
            raise _common.error(
                f"{path} already has a statusLine ({json.dumps(current.value)[:120]}); "
                "pass --force to replace it (a backup is kept)"
            )
        new = replace(old, current) if current is not None else insert(old)
    json.loads(new)  # never write a file that would not parse
    backup = _write(path, old, new)
    print(f"installed the session-state status line in {path}" + (f" (backup: {backup})" if backup else ""))
    print("Claude Code shows it once it reads its settings again (at the latest in the next session)")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    path = settings_path(args.settings)
    old = _read(path)
    if old is None or not old.strip():
        print(f"no settings file at {path}; nothing to remove")
        return 0
    found, open_end, close = _parse(path, old)
    index = next((n for n in reversed(range(len(found))) if found[n].key == KEY), None)
    if index is None:
        print(f"no statusLine in {path}; nothing to remove")
        return 0
    if not is_ours(found[index].value):
        raise _common.error(
            f"the statusLine in {path} is not session-state's ({json.dumps(found[index].value)[:120]}); left unchanged"
        )
    new = remove(old, found, index, open_end, close)
    json.loads(new)
    backup = _write(path, old, new)
    print(f"removed the session-state status line from {path} (backup: {backup})")
    return 0

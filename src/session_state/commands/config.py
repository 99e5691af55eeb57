"""`session-state config show|set|path`: the effective settings, where each came from, and edits.

Settings come from defaults, the user file, the project file and SESSION_STATE_<KEY> variables
(later wins). `show` says which layer won for every key, so "why is my threshold ignored" has
an answer; `set` validates before writing, so a typo never reaches the hooks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from session_state.core import paths
from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "config",
        "show, set or locate the settings",
        "Effective settings with their origin (default, user file, project file, environment), validated edits, "
        "and the paths of the files.",
        [
            "session-state config show",
            "session-state config set thresholds.warning 70",
            "session-state config set checkpoints_keep 40 --user",
            "session-state config path",
        ],
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = _sub(actions, "show", "effective values and where each came from", ["session-state config show --json"])
    _common.add_project(show)
    _common.add_json(show)
    show.set_defaults(func=run_show)
    put = _sub(
        actions,
        "set",
        "validate and write one setting (project file unless --user; a project's file takes only a few keys)",
        ["session-state config set autocompact_pct 90 --user", "session-state config set inject_cap_chars 6000", 'session-state config set redact_extra \'["ACME-[0-9]+"]\' --user'],
    )
    put.add_argument("key", help="setting name; thresholds.monitor / .warning / .critical set one threshold")
    put.add_argument("value", help="the value, as JSON (numbers, true/false, null, lists); plain words are strings")
    put.add_argument("--user", action="store_true", help="write the user file instead of the project file")
    _common.add_project(put)
    put.set_defaults(func=run_set)
    where = _sub(actions, "path", "the user and project configuration files", ["session-state config path --json"])
    _common.add_project(where)
    _common.add_json(where)
    where.set_defaults(func=run_path)


def _sub(actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str, examples: list[str]) -> argparse.ArgumentParser:
    return actions.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _origin_name(origin: str, project: Path) -> str:
    if origin == str(paths.user_config_path()):
        return f"user file ({origin})"
    if origin == str(paths.project_config_path(project)):
        return f"project file ({origin})"
    return origin


def run_show(args: argparse.Namespace) -> int:
    from session_state.state import config

    project = _common.project(args)
    values, origin, errors = config.resolve(project)
    ignored = config.ignored_project_keys(project)
    rows = [
        {
            "key": key,
            "value": values[key],
            "origin": _origin_name(origin[key], project),
            "description": config.Config.model_fields[key].description,
        }
        for key in values
    ]
    if args.json:
        _common.print_json({"settings": rows, "errors": errors, "ignored": ignored})
    else:
        print(
            _common.table(
                [[r["key"], json.dumps(r["value"]), r["origin"], r["description"] or ""] for r in rows],
                ["key", "value", "from", "meaning"],
            )
        )
        from session_state.core.inert import line as one_line  # a value from the project's file

        for line in errors:
            print(f"error: {one_line(line)}")
        for line in ignored:
            print(f"ignored: {one_line(line)}")
    return 1 if errors else 0


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_set(args: argparse.Namespace) -> int:
    from session_state.state import config
    from session_state.core import fsutil

    project = _common.project(args)
    path = paths.user_config_path() if args.user else paths.project_config_path(project)
    key, value = args.key, _parse_value(args.value)
    shown = json.dumps(value)
    if key.startswith("thresholds."):
        name = key.split(".", 1)[1]
        if name not in config.Thresholds.model_fields:
            raise _common.error(f"unknown threshold {name!r}; use thresholds.monitor, thresholds.warning or thresholds.critical")
        current: dict[str, Any] = {}
        raw = fsutil.read_bytes(path)
        if raw:
            try:
                current = json.loads(raw).get("thresholds") or {}
            except (ValueError, AttributeError):
                current = {}
        effective, _, _ = config.resolve(project)
        key, value = "thresholds", {**effective["thresholds"], **current, name: value}
    raw = fsutil.read_bytes(path)
    if raw:
        try:
            if not isinstance(json.loads(raw), dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise _common.error(f"{path} is not a JSON object of settings ({exc}); fix or remove it first") from exc
    try:
        config.set_value(path, key, value, project_file=not args.user)
    except config.ConfigError as exc:
        raise _common.error(f"{args.key}: {exc}") from exc
    values, origin, _ = config.resolve(project)
    print(f"set {args.key} = {shown} in {path}")
    if origin[key] != str(path):
        print(f"note: the effective value comes from {_origin_name(origin[key], project)}: {json.dumps(values[key])}")
    return 0


def run_path(args: argparse.Namespace) -> int:
    project = _common.project(args)
    files = {"user": paths.user_config_path(), "project": paths.project_config_path(project)}
    if args.json:
        _common.print_json({name: {"path": str(p), "exists": p.exists()} for name, p in files.items()})
    else:
        for name, p in files.items():
            print(f"{name}: {p}{'' if p.exists() else '  (not created yet)'}")
    return 0

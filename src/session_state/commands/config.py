"""`session-state config show|set|path`: the effective settings, where each came from, and edits.

Settings come from defaults, the user file, the project file and SESSION_STATE_<KEY> variables
(later wins). `show` says which layer won for every key, so "why is my threshold ignored" has
an answer; `set` validates before writing, so a typo never reaches the hooks. `set` writes the
user's own file unless told `--project-file`: a user who sets a value means their own
configuration, and a project's file takes only `config.PROJECT_KEYS`, so writing any other key
there is refused with the list rather than written to be ignored.
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
            "session-state config set checkpoints_keep 40",
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
        "validate and write one setting into your own file (the default), or with --project-file into the project's",
        [
            "session-state config set autocompact_pct 90",
            "session-state config set thresholds.warning 70",
            'session-state config set redact_extra \'["ACME-[0-9]+"]\'',
            "session-state config set inject_cap_chars 6000 --project-file",
        ],
        "Your own file (~/.claude/session-state.json, honouring CLAUDE_CONFIG_DIR) is the default: it is trusted,\n"
        "so every key works there. The project's file (<project>/.claude/session-state.json) comes with the\n"
        "repository, which may be a stranger's: the plugin takes only a few keys from it, which can make it more\n"
        "careful or cheaper for that project, never less; any other key is refused with the list of those keys.\n"
        "Use --project-file to share such a setting with everyone who works in the project.",
    )
    put.add_argument("key", help="setting name; thresholds.monitor / .warning / .critical set one threshold")
    put.add_argument("value", help="the value, as JSON (numbers, true/false, null, lists); plain words are strings")
    target = put.add_mutually_exclusive_group()
    target.add_argument("--user", dest="project_file", action="store_false", help="write your own file (the default)")
    target.add_argument(
        "--project-file", dest="project_file", action="store_true",
        help="write the project's file instead (which project: --project); only for the keys a project may set",
    )
    _common.add_project(put)
    put.set_defaults(func=run_set, project_file=False)  # both flags share the name; the user's file is the default
    where = _sub(actions, "path", "the user and project configuration files", ["session-state config path --json"])
    _common.add_project(where)
    _common.add_json(where)
    where.set_defaults(func=run_path)


def _sub(actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str, examples: list[str],
         more: str = "") -> argparse.ArgumentParser:
    return actions.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + "." + (f"\n\n{more}" if more else ""),
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

    project = _common.project(args)
    path = paths.project_config_path(project) if args.project_file else paths.user_config_path()
    value = _parse_value(args.value)
    try:
        config.set_value(path, args.key, value, project_file=args.project_file)
    except config.ProjectKeyRefused as exc:
        raise _common.error(f"{exc}; nothing was written. Leave out --project-file to set it in your own file ({paths.user_config_path()})") from exc
    except config.ConfigError as exc:
        raise _common.error(str(exc)) from exc
    key = args.key.split(".", 1)[0]
    values, origin, _ = config.resolve(project)
    print(f"set {args.key} = {json.dumps(value)} in {path}")
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

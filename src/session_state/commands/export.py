"""`session-state export`: any session-state file, validated, as TOON or JSON.

The kind of file is recognised from its content (`models.kind_of`), not its name, so a file
copied out of the state folder or renamed still converts; validation with the file's own model
comes first, so what is exported is something the plugin itself would accept.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import stat
from pathlib import Path
from typing import Any

from session_state.core import paths
from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "export",
        "convert a state file to TOON or JSON, or share the project files with the team",
        "Read a session-state file (state.json, checkpoints/*.json[.gz], handoff.toon, decisions.toon, "
        "cursor.json), validate it with its model and print it as TOON or JSON. A relative PATH that "
        "does not exist here is taken from the project's state folder (outside the project). "
        f"--to-project writes the project-level TOON files into <project>/{paths.SHARED}/ for the team "
        "to commit; sessions opened there see them only as the repository's data, never as your own.",
        [
            "session-state export decisions.toon --format json",
            "session-state export sessions/258c7280-ae70-4798-800f-63464d01a85d/state.json "
            "--format toon --out state.toon",
            "session-state export --to-project",
        ],
    )
    _common.add_project(p)
    p.add_argument("path", metavar="PATH", nargs="?", help="the file to export")
    p.add_argument("--format", choices=("toon", "json"), help="output format (required with PATH)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--to-project", action="store_true",
                   help=f"write decisions, session context and workflow state into <project>/{paths.SHARED}/")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from session_state.state.models import MODEL_BY_KIND, kind_of

    if args.to_project:
        if args.path or args.out:
            raise _common.error("--to-project takes no PATH or --out: it writes the project's shared folder")
        return to_project(_common.project(args))
    if not args.path or not args.format:
        raise _common.error("give PATH and --format toon|json, or --to-project")
    path = Path(args.path)
    if not path.is_absolute() and not path.exists():
        in_root = paths.state_root(_common.project(args), create=False) / path
        path = in_root if in_root.exists() else path
    data = load(path)
    kind = kind_of(data)
    if kind is None:
        raise _common.error(
            f"{path}: not a session-state file this version knows (expected a state, checkpoint, handoff, "
            "decisions or cursor file)"
        )
    try:
        model = MODEL_BY_KIND[kind].model_validate(data)
    except ValidationError as exc:
        raise _common.error(f"{path} is a {kind} file but does not validate: {_common.validation_reason(exc)}") from exc
    clean = model.model_dump(mode="json")
    if args.format == "json":
        text = json.dumps(clean, indent=2, ensure_ascii=False) + "\n"
    else:
        import toons

        text = toons.dumps(clean)
        text += "" if text.endswith("\n") else "\n"
    if args.out:
        from session_state.core import fsutil

        fsutil.atomic_write(Path(args.out), text.encode("utf-8"))
        print(f"exported {kind} file {path} to {args.out}")
    else:
        print(text, end="")
    return 0


def to_project(project: Path) -> int:
    """Copy the project-level TOON files, validated, into the project for the team to commit."""
    from session_state.state import shared, store

    root = paths.state_root(project, create=False)
    target = paths.shared_dir(project)
    linked = _symlinked_level(project, paths.SHARED)
    if linked is not None:
        raise _common.error(f"{linked} is a symlink: the shared files are written only into a real folder of the project")
    written = []
    for name in shared.NAMES:
        try:
            data = shared.validated(store.read_toon(root / name), name)
        except (OSError, ValueError, UnicodeDecodeError):
            data = None
        if data is None:
            continue
        paths.ensure_dir(target)
        store.write_toon(target / name, data)
        written.append(name)
    if not written:
        raise _common.error(f"nothing to share: no valid decisions, session context or workflow state in {root}")
    print(f"wrote {', '.join(written)} to {target}; commit them to share them. Sessions in this project will see "
          "them as the repository's data, quoted and labelled, never as anyone's own decisions.")
    return 0


def _symlinked_level(project: Path, relative: str) -> Path | None:
    """The first folder from `project` down to `project/relative` that is a symlink, if any.

    The repository controls its own folders: a linked `.claude` would choose where the files
    are written. Each level is lstat-ed; a level that does not exist yet is created later as a
    real folder."""
    level = project
    for part in Path(relative).parts:
        level = level / part
        try:
            if stat.S_ISLNK(os.lstat(level).st_mode):
                return level
        except (FileNotFoundError, NotADirectoryError):  # nothing below is there yet
            return None
    return None


def load(path: Path) -> Any:
    """The file's data: JSON or TOON (gzip-compressed archives too), decided by trying JSON first."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _common.error(f"{path}: no such file") from None
    except OSError as exc:
        raise _common.error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise _common.error(f"{path}: damaged gzip file ({exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _common.error(f"{path}: not a text file (not UTF-8)") from None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise _common.error(f"{path}: not valid JSON ({exc})") from None
    import toons

    try:
        return toons.loads(text)
    except Exception as exc:  # toons raises its own error types for malformed input
        raise _common.error(f"{path}: neither JSON nor valid TOON ({str(exc)[:120]})") from None

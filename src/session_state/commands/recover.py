"""`session-state recover`: put a session's state back from a checkpoint.

The hooks already recover on their own when state.json does not validate; this command is for
the user who wants to do it now, or to go back to a named checkpoint (`--from`). Nothing is
deleted: the current state file is set aside as `state.json.corrupt-<time>` (or `.replaced-`
when it was valid), the checkpoint's state is restored marked `recovered`, and materialize
replays the journal written since that checkpoint, so facts after it are not lost.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from session_state.core import paths
from session_state.commands import _common


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "recover",
        "restore a session's state from its latest valid (or a named) checkpoint",
        "When state.json does not validate (or with --from / --force), set it aside, restore the latest valid "
        "checkpoint (or the one named), mark the state recovered and replay the journal since.",
        [
            "session-state recover",
            "session-state recover --force --json",
            "session-state recover --session 258c7280-ae70-4798-800f-63464d01a85d --from <CHECKPOINT-ID>",
        ],
    )
    _common.add_session(p)
    p.add_argument("--from", dest="source", metavar="CHECKPOINT", help="checkpoint id (or file name) to restore")
    p.add_argument("--force", action="store_true", help="restore even when the state file is valid")
    _common.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project, root, sid, folder = _common.resolve(args)
    from session_state.state import store

    try:
        with store.locked(folder):
            restored = _restore(folder, args.source, force=bool(args.force or args.source))
    except store.LockTimeout as exc:
        raise _common.error(f"session {sid} is busy ({exc}); try again in a moment") from exc
    if restored is None:
        data = {"session_id": sid, "recovered": False, "reason": "state.json is valid"}
        return _emit(args, data, f"session {sid}: state.json is valid; nothing to recover (use --force or --from to restore anyway)")
    why, moved, cp, pending = restored
    result = _common.materialize(project, sid, folder)
    seen = set(cp.state.seen_ids)
    replayed = len({r.get("id") for r in pending if r.get("id") not in seen})
    kept = f"; the old file is kept as {moved.name}" if moved else ""
    message = (
        f"session {sid}: {why}; restored checkpoint {cp.id} ({cp.created}), replayed {replayed} journal fact(s) "
        f"since; status {result.state.status}{kept}"
    )
    data = {
        "session_id": sid,
        "recovered": True,
        "reason": why,
        "checkpoint": cp.id,
        "checkpoint_created": cp.created,
        "replayed": replayed,
        "set_aside": str(moved) if moved else None,
        "status": result.state.status,
    }
    return _emit(args, data, message)


def _emit(args: argparse.Namespace, data: dict[str, Any], message: str) -> int:
    if args.json:
        _common.print_json(data)
    else:
        from session_state.core.inert import line

        print(line(message))
    return 0


def _restore(folder: Path, source: str | None, *, force: bool) -> tuple[str, Path | None, Any, list[dict[str, Any]]] | None:
    """Under the session lock: set the state aside and write the checkpoint's state back.

    The checkpoint is chosen and validated before anything moves, so a bad `--from` or a session
    without checkpoints leaves the state file where it was. Returns None when there is nothing to do.
    """
    from session_state.core import fsutil, journal
    from session_state.state import checkpoints, fold as state, store
    from session_state.state.models import SessionState

    path = folder / paths.STATE
    try:
        current = store.read_model(path, SessionState, quarantine=False)
        why = None if current is not None else "state.json was missing"
    except store.CorruptFile as exc:
        why = f"state.json did not validate ({exc.reason})"
    if why is None and not force:
        return None
    cp = _checkpoint(folder, source)
    moved = None
    if why is None:
        why = "restore requested"
        moved = folder / f"{paths.STATE}.replaced-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        fsutil.check_parent(path)
        os.replace(path, moved)
    elif path.exists():
        moved = store.set_aside(path, notice=False)  # this command's own message says where
    restored = checkpoints.recovered(cp)
    state.save(folder, restored)
    pending, _ = journal.read(folder, restored.journal_offset)
    return why, moved, cp, pending


def _checkpoint(folder: Path, name: str | None) -> Any:
    """The named checkpoint (live or archived), else the latest valid one; errors say which failed."""
    from session_state.state import checkpoints

    if name is None:
        cp = checkpoints.latest_valid(folder)
        if cp is None:
            raise _common.error(f"no valid checkpoint in {paths.checkpoints_dir(folder)}; state.json left as it was")
        return cp
    stem = checkpoints.parse_name(name).id
    live = paths.checkpoints_dir(folder) / f"{stem}{paths.CHECKPOINT_SUFFIX}"
    archived = paths.archive_dir(folder) / f"{stem}{paths.CHECKPOINT_SUFFIX}.gz"
    for path, packed in ((live, False), (archived, True)):
        if not os.path.lexists(path):
            continue
        if not paths.inside_root(folder.parent.parent, path):
            raise _common.error(f"checkpoint {stem} is a symlink or not a regular file inside the state root; left alone")
        try:
            return checkpoints.read_file(path, archived=packed)
        except (OSError, ValueError, EOFError) as exc:
            raise _common.error(f"checkpoint {stem} does not validate: {_common.validation_reason(exc)}") from exc
    known = ", ".join(n.removesuffix(paths.CHECKPOINT_SUFFIX) for n in checkpoints.names(folder)[:5]) or "none"
    raise _common.error(f"no checkpoint {stem!r} in {paths.checkpoints_dir(folder)}; newest: {known}")

"""One-time messages for the user or the model, queued by whoever learns something and
delivered by the next hook that can speak (UserPromptSubmit, SessionStart).

Stdlib only. Work done off the hook path (the detached refresh, a Stop hook, which cannot
add context) still needs to tell someone, exactly once: each notice is a file, and
delivering it is an atomic rename, so of two hooks racing for it only one shows it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from session_state.core import fsutil, paths


def post(session_dir: Path, key: str, *, user: str | None = None, model: str | None = None) -> bool:
    """Queue a notice under `key`; False when one with that key was already queued or shown."""
    folder = session_dir / paths.NOTICES
    paths.ensure_dir(folder)
    name = paths.safe_id(key)
    if (folder / f"{name}.shown").exists():
        return False
    body = json.dumps({"user": user, "model": model}).encode()
    return fsutil.create_exclusive(folder / f"{name}.json", body)


def take(session_dir: Path) -> list[dict[str, Any]]:
    """Claim every pending notice (oldest first) for this hook's output."""
    folder = session_dir / paths.NOTICES
    if os.path.islink(folder):  # a planted link: claiming would rename files wherever it points
        return []
    try:
        entries = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for entry in entries:
        if not entry.endswith(".json"):
            continue
        src = folder / entry
        dst = folder / (entry[: -len(".json")] + ".shown")
        if not fsutil.claim(src, dst):
            continue
        try:
            out.append(json.loads(dst.read_bytes()))
        except (OSError, ValueError):
            continue
    return out


def merge(items: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """Join claimed notices into one user line and one model text."""
    user = " ".join(i["user"] for i in items if isinstance(i.get("user"), str) and i["user"]) or None
    model = "\n\n".join(i["model"] for i in items if isinstance(i.get("model"), str) and i["model"]) or None
    return user, model

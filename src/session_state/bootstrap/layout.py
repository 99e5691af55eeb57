"""Where provisioning keeps things under the data root, and how a ready env is recognised.

Stdlib only. Everything lives under `paths.data_root()` ($CLAUDE_PLUGIN_DATA, which survives
plugin updates), never in the plugin folder. The names are `paths`' (each explained there);
this module only puts them together:

  envs/<key>/.ready                   the env's record, written last (`ready_info` trusts it)
  envs/by-lock/cksum-<crc>-<size>     a ready env's python for `bin/ss-hook` (envkey.pointer_name)
  envs/.provision.lock, envs/.provision-started, provision-state.json, logs/provision.log
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, Optional

from session_state.core import paths

READY_VERSION = 1
KEY_PATTERN = re.compile(r"[0-9a-f]{16}")


def data_root() -> Path:
    return Path(os.path.abspath(paths.data_root()))


def envs_dir() -> Path:
    return data_root() / paths.ENVS


def env_dir(key: str) -> Path:
    return envs_dir() / key


def env_python(env: Path) -> Path:
    """The interpreter inside a virtual environment (venv's own layout, which differs on Windows)."""
    if os.name == "nt":
        return env / "Scripts" / "python.exe"
    return env / "bin" / "python"


def ready_file(key: str) -> Path:
    return env_dir(key) / paths.READY


def pointers_dir() -> Path:
    return envs_dir() / paths.POINTERS


def lock_file() -> Path:
    return envs_dir() / paths.PROVISION_LOCK


def spawn_stamp() -> Path:
    return envs_dir() / paths.PROVISION_STARTED


def state_file() -> Path:
    return data_root() / paths.PROVISION_STATE


def provision_log() -> Path:
    return data_root() / paths.LOGS / paths.PROVISION_LOG


def read_json(path: Path) -> Optional[Dict[str, Any]]:
    """A small JSON object from disk, or None when missing, unreadable or not an object."""
    try:
        with open(path, "rb") as handle:
            value = json.loads(handle.read(1_000_000).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def ready_info(key: str) -> Optional[Dict[str, Any]]:
    """The env's `.ready` record when it still describes a usable env, else None.

    Usable: the record is for this key, and both the env's python and the base interpreter
    it was made from still exist (a removed or upgraded-away base python leaves a venv whose
    python cannot start). Patch-level changes of the base are accepted on purpose.
    """
    info = read_json(ready_file(key))
    if not info or info.get("v") != READY_VERSION or info.get("key") != key:
        return None
    python, base = info.get("python"), info.get("base_executable")
    if not isinstance(python, str) or not isinstance(base, str):
        return None
    if not os.path.isfile(python) or not os.path.isfile(base):
        return None
    return info

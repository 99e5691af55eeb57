"""Which environment fits this plugin: a key from the pinned requirements and the interpreter.

Stdlib only: runs before any dependency exists, in whatever interpreter
the hook launcher found.

The key is content-based (pre-commit's idea): the bytes of `requirements.lock` plus what
decides which wheels fit (implementation, major.minor, OS, machine, extension-module ABI
suffix) plus a layout version. The plugin version is left out on purpose, so an update that
changes no pin reuses the environment; the patch level is left out too, because a patch
upgrade of the base interpreter keeps the ABI (pre-commit#3371 shows the cost of stricter).

`pointer_name` is the other half: a name the POSIX `sh` launcher can compute without
Python, from `cksum` (the POSIX CRC, present on Linux, macOS, BSD, busybox and Git Bash).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path
from typing import Optional, Tuple

from session_state.core import paths

LAYOUT_VERSION = "1"
KEY_LENGTH = 16  # hex chars: short env paths matter on Windows (MAX_PATH), 64 bits is plenty
LOCK_ENV = "SESSION_STATE_REQUIREMENTS"  # test seam: provision from another lock file


def lock_path() -> Path:
    """The requirements file the environment is built from.

    Normally `<plugin root>/requirements.lock`, found from this file's location (never from
    CLAUDE_PLUGIN_ROOT or the current directory). The SESSION_STATE_REQUIREMENTS variable
    replaces it; it exists so tests can provision from a lock that must fail.
    """
    override = os.environ.get(LOCK_ENV)
    return Path(override) if override else paths.requirements_lock()


def read_lock() -> Optional[bytes]:
    """The lock file's bytes, or None when there is none (e.g. a pip-installed copy)."""
    try:
        return lock_path().read_bytes()
    except OSError:
        return None


def _machine() -> str:
    if hasattr(os, "uname"):
        return os.uname().machine
    return os.environ.get("PROCESSOR_ARCHITECTURE", "")


def interpreter_tag() -> Tuple[str, ...]:
    """What the wheels depend on, for the running interpreter; cheap (no sysconfig import).

    The first extension suffix (e.g. `.cpython-311-x86_64-linux-gnu.so`, `.cp311-win_amd64.pyd`)
    carries the ABI flags (free-threaded builds) and libc flavour (musl); the machine covers
    macOS universal2 builds run under Rosetta.
    """
    return (
        sys.implementation.name,
        "%d.%d" % sys.version_info[:2],
        sys.platform,
        _machine(),
        importlib.machinery.EXTENSION_SUFFIXES[0] if importlib.machinery.EXTENSION_SUFFIXES else "",
    )


def env_digest(lock_bytes: bytes, tag: Optional[Tuple[str, ...]] = None) -> str:
    """Full sha256 hex digest of the key material (layout, interpreter tag, lock bytes)."""
    import hashlib  # here, not at the top: its OpenSSL binding is 2 ms the per-turn hooks do not need

    digest = hashlib.sha256()
    for part in (LAYOUT_VERSION,) + tuple(tag if tag is not None else interpreter_tag()):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(lock_bytes)
    return digest.hexdigest()


def env_key(lock_bytes: bytes, tag: Optional[Tuple[str, ...]] = None) -> str:
    """The environment's folder name under `envs/`."""
    return env_digest(lock_bytes, tag)[:KEY_LENGTH]


def _crc_table() -> Tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


def posix_cksum(data: bytes) -> int:
    """The CRC that POSIX `cksum` prints (not zlib's crc32: MSB-first, length appended)."""
    table = _crc_table()
    crc = 0
    length = len(data)
    tail = bytearray()
    while length:
        tail.append(length & 0xFF)
        length >>= 8
    for byte in bytes(data) + bytes(tail):
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return ~crc & 0xFFFFFFFF


def pointer_name(lock_bytes: bytes) -> str:
    """File name under `envs/by-lock/` that `bin/ss-hook` derives from `cksum < requirements.lock`."""
    return "%s%d-%d" % (paths.POINTER_PREFIX, posix_cksum(lock_bytes), len(lock_bytes))

"""Build large transcripts for the benchmarks from real corpus turns.

A real session is repeated until the file reaches the wanted size; every repetition gets fresh
uuids, message ids, request ids and tool ids (the session id stays), so the deduplication and
the fact ids behave as they would on one long real session, not on copies of the same lines.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "tests" / "fixtures" / "transcripts" / "marot-spotter" / "258c7280-ae70-4798-800f-63464d01a85d.jsonl"
SESSION_ID = "258c7280-ae70-4798-800f-63464d01a85d"
_IDS = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?:msg|req|toolu)_[A-Za-z0-9]{10,40}")


def fresh_ids(data: bytes, salt: str) -> bytes:
    """`data` with every id but the session id replaced by one derived from (salt, old id)."""
    keep = SESSION_ID.encode()

    def swap(match: re.Match[bytes]) -> bytes:
        old = match.group(0)
        if old == keep:
            return old
        digest = hashlib.blake2b(salt.encode() + old, digest_size=16).hexdigest().encode()
        if old[:4] in (b"msg_", b"req_") or old.startswith(b"toolu_"):
            prefix = old.split(b"_", 1)[0] + b"_"
            return prefix + digest[: len(old) - len(prefix)]
        return b"-".join((digest[:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32]))

    return _IDS.sub(swap, data)


def build(target: Path, size: int, source: Path = SOURCE) -> Path:
    """Write a transcript of about `size` bytes (whole lines) at `target`; reuse it if present."""
    if target.exists() and abs(target.stat().st_size - size) <= max(size // 10, 64 << 10):
        return target
    body = source.read_bytes()
    lines = body.splitlines(keepends=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(target, "wb") as out:
        rep = 0
        while written < size:
            chunk = fresh_ids(body, f"rep{rep}") if rep else body
            if written + len(chunk) > size:
                part = bytearray()
                for line in fresh_ids(b"".join(lines), f"rep{rep}").splitlines(keepends=True):
                    if written + len(part) + len(line) > size and part:
                        break
                    part += line
                chunk = bytes(part)
            out.write(chunk)
            written += len(chunk)
            rep += 1
    return target


TURN_TARGET = 70 << 10  # median turn (typed prompt through the answer) over the corpus main files


def one_turn(salt: str) -> bytes:
    """A real turn of about the corpus-median size, with fresh ids, to append after a Stop.

    Turns are taken from the in-repo fixture sessions (a typed prompt through the answer);
    the one nearest TURN_TARGET is used and made to carry SESSION_ID.
    """
    best = b""
    for source in sorted(SOURCE.parent.parent.rglob("*.jsonl")):
        if "subagents" in source.parts:
            continue
        lines = source.read_bytes().splitlines(keepends=True)
        starts = [
            i
            for i, line in enumerate(lines)
            if b'"type":"user"' in line and b'"tool_result"' not in line and b'"isMeta":true' not in line
        ]
        for a, b in zip(starts, starts[1:] + [len(lines)]):
            turn = b"".join(lines[a:b])
            if b'"type":"assistant"' in turn and abs(len(turn) - TURN_TARGET) < abs(len(best) - TURN_TARGET):
                best = turn.replace(source.stem.encode(), SESSION_ID.encode())
    return fresh_ids(best, salt)


def last_reply(turn: bytes) -> str:
    """The turn's last assistant text: what Claude Code passes to Stop as last_assistant_message."""
    sys.path.insert(0, str(REPO / "examples"))
    from replay import last_reply as from_lines

    return from_lines(turn)


def cache_dir() -> Path:
    return Path(os.environ.get("SESSION_STATE_BENCH_DIR", "/tmp/session-state-bench"))


def cli_env(folder: Path) -> dict[str, str]:
    """The environment of a timed `session-state` run that reads and writes nothing of the user's:
    its state, project and user config all inside `folder`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "SESSION_STATE"))},
        "SESSION_STATE_DIR": str(folder / "state"),
        "CLAUDE_PROJECT_DIR": str(folder / "project"),
        "SESSION_STATE_USER_CONFIG": str(folder / "none.json"),
    }

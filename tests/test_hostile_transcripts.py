"""Hostile transcripts through the real hooks and `session-state budget --json`.

Each case is a transcript Claude Code did not write as expected (broken or truncated lines,
other tools' formats, binary garbage, absurd nesting, a 100 MB line, a cut emoji) or a
transcript path that is not a file (missing, a directory, a FIFO, a symlink to /dev/zero or
/dev/urandom). Each is given to Stop, PreCompact, SessionStart (compact, and fork for the
path cases) and the budget command, every one a real process under a memory limit and killed
at the event's hook timeout. For every run:

- exit 0 (the CLI: 0, or 2 with one error line for a path it cannot read), nothing on stderr,
  output the event accepts, finished before the hook timeout;
- the budget is the figures of the good lines (the last good line's context), or "unknown"
  when no line is readable; the CLI says the same;
- every file in the state folder still validates; peak memory stays bounded (reported).

Env: SESSION_STATE_HOSTILE_LINE_MB (the huge line, default 100), SESSION_STATE_HOSTILE_MEM_MB
(address-space limit per process, default 2048).
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from hookrun import REPO, Sandbox
from test_stress import HOOK_TIMEOUT, assert_accepted, detached_pids, usage_line, validate_tree

pytestmark = pytest.mark.fuzz

LINE_MB = int(os.environ.get("SESSION_STATE_HOSTILE_LINE_MB", "100"))
MEM_MB = int(os.environ.get("SESSION_STATE_HOSTILE_MEM_MB", "2048"))
RSS_LIMIT_MB = 400  # a hook is ~60 MB; the reader holds at most MAX_LINE + BLOCK (24 MB) of a long line
RUN = str(REPO / "bin" / "_run.py")
SID = "cccccccc-0000-4000-8000-000000000001"
GOOD_A = 50_000
GOOD_B = 70_000
PEAKS: dict[str, float] = {}


@dataclass
class Ran:
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    rss_mb: float
    timed_out: bool


def run_limited(sandbox: Sandbox, args: list[str], body: bytes, timeout: float, env: dict[str, str] | None = None) -> Ran:
    """One real process under an address-space limit, killed at `timeout`; its own peak RSS."""
    limit = MEM_MB << 20

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.Popen([sys.executable, "-I", "-X", "utf8", RUN, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**sandbox.env, **(env or {})},
                            cwd=sandbox.project, preexec_fn=limits)
    chunks: dict[str, bytes] = {}

    def pump(name: str, stream) -> None:
        chunks[name] = stream.read()

    readers = [threading.Thread(target=pump, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.start()
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    started = time.monotonic()
    try:
        proc.stdin.write(body)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    return Ran(proc.returncode, chunks["out"].decode("utf-8", "replace"), chunks["err"].decode("utf-8", "replace"),
               seconds, usage.ru_maxrss / 1024, killed.is_set())


def settle(sandbox: Sandbox, timeout: float = 20) -> None:
    """Wait for the refresh a Stop started to finish; one still running after `timeout` hangs."""
    deadline = time.time() + timeout
    while detached_pids(sandbox):
        assert time.time() < deadline, f"a detached refresh is still running after {timeout} s"
        time.sleep(0.05)
    sandbox.wait_refresh(SID)


def reap(sandbox: Sandbox) -> list[int]:
    """Kill (by pid) any process still running for this sandbox: a detached refresh that hung."""
    needle = str(sandbox.tmp).encode()
    killed = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and b"session_state" in cmdline:
            try:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
            except ProcessLookupError:
                pass
    return killed


# --- the transcripts --------------------------------------------------------------------------


def good(context: int, n: int) -> bytes:
    return usage_line(SID, f"msg_good_{n}", context, 30 + n, f"good line {n}").encode() + b"\n"


def broken_json(sandbox: Sandbox, path: Path) -> None:
    path.write_bytes(good(GOOD_A, 1) + b"\n".join([
        b'{"type":"assistant","message":{"usage":',
        b'{"type":"user","message":{"content":"unterminated',
        b"not json at all",
        b"}{",
        b'{"type":"assistant","message":{"id":"m9","usage":{"input_tokens":1e999999}}}',
        b"",
        b"   ",
        b'{"type":"assistant","uuid":"x","message":{"id":"m","usage":{"input_tokens":1,,}}}',
    ]) + b"\n" + good(GOOD_B, 2))


def other_formats(sandbox: Sandbox, path: Path) -> None:
    foreign = [
        {"role": "user", "content": "an OpenAI chat log line"},
        {"type": "response_item", "payload": {"type": "message", "role": "assistant", "usage": {"input_tokens": 999_999}}},
        {"type": "message", "message": {"role": "assistant", "usage": {"prompt_tokens": 5, "completion_tokens": 7}}},
        {"event": "token_count", "info": {"total_token_usage": {"input_tokens": 123456}}},
        [1, 2, 3], 42, None, "a string", True,
        {"type": "assistant", "message": "not an object"},
        {"type": "assistant", "message": {"id": "m", "usage": "not an object"}},
        {"type": "system", "subtype": "compact_boundary", "isSidechain": True},
        {"type": "attachment", "attachment": {"type": "model", "identity": ["not", "a", "dict"]}},
        {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "content": {"nested": [1]}}]}},
    ]
    path.write_bytes(good(GOOD_A, 1) + b"".join(json.dumps(x, separators=(",", ":")).encode() + b"\n" for x in foreign) + good(GOOD_B, 2))


def binary_garbage(sandbox: Sandbox, path: Path) -> None:
    rng = random.Random(7)
    noise = bytes(rng.getrandbits(8) for _ in range(64 * 1024))
    path.write_bytes(good(GOOD_A, 1) + noise + b"\n" + b"\x00" * 4096 + b"\n\xff\xfe\xfd\"usage\":\xc3\x28\n" + good(GOOD_B, 2))


def deep_nesting(sandbox: Sandbox, path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(good(GOOD_A, 1) + b'{"type":"assistant","uuid":"deep","usage":' + deep + b"}\n"
                     + b'{"uuid":' + deep + b"}\n" + good(GOOD_B, 2))


def truncated_last(sandbox: Sandbox, path: Path) -> None:
    last = good(GOOD_B, 2)
    path.write_bytes(good(GOOD_A, 1) + last[: len(last) // 2])


def huge_line(sandbox: Sandbox, path: Path) -> None:
    """A 100 MB line between two good ones, written in 1 MB pieces (never held whole)."""
    piece = (b"x" * 1023 + b" ") * 1024
    with path.open("wb") as f:
        f.write(good(GOOD_A, 1))
        f.write(b'{"type":"user","uuid":"huge","message":{"role":"user","content":"')
        for _ in range(LINE_MB):
            f.write(piece)
        f.write(b'"},"usage":{"input_tokens":1}}\n')
        f.write(good(GOOD_B, 2))


def cut_emoji(sandbox: Sandbox, path: Path) -> None:
    """Claude Code's JSON.stringify writes a string cut inside a surrogate pair as a lone \\ud83d."""
    user = {"type": "user", "uuid": "u-emoji", "sessionId": SID, "isSidechain": False, "timestamp": "2026-01-01T00:00:00Z",
            "message": {"role": "user", "content": "summarise this \ud83d"}}
    path.write_bytes(good(GOOD_A, 1) + json.dumps(user, separators=(",", ":")).encode() + b"\n" + good(GOOD_B, 2))


def empty(sandbox: Sandbox, path: Path) -> None:
    path.write_bytes(b"")


def missing(sandbox: Sandbox, path: Path) -> None:
    pass


def directory(sandbox: Sandbox, path: Path) -> None:
    path.mkdir()


def fifo(sandbox: Sandbox, path: Path) -> None:
    os.mkfifo(path)


def dev_zero(sandbox: Sandbox, path: Path) -> None:
    os.symlink("/dev/zero", path)


def dev_urandom(sandbox: Sandbox, path: Path) -> None:
    os.symlink("/dev/urandom", path)


# name -> (maker, the context the budget must show afterwards: the last good line's, or None for unknown)
CASES: dict[str, tuple[Callable[[Sandbox, Path], None], int | None]] = {
    "broken-json": (broken_json, GOOD_B),
    "truncated-last-line": (truncated_last, GOOD_A),
    "other-tools-formats": (other_formats, GOOD_B),
    "binary-garbage": (binary_garbage, GOOD_B),
    "deep-nesting": (deep_nesting, GOOD_B),
    "huge-line": (huge_line, GOOD_B),
    "cut-emoji": (cut_emoji, GOOD_B),
    "empty": (empty, None),
    "missing": (missing, None),
    "directory": (directory, None),
    "fifo": (fifo, None),
    "dev-zero": (dev_zero, None),
    "dev-urandom": (dev_urandom, None),
}
HOOKS = ("Stop", "PreCompact", "SessionStart-compact", "SessionStart-fork", "budget-cli")



def params():
    out = []
    for case in CASES:
        for hook in HOOKS:
            if hook == "SessionStart-fork" and case not in ("deep-nesting", "cut-emoji", "missing", "directory", "fifo", "dev-zero", "dev-urandom", "broken-json"):
                continue
            out.append(pytest.param(case, hook, id=f"{case}-{hook}"))
    return out


def last_usage(sandbox: Sandbox) -> dict | None:
    path = sandbox.session_dir(SID) / "usage.jsonl"
    if not path.exists():
        return None
    lines = [json.loads(x) for x in path.read_bytes().split(b"\n") if x.strip()]
    return lines[-1] if lines else None


def check_hook(event: str, ran: Ran) -> None:
    assert not ran.timed_out, f"{event} still running at its {HOOK_TIMEOUT[event]} s hook timeout"
    assert ran.stderr == "", ran.stderr
    job = type("Job", (), {"code": ran.code, "stdout": ran.stdout, "stderr": ran.stderr})
    assert_accepted(event, job)
    assert ran.rss_mb < RSS_LIMIT_MB, f"{event} peak RSS {ran.rss_mb:.0f} MB"


@pytest.mark.parametrize("case,hook", params())
def test_hostile_transcript(sandbox: Sandbox, case: str, hook: str) -> None:
    maker, expected = CASES[case]
    path = sandbox.transcripts / f"{SID}.jsonl"
    maker(sandbox, path)
    # other sessions of the project live beside it (a fork looks for its parent among them)
    sibling = sandbox.transcripts / "dddddddd-0000-4000-8000-000000000001.jsonl"
    sibling.write_bytes(good(GOOD_A, 1) + good(GOOD_B, 2))
    runs: list[tuple[str, Ran]] = []
    try:
        if hook == "budget-cli":
            ran = run_limited(sandbox, ["budget", str(path), "--json"], b"", 30, env={"SESSION_STATE_CLI": "1"})
            runs.append(("budget", ran))
            assert not ran.timed_out and "Traceback" not in ran.stderr, ran.stderr
            assert ran.rss_mb < RSS_LIMIT_MB
            if ran.code == 0:
                got = json.loads(ran.stdout)
                assert got["context_tokens"] == expected, got
                assert (got["level"] == "unknown") == (expected is None)
            else:  # a path it cannot read at all: one line saying so
                assert ran.code == 2 and expected is None and len(ran.stderr.strip().splitlines()) == 1, (ran.code, ran.stderr)
            return
        event, fixture = {
            "Stop": ("Stop", "Stop.json"),
            "PreCompact": ("PreCompact", "PreCompact__auto.json"),
            "SessionStart-compact": ("SessionStart", "SessionStart__compact.json"),
            "SessionStart-fork": ("SessionStart", "SessionStart__fork.json"),
        }[hook]
        payload = sandbox.payload(fixture, session_id=SID, transcript_path=str(path))
        body = json.dumps(payload).encode()
        for attempt in range(2):  # the second run must not fail on what the first left behind
            ran = run_limited(sandbox, [event], body, HOOK_TIMEOUT[event])
            runs.append((event, ran))
            check_hook(event, ran)
            if event == "Stop":
                settle(sandbox)
            if case == "truncated-last-line" and attempt == 0:
                rest = good(GOOD_B, 2)
                with path.open("ab") as f:
                    f.write(rest[len(rest) // 2:])  # the writer finishes the line
                expected = GOOD_B
            rec = last_usage(sandbox)
            if attempt == 0 and case == "truncated-last-line":
                assert rec is not None and rec["context_tokens"] == GOOD_A, rec
                continue
            if expected is None:
                assert rec is None or rec["level"] == "unknown", rec
            else:
                assert rec is not None and rec["context_tokens"] == expected, rec
        state_file = sandbox.session_dir(SID) / "state.json"
        if state_file.exists():
            from session_state.state import models

            state = models.SessionState.model_validate_json(state_file.read_bytes())
            if expected is not None:
                assert state.budget is not None and state.budget.context_tokens == expected
        tree = validate_tree(sandbox.root)
        assert tree.invalid == [], tree.invalid
    finally:
        for name, ran in runs:
            key = f"{name}:{case}"
            PEAKS[key] = max(PEAKS.get(key, 0.0), ran.rss_mb)
        leftover = reap(sandbox)
        if case == "huge-line":
            path.unlink()  # 100 MB: do not keep it in pytest's retained tmp folders
        print(f"\n{case} / {hook}: " + "; ".join(f"{n} exit {r.code} in {r.seconds:.2f} s, peak {r.rss_mb:.0f} MB"
                                                + (" KILLED AT TIMEOUT" if r.timed_out else "") for n, r in runs)
              + (f"; killed {len(leftover)} leftover processes" if leftover else ""))

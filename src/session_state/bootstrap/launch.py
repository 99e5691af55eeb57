"""What a hook asks before it needs the full tier: is there an env, and if not, start one.

Stdlib only, cheap at import (no subprocess until a provisioner is
started). Meant for the hook runner when `bin/ss-hook` did not find a ready env on its fast
path (first run, new plugin lock, other interpreter):

    if not launch.deps_importable():
        python = launch.ready_python()
        if python: exec it on bin/_run.py (keeps stdin)
        else:      launch.start_provisioning(), run the stdlib-only hot tier, and show
                   launch.notice(status) once per session

Nothing here blocks on a build: the provisioner runs detached and no hook ever waits for pip.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from typing import Any, Dict, Optional

from session_state.core import paths, requirements
from session_state.bootstrap import backoff, envkey, layout, oslock

_LOG_CAP = 1_000_000
SPAWN_THROTTLE = 60


def ready_python() -> Optional[str]:
    """The ready env's python for this lock file and this interpreter, or None."""
    lock_bytes = envkey.read_lock()
    if lock_bytes is None:
        return None
    info = layout.ready_info(envkey.env_key(lock_bytes))
    return info["python"] if info else None


def deps_importable() -> bool:
    """True when this interpreter already has every dependency (dev venv, pip-installed copy).

    `find_spec` only locates the packages (about a millisecond); it does not prove that
    compiled parts load, which is why provisioned envs are verified by import instead.
    """
    try:
        return all(importlib.util.find_spec(name) is not None for name in requirements.FULL_TIER)
    except (ImportError, ValueError):
        return False


def start_provisioning() -> str:
    """Start the provisioner detached unless it is pointless now; returns a status word.

    ready: an env is ready; running: a provisioner holds the lock; backoff: the last attempt
    failed and its wait is not over; throttled: one was started less than a minute ago and
    has not taken the lock yet (or died before it could); started: a provisioner was just
    started; no-lock: this copy has no requirements.lock; error: see the log.
    """
    try:
        lock_bytes = envkey.read_lock()
        if lock_bytes is None:
            return "no-lock"
        key = envkey.env_key(lock_bytes)
        if layout.ready_info(key) is not None:
            return "ready"
        if oslock.is_held(layout.lock_file()):
            return "running"
        if backoff.remaining(key) > 0:
            return "backoff"
        if _recently_spawned():
            return "throttled"
        _spawn()
        return "started"
    except Exception as exc:  # a hook must go on whatever happens here
        from session_state.core import log

        log.write("launch: cannot start the provisioner", exc)
        return "error"


def _recently_spawned() -> bool:
    """True within SPAWN_THROTTLE seconds of the last start: hooks firing together start one
    provisioner, and one that dies before taking its lock is not restarted on every hook."""
    try:
        age = time.time() - layout.spawn_stamp().stat().st_mtime
    except OSError:
        return False
    return 0 <= age < SPAWN_THROTTLE


def _spawn() -> None:
    """`python -m session_state.bootstrap.provision` in a new session, output to a log file.

    Never waited on; stdin is /dev/null and stdout/stderr go to the log so that Claude Code,
    which reads the hook's stdout until it closes, is never held up by the build.
    """
    import subprocess

    layout.envs_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    layout.spawn_stamp().write_bytes(b"")
    log_path = layout.provision_log()
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if log_path.stat().st_size > _LOG_CAP:
            os.replace(str(log_path), str(log_path) + ".1")
    except OSError:
        pass
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = str(paths.source_root())
    env["PYTHONUTF8"] = "1"
    cmd = [sys.executable, "-s", "-X", "utf8", "-m", "session_state.bootstrap.provision"]
    fd = os.open(str(log_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    try:
        kwargs = dict(
            stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
            cwd=str(layout.data_root()), env=env, close_fds=True,
        )  # type: Dict[str, Any]
        if sys.platform == "win32":  # os.name == "nt"; the form mypy reads as a platform check
            flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
            try:  # leave a kill-on-close job object of the hook's parent, when it allows that
                subprocess.Popen(cmd, creationflags=flags | subprocess.CREATE_BREAKAWAY_FROM_JOB, **kwargs)
            except OSError:
                subprocess.Popen(cmd, creationflags=flags, **kwargs)
        else:
            subprocess.Popen(cmd, start_new_session=True, **kwargs)
    finally:
        os.close(fd)


def status() -> Dict[str, Any]:
    """Everything `session-state doctor` shows about the environment, as plain data."""
    lock = envkey.lock_path()
    lock_bytes = envkey.read_lock()
    result = {
        "lock_file": str(lock),
        "interpreter": sys.executable,
        "deps_importable": deps_importable(),
        "log": str(layout.provision_log()),
    }  # type: Dict[str, Any]
    if lock_bytes is None:
        result.update(key=None, ready=False)
        return result
    key = envkey.env_key(lock_bytes)
    info = layout.ready_info(key)
    record = backoff.load(key)
    running = oslock.is_held(layout.lock_file())
    wait = backoff.remaining(key)
    result.update(
        key=key,
        env=str(layout.env_dir(key)),
        pointer=str(layout.pointers_dir() / envkey.pointer_name(lock_bytes)),
        ready=info is not None,
        python=info["python"] if info else None,
        installer=info.get("installer") if info else None,
        timings=info.get("timings") if info else None,
        running=running,
        last_failure=None if (record is None or record.get("phase") == "running") else record,
        interrupted=bool(record and record.get("phase") == "running" and not running),
        attempts=record.get("attempts") if record else 0,
        next_try=record.get("next_try") if record and wait else None,
        retry_in_s=round(wait) if wait else 0,
    )
    return result


def notice(state: str) -> Optional[str]:
    """The one line to show the user for a `start_provisioning()` status, or None."""
    if state in ("started", "running", "throttled"):
        return (
            "session-state is setting up its Python environment in the background (first run "
            "or new dependencies; usually under a minute). Full features start once it is "
            "ready; nothing else is needed from you. Progress: %s" % layout.provision_log()
        )
    if state == "backoff":
        from session_state.bootstrap import advice

        record = backoff.load(envkey.env_key(envkey.read_lock() or b"")) or {}
        next_try = record.get("next_try")
        when = time.strftime("%H:%M", time.localtime(next_try)) if isinstance(next_try, (int, float)) else "later"
        why, fix = advice.explain(record)
        return (
            "session-state runs with basic handoffs only: its Python environment could not be built (%s). "
            "Fix: %s (or wait for the automatic retry after %s)." % (why, fix, when)
        )
    if state == "error":
        from session_state.core import paths

        return "session-state could not start setting up its Python environment; see %s" % paths.log_file()
    return None

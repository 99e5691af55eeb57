"""Build the hooks' Python environment once, under a lock, and publish it only when it works.

Run as `python -m session_state.bootstrap.provision [--force]`, normally started detached by
`launch.start_provisioning()` with its output going to `logs/provision.log`. Stdlib only:
it runs before any dependency exists.

Order (pre-commit's install, security-guidance's pitfalls):
  1. take `envs/.provision.lock` without waiting; if another provisioner has it, exit ("busy");
  2. look for a ready env again (someone may have just finished): then only refresh the pointer;
  3. respect the backoff record (unless --force), then record the attempt before building;
  4. delete leftovers, build (uv or venv+pip), verify by importing every dependency with the
     env's own python (the token estimates never let tiktoken download: state/tokens.py);
  5. publish last: `.ready` (atomic replace), then the `by-lock` pointer `bin/ss-hook` reads;
  6. on failure remove the partial env and record phase, rc, output tail and the next try;
  7. after a success, remove envs that are neither the current nor the previous one, and fold
     the sessions journaled while it was being built (session_state.core.backlog).
The final status word is printed last: built, ready, busy, backoff, failed, no-lock.

Test seam: SESSION_STATE_REQUIREMENTS names another lock file (see envkey.lock_path).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from session_state.core import log, paths
from session_state.bootstrap import backoff, build, envkey, layout, oslock
from session_state.core.fsutil import atomic_write


def provision(force: bool = False) -> str:
    """Make sure a ready env exists for this lock and interpreter; returns a status word."""
    lock_bytes = envkey.read_lock()
    if lock_bytes is None:
        return "no-lock"
    key = envkey.env_key(lock_bytes)
    layout.envs_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    held = oslock.try_lock(layout.lock_file())
    if held is None:
        return "busy"
    with held:
        info = layout.ready_info(key)
        if info is not None:
            write_pointer(lock_bytes, info["python"])
            return "ready"
        wait = backoff.remaining(key)
        if wait and not force:
            print("backoff: next attempt in %d s" % wait, flush=True)
            return "backoff"
        return _build(key, lock_bytes)


def _build(key: str, lock_bytes: bytes) -> str:
    attempts = backoff.record_start(key)
    env = layout.env_dir(key)
    log.write("provision: building env %s (attempt %d) with %s" % (key, attempts, sys.executable))
    started = time.monotonic()
    build.remove_tree(env)
    try:
        installer, timings = build.build(env, envkey.lock_path())
        step = time.monotonic()
        build.verify(env)
        timings["verify"] = time.monotonic() - step
    except build.StepError as exc:
        build.remove_tree(env)
        record = backoff.record_failure(key, attempts, exc.phase, exc.rc, exc.output, exc.signaled)
        log.write(
            "provision: env %s failed in %s (rc=%s, attempt %d); next try in %d s; output tail in %s"
            % (key, exc.phase, exc.rc, attempts, record["next_try"] - record["failed_at"], layout.state_file())
        )
        return "failed"
    except BaseException as exc:
        build.remove_tree(env)
        backoff.record_failure(key, attempts, "internal", None, "%s: %s" % (type(exc).__name__, exc))
        log.write("provision: env %s failed internally" % key, exc)
        raise
    timings["total"] = time.monotonic() - started
    publish(key, lock_bytes, env, installer, timings)
    backoff.clear(key)
    log.write("provision: env %s ready via %s in %.1f s" % (key, installer, timings["total"]))
    try:
        cleanup(keep=key)
    except OSError as exc:
        log.write("provision: cleanup of old envs failed", exc)
    fold_backlog(str(layout.env_python(env)))
    return "built"


BACKLOG_TIMEOUT = 300


def fold_backlog(python: str) -> None:
    """Fold the sessions journaled while this env was being built, with the env just made.

    A first session often ends before its environment is ready; without this, its state
    would wait for the next session's first hook. Isolated (-I) and in the data root, like the
    build steps: the folder this was started from (a project, for `doctor --retry-env`) is never
    on the child's sys.path; the package is found at the folder this plugin runs from.
    """
    import subprocess

    code = "import sys; sys.path.insert(0, %r); from session_state.core.backlog import drain; drain()" % (
        str(paths.source_root()),
    )
    try:
        subprocess.run([python, "-I", "-X", "utf8", "-c", code], env=build.clean_env(), cwd=str(layout.data_root()),
                       stdin=subprocess.DEVNULL, timeout=BACKLOG_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.write("provision: could not fold the sessions journaled during the build", exc)


def publish(key: str, lock_bytes: bytes, env: Path, installer: str, timings: Dict[str, float]) -> Dict[str, Any]:
    """Write `.ready` (the marker readers trust), then the pointer for the shell launcher."""
    python = str(layout.env_python(env))
    info = {
        "v": layout.READY_VERSION,
        "key": key,
        "key_sha256": envkey.env_digest(lock_bytes),
        "lock_cksum": envkey.pointer_name(lock_bytes),
        "python": python,
        "base_executable": build.base_executable(),
        "implementation": sys.implementation.name,
        "version_info": list(sys.version_info[:3]),
        "tag": list(envkey.interpreter_tag()),
        "installer": installer,
        "timings": {name: round(value, 3) for name, value in timings.items()},
        "created": time.time(),
    }
    atomic_write(layout.ready_file(key), json.dumps(info, indent=1).encode("utf-8"))
    write_pointer(lock_bytes, python)
    return info


def write_pointer(lock_bytes: bytes, python: str) -> None:
    """`envs/by-lock/<cksum name>`: the env python on the first line, for `bin/ss-hook`."""
    directory = layout.pointers_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / envkey.pointer_name(lock_bytes)
    data = (python + "\n").encode("utf-8")
    try:
        if target.read_bytes() == data:
            return
    except OSError:
        pass
    atomic_write(target, data)


def cleanup(keep: str) -> List[str]:
    """Remove env folders other than `keep` and the most recent other ready env.

    Runs only after a successful build (rare, so the cost is amortized) and under the
    provisioning lock, so no env being built can be mistaken for a leftover. The previous
    env stays because sessions still running an older plugin version may use it.
    """
    envs = layout.envs_dir()
    ready = []
    others = []
    for child in envs.iterdir():
        if child.name.startswith(paths.TRASH_PREFIX):
            build.remove_tree(child)
        elif layout.KEY_PATTERN.fullmatch(child.name) and child.name != keep and child.is_dir():
            info = layout.ready_info(child.name)
            created = info.get("created") if info else None
            if isinstance(created, (int, float)):
                ready.append((created, child.name))
            else:
                others.append(child.name)
    ready.sort()
    removed = others + [name for _, name in ready[:-1]]
    for name in removed:
        build.remove_tree(envs / name)
    _prune_pointers()
    if removed:
        log.write("provision: removed old envs %s" % ", ".join(sorted(removed)))
    return removed


def _prune_pointers() -> None:
    directory = layout.pointers_dir()
    if not directory.is_dir():
        return
    for pointer in directory.iterdir():
        try:
            python = pointer.read_text("utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError):
            python = ""
        if not python or not os.path.isfile(python):
            try:
                pointer.unlink()
            except OSError:
                pass


def main(argv: Optional[List[str]] = None) -> int:
    """CLI: `--force` ignores the backoff (a manual retry after fixing the cause)."""
    args = sys.argv[1:] if argv is None else argv
    force = "--force" in args
    print("session-state provision: pid %d, %s, %s" % (os.getpid(), sys.executable, time.strftime("%Y-%m-%dT%H:%M:%S%z")),
          flush=True)
    status = provision(force=force)
    print(status, flush=True)
    return 1 if status == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())

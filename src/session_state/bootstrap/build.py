"""The build steps of one environment: create, install, verify by import.

Stdlib only. Each step is a subprocess with its own timeout, run in the data root with a
clean environment (no PYTHONHOME/PYTHONPATH, no pip variables that redirect the install),
in its own process group so a timeout kills pip's children too. The user's pip
configuration (index mirrors, certificates) is kept on purpose: corporate machines need it.

Installers: `uv` when it is on PATH (about 0.5 s instead of about 7 s), else `python -m venv`
plus pip. When the interpreter cannot create a venv with pip (Debian without python3-venv:
no ensurepip), the venv is made `--without-pip` and the base interpreter's pip installs into
its site-packages with `--target`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from session_state.bootstrap import layout
from session_state.core import paths, requirements

VENV_TIMEOUT = 180
INSTALL_TIMEOUT = 900
CHECK_TIMEOUT = 120
# The verify step imports every module of requirements.FULL_TIER: pydantic_core and regex are
# compiled parts whose ABI a find_spec check cannot see (claude-plugins-official#5706).
_DROP_ENV = (
    "PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "PYTHONNOUSERSITE",
    "PYTHONSAFEPATH", "__PYVENV_LAUNCHER__", "VIRTUAL_ENV", "CONDA_PREFIX",
    "PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_REQUIRE_VIRTUALENV",
    "UV_SYSTEM_PYTHON", "UV_PROJECT_ENVIRONMENT",
)
_NO_PIP = (
    "\n%s cannot create a virtual environment with pip (no ensurepip) and has no pip of its own:"
    " install uv, or your system's python3-venv / python3-pip package." % sys.executable
)
_VERIFY = (
    "import importlib, sys\n"
    "for name in sys.argv[1:]:\n"
    "    importlib.import_module(name)\n"
    "print('imported')\n"
)


class StepError(Exception):
    """A build step failed: which one, its exit code, its output, and whether a signal killed it."""

    def __init__(self, phase: str, rc: Optional[int], output: str, signaled: bool = False) -> None:
        super().__init__("%s failed (rc=%s)" % (phase, rc))
        self.phase = phase
        self.rc = rc
        self.output = output
        self.signaled = signaled


def clean_env(env_dir: Optional[Path] = None) -> Dict[str, str]:
    """The environment for build subprocesses: nothing that redirects Python or pip."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env.update(
        PYTHONUTF8="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_PYTHON_DOWNLOADS="never",
    )
    if env_dir is not None:
        env["VIRTUAL_ENV"] = str(env_dir)
    return env


def run_step(phase: str, cmd: List[str], timeout: float, env: Dict[str, str]) -> str:
    """Run one step; its combined output on success, StepError otherwise (incl. timeout).

    Every step runs in the data root, never in the folder it was started from (a project when
    `session-state doctor --retry-env` builds): `python -m venv` and `python -m pip` put their
    current folder first on sys.path, and uv reads the uv.toml / pyproject.toml [tool.uv] it finds there.
    """
    print("[%s] %s" % (phase, " ".join(cmd)), flush=True)
    windows = os.name == "nt"
    root = layout.data_root()
    try:  # Windows: no console window; elsewhere: its own session, so a timeout kills the tree
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        proc = subprocess.Popen(
            cmd, env=env, cwd=str(root), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0) if windows else 0,
            start_new_session=not windows,
        )
    except OSError as exc:
        raise StepError(phase, None, "cannot start %s: %s" % (cmd[0], exc)) from exc
    try:
        raw, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        raw, _ = proc.communicate()
        output = raw.decode("utf-8", "replace")
        _echo(output)
        raise StepError(phase, None, output + "\n%s timed out after %ss" % (phase, timeout)) from None
    output = raw.decode("utf-8", "replace")
    _echo(output)
    if proc.returncode != 0:
        raise StepError(phase, proc.returncode, output, signaled=proc.returncode < 0)
    return output


def _echo(output: str) -> None:
    """Copy a step's output to our stdout: the provision log when detached."""
    if output:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        sys.stdout.flush()


def _kill_tree(proc: "subprocess.Popen[bytes]") -> None:
    if os.name == "nt":
        proc.kill()
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def base_executable() -> str:
    """The real interpreter behind this one (a venv's python is only a link to it)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def build(env: Path, lock: Path) -> Tuple[str, Dict[str, float]]:
    """Create the env at `env` and install `lock` into it; returns (installer, timings).

    `uv` is tried first when on PATH; if it fails (too old, blocked), the partial env is
    removed and pip gets its turn, so a broken uv cannot keep a user without features.
    """
    uv = shutil.which("uv")
    if uv:
        try:
            return "uv", _build_uv(uv, env, lock)
        except StepError as exc:
            print("uv failed (%s); falling back to pip" % exc, flush=True)
            remove_tree(env)
    return _build_pip(env, lock)


def _build_uv(uv: str, env: Path, lock: Path) -> Dict[str, float]:
    timings = {}
    started = time.monotonic()
    run_step("venv", [uv, "venv", "--python", base_executable(), str(env)], VENV_TIMEOUT, clean_env())
    timings["venv"] = time.monotonic() - started
    started = time.monotonic()
    run_step(
        "install",
        [uv, "pip", "install", "--python", str(layout.env_python(env)), "--compile-bytecode", "-r", str(lock)],
        INSTALL_TIMEOUT, clean_env(env),
    )
    timings["install"] = time.monotonic() - started
    return timings


def _build_pip(env: Path, lock: Path) -> Tuple[str, Dict[str, float]]:
    timings = {}
    started = time.monotonic()
    target = False
    try:
        run_step("venv", [sys.executable, "-m", "venv", str(env)], VENV_TIMEOUT, clean_env())
    except StepError as exc:
        if importlib.util.find_spec("pip") is None:
            raise StepError(exc.phase, exc.rc, exc.output + _NO_PIP, exc.signaled) from exc
        print("venv with pip failed (%s); retrying --without-pip" % exc, flush=True)
        remove_tree(env)
        run_step("venv", [sys.executable, "-m", "venv", "--without-pip", str(env)], VENV_TIMEOUT, clean_env())
        target = True
    timings["venv"] = time.monotonic() - started
    started = time.monotonic()
    install_with_pip(env, lock, target=target)
    timings["install"] = time.monotonic() - started
    return ("pip-target" if target else "pip"), timings


def install_with_pip(env: Path, lock: Path, target: bool = False) -> None:
    """pip install the lock into the env: its own pip, or (`target`) ours into its site-packages."""
    python = sys.executable if target else str(layout.env_python(env))
    cmd = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--prefer-binary",
           "-r", str(lock)]
    if target:
        cmd += ["--target", site_packages(env)]
    run_step("install", cmd, INSTALL_TIMEOUT, clean_env(env))


def site_packages(env: Path) -> str:
    """The env's own purelib folder, as its python reports it."""
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    output = run_step("site-packages", [str(layout.env_python(env)), "-I", "-c", code], CHECK_TIMEOUT, clean_env())
    return output.strip().splitlines()[-1]


def verify(env: Path) -> None:
    """Import every dependency with the env's own python: the proof that its compiled parts load."""
    output = run_step(
        "verify", [str(layout.env_python(env)), "-I", "-c", _VERIFY] + list(requirements.FULL_TIER), CHECK_TIMEOUT, clean_env()
    )
    if output.strip().splitlines()[-1:] != ["imported"]:
        raise StepError("verify", 0, output)


def remove_tree(path: Path) -> None:
    """Delete a folder at once from readers' view (rename first), then its contents."""
    if not path.exists():
        return
    trash = path.with_name("%s%s-%d-%d" % (paths.TRASH_PREFIX, path.name, os.getpid(), time.monotonic_ns()))
    try:
        os.rename(str(path), str(trash))
    except OSError:
        trash = path
    shutil.rmtree(str(trash), ignore_errors=True)

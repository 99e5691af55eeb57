"""Real provisioning: real venvs, real pip against the configured index, real concurrent processes.

Slow (about 10 s per successful pip build, a few seconds per failing one): marked `slow`, so
plain `pytest` leaves it out; `pytest -m slow` or `bash .ci/run` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from session_state.bootstrap import build, envkey, launch, layout, oslock, provision
from session_state.core import requirements
from test_bootstrap import make_plugin, plant, run_hook, tool_dir
from test_cli_support import cli_argv

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
OLD = {"1111111111111111": 100.0, "2222222222222222": 200.0}  # two older ready envs
LEFTOVER = "3333333333333333"  # a build that died before `.ready`


def child_env(data: Path, lock: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != envkey.LOCK_ENV}
    env.update(CLAUDE_PLUGIN_DATA=str(data), PYTHONPATH=str(REPO / "src"))
    if lock is not None:
        env[envkey.LOCK_ENV] = str(lock)
    return env


def provisioner(data: Path, *args: str, lock: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "session_state.bootstrap.provision", *args],
                            env=child_env(data, lock), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    """(status word, whole output) of a provisioner run."""
    output, _ = proc.communicate(timeout=900)
    return output.strip().splitlines()[-1], output


def seed_old_envs(data: Path) -> None:
    for key, created in OLD.items():
        env = data / "envs" / key
        env.mkdir(parents=True)
        (env / ".ready").write_text(json.dumps({"v": 1, "key": key, "python": sys.executable,
                                                "base_executable": sys.executable, "created": created}))
    (data / "envs" / LEFTOVER / "lib").mkdir(parents=True)
    pointers = data / "envs" / "by-lock"
    pointers.mkdir()
    (pointers / "cksum-1-1").write_text(str(data / "envs" / "gone" / "bin" / "python") + "\n")


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.05)


def test_two_provisioners_build_once_publish_and_then_do_nothing(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "plugin data"
    seed_old_envs(data)
    first, second = provisioner(data), provisioner(data)
    statuses = sorted([finish(first)[0], finish(second)[0]])
    assert statuses == ["built", "busy"]

    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(data))
    monkeypatch.delenv(envkey.LOCK_ENV, raising=False)
    lock_bytes = (REPO / "requirements.lock").read_bytes()
    key = envkey.env_key(lock_bytes)
    info = json.loads(layout.ready_file(key).read_text())
    assert info["key"] == key and info["installer"] in ("pip", "uv")
    python = info["python"]
    assert python == str(layout.env_python(layout.env_dir(key)))
    assert launch.ready_python() == python
    state = launch.status()
    assert state["ready"] and not state["running"] and state["last_failure"] is None
    assert not layout.state_file().exists()

    # the env's own python imports every dependency, isolated from anything of ours
    code = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]; print('ok')"
    out = subprocess.run([python, "-I", "-c", code, *requirements.FULL_TIER], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr

    # the pointer bin/ss-hook reads, and the cleanup of older envs
    pointer = layout.pointers_dir() / envkey.pointer_name(lock_bytes)
    assert pointer.read_text() == python + "\n"
    assert sorted(p.name for p in layout.pointers_dir().iterdir()) == [pointer.name]
    assert sorted(p.name for p in layout.envs_dir().iterdir()) == sorted(
        [key, "2222222222222222", "by-lock", ".provision.lock"])

    # a later call is a no-op
    stamp = layout.ready_file(key).stat().st_mtime_ns
    started = time.monotonic()
    status, _ = finish(provisioner(data))
    assert status == "ready" and time.monotonic() - started < 5
    assert layout.ready_file(key).stat().st_mtime_ns == stamp
    assert launch.start_provisioning() == "ready"

    # and the shell launcher takes its fast path into the env
    root = make_plugin(tmp_path)
    out = run_hook(root, data, [tool_dir(tmp_path, "cksum")])
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["exe"] == python and seen["isolated"] == 1


def test_a_failing_build_leaves_nothing_and_backs_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "plugin data"
    bad = tmp_path / "bad.lock"
    bad.write_text("session-state-no-such-package-zq9==1.0\n")
    key = envkey.env_key(bad.read_bytes())

    # a hook starts the provisioner and returns at once: its stdout is not held open by the build;
    # a second hook right after it does not start another one
    code = "from session_state.bootstrap import launch; print(launch.start_provisioning(), launch.start_provisioning())"
    started = time.monotonic()
    hook = subprocess.run([sys.executable, "-c", code], env=child_env(data, bad), capture_output=True, text=True,
                          timeout=60)
    first, second = hook.stdout.split()
    assert first == "started" and second in ("throttled", "running"), hook.stderr
    assert time.monotonic() - started < 5

    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(data))
    monkeypatch.setenv(envkey.LOCK_ENV, str(bad))
    wait_for(lambda: oslock.is_held(layout.lock_file()), 10, "the detached provisioner to take the lock")
    assert launch.start_provisioning() == "running"
    wait_for(lambda: not oslock.is_held(layout.lock_file()), 600, "the provisioner to finish")

    record = json.loads(layout.state_file().read_text())
    assert record["key"] == key and record["phase"] == "install" and record["rc"] not in (0, None)
    assert "session-state-no-such-package-zq9" in record["stderr_tail"]
    assert record["attempts"] == 1 and record["next_try"] - record["failed_at"] == 300
    assert not layout.env_dir(key).exists()
    assert not [p for p in layout.envs_dir().iterdir() if p.name.startswith(".trash-")]
    assert "failed in install" in (data / "logs" / "session-state.log").read_text()

    assert layout.provision_log().read_text().count("session-state provision: pid") == 1

    # the next hook does not start another attempt while the backoff runs
    log_size = layout.provision_log().stat().st_size
    assert launch.start_provisioning() == "backoff"
    time.sleep(0.5)
    assert layout.provision_log().stat().st_size == log_size and not oslock.is_held(layout.lock_file())
    assert finish(provisioner(data, lock=bad))[0] == "backoff"

    # forcing a retry counts a second attempt and backs off longer
    status, output = finish(provisioner(data, "--force", lock=bad))
    assert status == "failed", output
    state = launch.status()
    assert state["attempts"] == 2 and 3500 < state["retry_in_s"] <= 3600
    assert state["last_failure"]["phase"] == "install" and not state["ready"]


def test_retry_env_from_a_project_runs_nothing_of_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`session-state doctor --retry-env` builds in-process from the user's current folder: its
    `python -m venv`, `python -m pip` and backlog fold must not run the project's modules."""
    data = tmp_path / "plugin data"
    project = tmp_path / "project"
    ran = plant(project, "venv", "pip", "session_state")
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(data))
    from session_state.core import backlog

    backlog.note(tmp_path / "project gone", "s1", None)  # the fold after the build forgets it
    env = {**child_env(data), "HOME": str(tmp_path / "home")}
    out = subprocess.run([*cli_argv(), "doctor", "--retry-env"], cwd=project, env=env, capture_output=True, text=True,
                         timeout=900, stdin=subprocess.DEVNULL)
    assert "Traceback" not in out.stderr, out.stderr
    assert "environment: built" in out.stdout, out.stdout + out.stderr
    assert sorted(p.name for p in ran.iterdir()) == []
    assert backlog.pending() == []


def test_pip_target_fallback_installs_into_a_venv_without_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "plugin data"))  # where the steps run
    lock = tmp_path / "small.lock"
    lock.write_text("toons==0.9.0\n")
    env = tmp_path / "env"
    build.run_step("venv", [sys.executable, "-m", "venv", "--without-pip", str(env)], 120, build.clean_env())
    python = str(layout.env_python(env))
    assert subprocess.run([python, "-c", "import pip"], capture_output=True).returncode != 0
    build.install_with_pip(env, lock, target=True)
    out = subprocess.run([python, "-I", "-c", "import toons; print(toons.__file__)"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith(str(env)), out.stderr


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is optional and not on PATH here")
def test_uv_build(tmp_path: Path) -> None:
    data = tmp_path / "plugin data"
    status, output = finish(provisioner(data))
    assert status == "built", output
    key = envkey.env_key((REPO / "requirements.lock").read_bytes())
    assert json.loads((data / "envs" / key / ".ready").read_text())["installer"] == "uv"

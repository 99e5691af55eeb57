"""The hooks' launcher and the cheap half of provisioning, with real interpreters and processes.

`bin/ss-hook` is run with `/bin/sh` and a PATH built per test (links to real interpreters, a
fake old `python3`, or nothing), inside a copy of the plugin whose hook runner is a small
stand-in that reports how it was started. Nothing here builds an environment: see
test_provision.py for the real builds.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import session_state
from session_state.bootstrap import backoff, build, envkey, launch, layout, oslock
from session_state.core import paths

REPO = Path(__file__).resolve().parents[1]
SH = shutil.which("sh") or "/bin/sh"
STUB_RUNNER = '''
import json, os, sys

def main(event):
    import session_state
    data = sys.stdin.read()
    print(json.dumps({
        "event": event, "exe": sys.executable, "stdin": data,
        "isolated": sys.flags.isolated, "utf8": sys.flags.utf8_mode,
        "PYTHONUTF8": os.environ.get("PYTHONUTF8"), "package": session_state.__file__,
    }))
    sys.exit(0)
'''


def interpreters() -> list[str]:
    """Real interpreters on this machine (PATH names and pyenv versions), deduplicated."""
    found: dict[str, str] = {}
    names = ["python3.%d" % minor for minor in range(6, 15)] + ["python3", "python"]
    candidates = [shutil.which(name) for name in names] + ["/usr/bin/python3"]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob("*/bin/python3"))]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and "shims" not in Path(candidate).parts:
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


@functools.lru_cache(maxsize=None)
def version_of(python: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d %d %d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return tuple(int(x) for x in out.stdout.split()) if out.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def has_deps(python: str) -> bool:
    code = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ('pydantic', 'orjson')))"
    return subprocess.run([python, "-I", "-c", code], capture_output=True, timeout=20).returncode == 0


def find_python(want) -> str:
    for python in interpreters():
        version = version_of(python)
        if version and want(python, version):
            return python
    pytest.skip("no interpreter matching this test on this machine")


@pytest.fixture(scope="module")
def bare_python() -> str:
    """A real Python >= 3.10 without the plugin's dependencies."""
    return find_python(lambda p, v: v >= (3, 10) and not has_deps(p))


@pytest.fixture(scope="module")
def old_python() -> str:
    """A real Python 3.x older than 3.10 (Python 2 cannot even parse the probe)."""
    return find_python(lambda p, v: (3, 6) <= v < (3, 10))


def make_plugin(where: Path, runner: str = STUB_RUNNER) -> Path:
    """A copy of the plugin (launcher, lock, package) whose hook runner is `runner`."""
    root = where / "plugin root"
    (root / "bin").mkdir(parents=True)
    for name in ("ss-hook", "_run.py"):
        shutil.copy2(REPO / "bin" / name, root / "bin" / name)
    shutil.copy2(REPO / "requirements.lock", root / "requirements.lock")
    shutil.copytree(REPO / "src" / "session_state", root / "src" / "session_state",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "src" / "session_state" / "hooks" / "runner.py").write_text(runner)
    return root


def tool_dir(where: Path, *names: str) -> Path:
    """A PATH folder with links to the named real commands only."""
    folder = where / "tools"
    folder.mkdir(exist_ok=True)
    for name in names:
        os.symlink(shutil.which(name), folder / name)
    return folder


def link_dir(where: Path, name: str, links: dict[str, str]) -> Path:
    folder = where / name
    folder.mkdir()
    for link, target in links.items():
        os.symlink(target, folder / link)
    return folder


def run_hook(root: Path, data: Path, path_dirs: list[Path], event: str = "Stop", stdin: str = '{"x": 1}',
             cwd: Path | None = None, script: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": os.pathsep.join(str(d) for d in path_dirs), "HOME": str(data.parent),
           "CLAUDE_PLUGIN_DATA": str(data)}
    return subprocess.run([SH, script or str(root / "bin" / "ss-hook"), event], input=stdin, capture_output=True,
                          text=True, env=env, cwd=str(cwd or data.parent), timeout=60)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CLAUDE_PLUGIN_DATA for this process and its children."""
    folder = tmp_path / "plugin data"
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(folder))
    monkeypatch.delenv(envkey.LOCK_ENV, raising=False)
    return folder


def fake_ready(key: str, python: str, base: str) -> Path:
    """A `.ready` record as the provisioner writes it, for an env whose python is `python`."""
    env = layout.env_dir(key)
    env.mkdir(parents=True)
    info = {"v": layout.READY_VERSION, "key": key, "python": python, "base_executable": base, "created": time.time()}
    layout.ready_file(key).write_text(json.dumps(info))
    return env


# --- env key ---------------------------------------------------------------------------


def test_key_follows_lock_bytes_not_plugin_version(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = (REPO / "requirements.lock").read_bytes()
    key = envkey.env_key(lock)
    assert len(key) == envkey.KEY_LENGTH and layout.KEY_PATTERN.fullmatch(key)
    assert envkey.env_key(lock) == key
    assert envkey.env_key(lock + b"\n") != key
    assert envkey.env_key(lock.replace(b"orjson==3.13.0", b"orjson==3.13.1")) != key
    monkeypatch.setattr(session_state, "__version__", "99.0.0")
    assert envkey.env_key(lock) == key


def test_key_follows_interpreter_tag() -> None:
    lock = b"toons==0.9.0\n"
    tag = envkey.interpreter_tag()
    assert tag[1] == "%d.%d" % sys.version_info[:2]
    other_minor = (tag[0], "3.99") + tag[2:]
    other_abi = tag[:4] + (".cpython-311t-x86_64-linux-gnu.so",)
    keys = {envkey.env_key(lock, tag), envkey.env_key(lock, other_minor), envkey.env_key(lock, other_abi)}
    assert len(keys) == 3


def _key_in(python: str) -> str:
    code = "import sys; from session_state.bootstrap import envkey; print(envkey.env_key(sys.stdin.buffer.read()))"
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": os.environ.get("PATH", "")}
    out = subprocess.run([python, "-c", code], input=(REPO / "requirements.lock").read_bytes(),
                         capture_output=True, env=env, timeout=30, check=True)
    return out.stdout.decode().strip()


def test_key_same_for_other_patch_level_different_for_other_minor() -> None:
    here = sys.version_info[:3]
    own = envkey.env_key((REPO / "requirements.lock").read_bytes())
    assert _key_in(sys.executable) == own
    other_minor = find_python(lambda p, v: v >= (3, 10) and v[:2] != here[:2])
    assert _key_in(other_minor) != own
    same_minor = [p for p in interpreters() if (version_of(p) or ())[:2] == here[:2] and version_of(p) != here]
    if same_minor:  # e.g. Debian's 3.11.2 beside pyenv's 3.11.7: same ABI, same env
        assert _key_in(same_minor[0]) == own


@pytest.mark.parametrize("size", [0, 1, 255, 256, 550, 70_000])
def test_pointer_name_matches_posix_cksum(tmp_path: Path, size: int) -> None:
    data = os.urandom(size) if size != 550 else (REPO / "requirements.lock").read_bytes()
    sample = tmp_path / "sample"
    sample.write_bytes(data)
    with open(sample, "rb") as handle:
        out = subprocess.run(["cksum"], stdin=handle, capture_output=True, text=True, check=True)
    crc, length = out.stdout.split()[:2]
    assert envkey.pointer_name(data) == "cksum-%s-%s" % (crc, length)


# --- launch -----------------------------------------------------------------------------


def test_ready_python_requires_a_valid_marker(data: Path, tmp_path: Path) -> None:
    key = envkey.env_key(envkey.read_lock())
    assert launch.ready_python() is None
    base = tmp_path / "base-python"
    base.write_text("")
    env_python = tmp_path / "env-python"
    env_python.write_text("")
    fake_ready(key, str(env_python), str(base))
    assert launch.ready_python() == str(env_python)

    base.unlink()  # the interpreter the venv was made from is gone: the venv cannot start
    assert launch.ready_python() is None
    base.write_text("")
    env_python.unlink()
    assert launch.ready_python() is None
    env_python.write_text("")
    info = json.loads(layout.ready_file(key).read_text())
    layout.ready_file(key).write_text(json.dumps(dict(info, key="0" * 16)))
    assert launch.ready_python() is None
    layout.ready_file(key).write_text('{"v": 1, "key": "' + key + '", "python": ')  # torn
    assert launch.ready_python() is None


def test_deps_importable_here_and_not_in_a_bare_python(bare_python: str) -> None:
    assert launch.deps_importable()
    code = "import sys; sys.path.insert(0, sys.argv[1]); from session_state.bootstrap import launch; print(launch.deps_importable())"
    out = subprocess.run([bare_python, "-I", "-c", code, str(REPO / "src")], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr


def test_start_provisioning_reports_ready_without_starting_anything(data: Path) -> None:
    key = envkey.env_key(envkey.read_lock())
    fake_ready(key, sys.executable, sys.executable)
    assert launch.start_provisioning() == "ready"
    assert not layout.provision_log().exists()
    assert launch.notice("ready") is None


def test_start_provisioning_respects_backoff(data: Path) -> None:
    key = envkey.env_key(envkey.read_lock())
    attempts = backoff.record_start(key)
    backoff.record_failure(key, attempts, "install", 1, "ERROR: boom")
    assert launch.start_provisioning() == "backoff"
    assert not layout.provision_log().exists()  # nothing was started
    assert not layout.env_dir(key).exists()
    text = launch.notice("backoff")
    assert "install" in text and "doctor" in text
    state = launch.status()
    assert state["last_failure"]["phase"] == "install" and state["attempts"] == 1
    assert 250 < state["retry_in_s"] <= 300 and not state["ready"]


def test_start_provisioning_does_not_restart_one_that_just_started(data: Path) -> None:
    layout.envs_dir().mkdir(parents=True)
    layout.spawn_stamp().write_bytes(b"")  # started a moment ago, lock not taken (yet, or died)
    assert launch.start_provisioning() == "throttled"
    assert not layout.provision_log().exists()
    assert "background" in launch.notice("throttled")


def _holder(src: Path, lock: Path) -> subprocess.Popen:
    """A real process that holds the provisioning lock until its stdin closes."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "from session_state.bootstrap import oslock; held = oslock.try_lock(Path(sys.argv[2])); "
            "print(held is not None, flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(src), str(lock)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "True"
    return proc


def test_start_provisioning_sees_a_running_provisioner(data: Path) -> None:
    layout.envs_dir().mkdir(parents=True)
    holder = _holder(REPO / "src", layout.lock_file())
    try:
        assert launch.start_provisioning() == "running"
        assert launch.status()["running"] is True
        assert "background" in launch.notice("running")
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_exclusive_and_released_when_its_holder_dies(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    holder = _holder(REPO / "src", lock)
    try:
        assert oslock.try_lock(lock) is None
        assert oslock.is_held(lock)
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the lock
        holder.wait()
    held = oslock.try_lock(lock)
    assert held is not None
    with held:
        assert oslock.try_lock(lock) is None  # a second open file description conflicts too
    assert not oslock.is_held(lock)


# --- backoff and steps ------------------------------------------------------------------


def test_backoff_schedule() -> None:
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 10)] == [300, 3600, 86400, 86400, 86400]
    assert backoff.delay(1, signaled=True) == 86400


def test_backoff_record_counts_attempts_per_key(data: Path) -> None:
    assert backoff.record_start("a" * 16) == 1
    assert 290 < backoff.remaining("a" * 16) <= 300
    assert backoff.record_start("a" * 16) == 2
    assert 3590 < backoff.remaining("a" * 16) <= 3600
    assert backoff.remaining("b" * 16) == 0  # another lock file is tried at once
    assert backoff.record_start("b" * 16) == 1
    backoff.clear("b" * 16)
    assert backoff.load("b" * 16) is None and not layout.state_file().exists()


def test_step_killed_by_signal_is_marked_signaled(data: Path) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    with pytest.raises(build.StepError) as info:
        build.run_step("install", [sys.executable, "-c", code], 30, build.clean_env())
    assert info.value.signaled and info.value.rc == -9


@pytest.mark.slow
def test_step_timeout_kills_the_whole_process_group(data: Path, tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "open(sys.argv[1], 'w').write(str(p.pid)); time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(build.StepError) as info:
        build.run_step("install", [sys.executable, "-c", code, str(marker)], 1.0, build.clean_env())
    assert time.monotonic() - started < 10
    assert "timed out" in info.value.output and not info.value.signaled
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("pip's children would survive a timeout")


def test_clean_env_drops_what_redirects_python_and_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PYTHONHOME", "PYTHONPATH", "PIP_USER", "PIP_TARGET", "VIRTUAL_ENV"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    env = build.clean_env(tmp_path)
    assert not {"PYTHONHOME", "PYTHONPATH", "PIP_USER", "PIP_TARGET"} & set(env)
    assert env["VIRTUAL_ENV"] == str(tmp_path)
    assert env["PIP_INDEX_URL"] == "https://mirror.example/simple"  # the user's mirror is kept
    assert env["PYTHONUTF8"] == env["PIP_DISABLE_PIP_VERSION_CHECK"] == env["PIP_NO_INPUT"] == "1"


def plant(project: Path, *modules: str) -> Path:
    """A project folder whose `modules` (`venv`, `pip`, `session_state`) each record that they ran."""
    ran = project / "planted modules that ran"
    ran.mkdir(parents=True)
    for name in modules:
        (project / name).mkdir()
        (project / name / "__init__.py").write_text(f"open({str(ran / name)!r}, 'w').close()\n")
        (project / name / "__main__.py").write_text("")  # `python -m <name>` then succeeds silently
    return ran


def test_steps_run_in_the_data_root_not_the_current_folder(data: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m venv` puts its current folder first on sys.path: a step started from a project
    (`doctor --retry-env`) would run the project's venv package. Steps run in the data root."""
    ran = plant(tmp_path / "project", "venv")
    monkeypatch.chdir(tmp_path / "project")
    env = tmp_path / "env"
    build.run_step("venv", [sys.executable, "-m", "venv", "--without-pip", str(env)], 120, build.clean_env())
    assert sorted(p.name for p in ran.iterdir()) == []
    assert layout.env_python(env).exists()
    here = build.run_step("cwd", [sys.executable, "-I", "-c", "import os; print(os.getcwd())"], 30, build.clean_env())
    assert here.strip() == str(layout.data_root()) and data.is_dir()


def test_backlog_fold_runs_the_plugins_package_not_the_current_folders(data: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """After a build started from a project, the backlog fold imports session_state from the plugin."""
    from session_state.bootstrap import provision
    from session_state.core import backlog

    ran = plant(tmp_path / "project", "session_state")
    monkeypatch.chdir(tmp_path / "project")
    backlog.note(tmp_path / "project gone", "s1", None)  # a note the fold forgets: its project is gone
    assert [record["session_id"] for _, record in backlog.pending()] == ["s1"]
    provision.fold_backlog(sys.executable)
    assert sorted(p.name for p in ran.iterdir()) == []
    assert backlog.pending() == []


def test_verify_imports_every_dependency_with_the_envs_own_python(data: Path, tmp_path: Path, bare_python: str) -> None:
    """The build's proof: the env's python imports each package (compiled parts included)."""
    build.verify(Path(sys.prefix))  # this venv has them all
    lacking = tmp_path / "env"
    layout.env_python(lacking).parent.mkdir(parents=True)
    layout.env_python(lacking).symlink_to(bare_python)
    with pytest.raises(build.StepError) as info:
        build.verify(lacking)
    assert info.value.phase == "verify" and "ModuleNotFoundError" in info.value.output


# --- bin/_run.py ------------------------------------------------------------------------


def test_run_py_parses_as_python_38() -> None:
    """bin/_run.py is the one file an old interpreter reads: it must reach its version check.

    Every other entry (bin/ss-hook, bin/session-state, the detached provisioner) goes through
    it, so the rest of the code may use the syntax of the Python it requires.
    """
    ast.parse((REPO / "bin/_run.py").read_text(), filename="bin/_run.py", feature_version=(3, 8))


def test_run_py_imports_from_its_own_root_and_calls_the_runner(tmp_path: Path) -> None:
    root = make_plugin(tmp_path)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO / "src"), "CLAUDE_PLUGIN_DATA": str(tmp_path / "d")}
    out = subprocess.run([sys.executable, "-I", "-X", "utf8", str(root / "bin" / "_run.py"), "PreCompact"],
                         input="payload", capture_output=True, text=True, cwd=elsewhere, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["event"] == "PreCompact" and seen["stdin"] == "payload"
    assert seen["package"].startswith(str(root / "src")), "PYTHONPATH or cwd won over the plugin's own src"


def test_run_py_fails_open_when_the_runner_cannot_load(tmp_path: Path) -> None:
    root = make_plugin(tmp_path, runner="raise ImportError('half-updated plugin')\n")
    data = tmp_path / "d"
    out = subprocess.run([sys.executable, "-I", str(root / "bin" / "_run.py"), "Stop"], input="{}",
                         capture_output=True, text=True, env={"CLAUDE_PLUGIN_DATA": str(data)}, timeout=30)
    assert out.returncode == 0 and out.stdout == ""
    assert "cannot load the hook runner" in out.stderr and str(data) in out.stderr
    assert "half-updated plugin" in (data / "logs" / "session-state.log").read_text()


def test_run_py_refuses_an_old_python_quietly(tmp_path: Path, old_python: str) -> None:
    root = make_plugin(tmp_path)
    out = subprocess.run([old_python, "-I", str(root / "bin" / "_run.py"), "Stop"], input="{}",
                         capture_output=True, text=True, env={"CLAUDE_PLUGIN_DATA": str(tmp_path / "d")}, timeout=30)
    assert out.returncode == 0 and out.stdout == ""
    assert "too old" in out.stderr


# --- bin/ss-hook ------------------------------------------------------------------------


def test_ss_hook_runs_a_probed_python_without_the_dependencies(tmp_path: Path, bare_python: str) -> None:
    root = make_plugin(tmp_path)
    pydir = link_dir(tmp_path, "py", {"python3": bare_python})
    out = run_hook(root, tmp_path / "data", [tool_dir(tmp_path, "cksum"), pydir], event="SessionStart")
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["exe"] == str(pydir / "python3")
    assert seen["event"] == "SessionStart" and seen["stdin"] == '{"x": 1}'
    assert seen["isolated"] == 1 and seen["utf8"] == 1 and seen["PYTHONUTF8"] == "1"
    assert seen["package"].startswith(str(root / "src"))


def test_ss_hook_remembers_the_probed_python(tmp_path: Path, bare_python: str) -> None:
    root = make_plugin(tmp_path)
    data = tmp_path / "data"
    pydir = link_dir(tmp_path, "py", {"python3": bare_python})
    tools = tool_dir(tmp_path, "cksum", "mkdir", "mv", "date")
    assert json.loads(run_hook(root, data, [tools, pydir]).stdout)["exe"] == str(pydir / "python3")
    assert (data / "envs" / "probed-python").read_text() == str(pydir / "python3") + "\n"
    assert [p.name for p in (data / "envs").iterdir()] == ["probed-python"]  # no temp file left

    out = run_hook(root, data, [tools])  # PATH has no python now: the remembered one runs
    assert json.loads(out.stdout)["exe"] == str(pydir / "python3")

    (pydir / "python3").unlink()  # it went away: probe again, find nothing, stay silent
    out = run_hook(root, data, [tools])
    assert (out.returncode, out.stdout) == (0, "")


def test_ss_hook_prefers_a_versioned_python_and_skips_old_ones(tmp_path: Path, bare_python: str,
                                                                old_python: str) -> None:
    root = make_plugin(tmp_path)
    minor = "python%d.%d" % version_of(bare_python)[:2]
    pydir = link_dir(tmp_path, "py", {"python3": old_python, minor: bare_python})
    out = run_hook(root, tmp_path / "data", [pydir])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["exe"] == str(pydir / minor)


def test_ss_hook_fast_path_execs_the_published_env_python(tmp_path: Path, bare_python: str) -> None:
    root = make_plugin(tmp_path)
    data = tmp_path / "data"
    pointer = data / "envs" / "by-lock" / envkey.pointer_name((root / "requirements.lock").read_bytes())
    pointer.parent.mkdir(parents=True)
    pointer.write_text(bare_python + "\n")
    out = run_hook(root, data, [tool_dir(tmp_path, "cksum")])  # no python on PATH at all
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["exe"] == bare_python and seen["isolated"] == 1 and seen["utf8"] == 1

    pointer.write_text(str(tmp_path / "removed-env" / "bin" / "python") + "\n")  # env deleted since
    pydir = link_dir(tmp_path, "py", {"python3": bare_python})
    out = run_hook(root, data, [tool_dir(tmp_path), pydir])
    assert json.loads(out.stdout)["exe"] == str(pydir / "python3")


def test_ss_hook_works_when_called_by_a_relative_path_with_spaces(tmp_path: Path, bare_python: str) -> None:
    root = make_plugin(tmp_path)
    assert " " in str(root)
    pydir = link_dir(tmp_path, "py", {"python3": bare_python})
    out = run_hook(root, tmp_path / "data dir", [pydir], cwd=root, script="bin/ss-hook")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["event"] == "Stop"


def test_ss_hook_without_a_usable_python_exits_0_silently(tmp_path: Path) -> None:
    root = make_plugin(tmp_path)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\necho 'Python 3.8.10'\n")
    (fake / "python3").chmod(0o755)
    data = tmp_path / "data"

    out = run_hook(root, data, [fake])  # not even mkdir or date on PATH
    assert (out.returncode, out.stdout) == (0, "")

    out = run_hook(root, data, [fake, tool_dir(tmp_path, "cksum", "mkdir", "date")], event="UserPromptSubmit")
    assert (out.returncode, out.stdout) == (0, "")
    log = (data / "logs" / "session-state.log").read_text()
    assert "no Python 3.10 or newer on PATH; UserPromptSubmit hook skipped" in log
    assert oct((data / "logs").stat().st_mode & 0o777) == "0o700"


def test_ss_hook_with_only_an_old_real_python_exits_0_silently(tmp_path: Path, old_python: str) -> None:
    root = make_plugin(tmp_path)
    pydir = link_dir(tmp_path, "py", {"python3": old_python, "python": old_python})
    out = run_hook(root, tmp_path / "data", [pydir, tool_dir(tmp_path, "cksum", "mkdir", "date")])
    assert (out.returncode, out.stdout) == (0, "")
    assert "hook skipped" in (tmp_path / "data" / "logs" / "session-state.log").read_text()


# The launcher is sh and spells its names itself; paths owns them for everything in Python.
SS_HOOK = (REPO / "bin" / "ss-hook").read_text()


def test_ss_hook_spells_exactly_the_data_root_names_paths_owns() -> None:
    """Every path ss-hook builds under the data root or the plugin root is one that `paths`
    names, and each name paths gives it is used: renaming either side alone fails here."""
    under_data = set(re.findall(r'"\$data/([^"\s]+)"', SS_HOOK))
    assert under_data == {
        paths.ENVS,  # mkdir before it remembers the probed python
        f"{paths.ENVS}/{paths.POINTERS}/{paths.POINTER_PREFIX}$crc-$size",
        f"{paths.ENVS}/{paths.PROBED_PYTHON}",
        paths.LOGS,
        f"{paths.LOGS}/{paths.LOG}",
    }
    assert set(re.findall(r'"\$bin/\.\./([^"\s]+)"', SS_HOOK)) == {paths.REQUIREMENTS_LOCK}
    # the names the provisioner writes are the ones ss-hook reads
    assert envkey.pointer_name(b"x").startswith(paths.POINTER_PREFIX)
    assert layout.pointers_dir() == layout.data_root() / paths.ENVS / paths.POINTERS
    assert paths.log_file() == paths.data_root() / paths.LOGS / paths.LOG
    assert paths.requirements_lock() == paths.plugin_root() / paths.REQUIREMENTS_LOCK


@pytest.mark.parametrize("env", [
    {"CLAUDE_PLUGIN_DATA": "/given/data", "XDG_DATA_HOME": "/xdg"},
    {"XDG_DATA_HOME": "/xdg"},
    {"CLAUDE_PLUGIN_DATA": "", "XDG_DATA_HOME": ""},
    {},
], ids=["plugin-data", "xdg", "empty", "neither"])
def test_ss_hook_and_paths_agree_on_the_data_root(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """ss-hook's own `data=` line, run by sh, names the folder `paths.data_root()` names."""
    line = re.search(r"^data=.*$", SS_HOOK, re.MULTILINE)
    assert line is not None
    full = {"HOME": str(tmp_path), **env}
    out = subprocess.run([SH, "-c", line.group(0) + '\nprintf %s "$data"'], capture_output=True, text=True,
                         env=full, timeout=20)
    for name in ("CLAUDE_PLUGIN_DATA", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in full.items():
        monkeypatch.setenv(name, value)
    assert out.returncode == 0, out.stderr
    assert out.stdout == str(paths.data_root())

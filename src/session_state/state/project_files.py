"""Project-level TOON files: decisions, what the repository is, and the active workflow.

These outlive sessions: decisions recorded in one session are in every later handoff of
the project, and `session-context.toon` tells a fresh session the stack and conventions
without re-reading the repository. All three are small and readable by the model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from session_state.core import fsutil, journal, paths
from session_state.state import store
from session_state.state.models import Decision, DecisionBy, DecisionLog, SessionState

KEEP_DECISIONS = 200


def decisions(root: Path) -> list[Decision]:
    """The project's decisions, oldest first; an unusable file yields none and is set aside
    (once, with a notice), so the next `decide` starts a valid file instead of failing on it."""
    try:
        data = store.read_toon(root / paths.DECISIONS)
    except store.CorruptFile:
        return []
    except OSError:
        return []
    if not data:
        return []
    try:
        return DecisionLog.model_validate(data).decisions
    except ValueError:
        store.set_aside(root / paths.DECISIONS, "did not validate")
        return []


def decide(root: Path, choice: str, why: str, *, session_id: str | None, by: DecisionBy = "model") -> Decision:
    """Record a decision (read-modify-write under the project lock)."""
    from session_state.state.redactor import capped

    choice, why = capped(choice.strip(), 2000), capped(why.strip(), 2000)
    now = journal.now_iso()
    digest = hashlib.sha256(f"{now}{choice}{why}".encode()).hexdigest()[:10]
    decision = Decision(id=f"d-{digest}", ts=now, choice=choice, why=why, session_id=session_id, by=by)
    with store.locked(root):
        try:
            data = store.read_toon(root / paths.DECISIONS)
            log = DecisionLog.model_validate(data) if data else DecisionLog()
        except store.CorruptFile:  # already set aside, logged and noticed
            log = DecisionLog()
        except ValueError:
            store.set_aside(root / paths.DECISIONS, "did not validate")
            log = DecisionLog()
        log.decisions.append(decision)
        del log.decisions[:-KEEP_DECISIONS]
        store.write_toon(root / paths.DECISIONS, log.model_dump(mode="json"))
    return decision


_MARKERS: list[tuple[str, str, str]] = [
    # (file, key, value)
    ("pyproject.toml", "languages", "Python"),
    ("setup.py", "languages", "Python"),
    ("requirements.txt", "languages", "Python"),
    ("package.json", "languages", "JavaScript/TypeScript"),
    ("tsconfig.json", "languages", "TypeScript"),
    ("Cargo.toml", "languages", "Rust"),
    ("go.mod", "languages", "Go"),
    ("pom.xml", "languages", "Java"),
    ("build.gradle", "languages", "Java/Kotlin"),
    ("Gemfile", "languages", "Ruby"),
    ("composer.json", "languages", "PHP"),
    ("uv.lock", "package_manager", "uv"),
    ("poetry.lock", "package_manager", "poetry"),
    ("Pipfile.lock", "package_manager", "pipenv"),
    ("pnpm-lock.yaml", "package_manager", "pnpm"),
    ("yarn.lock", "package_manager", "yarn"),
    ("package-lock.json", "package_manager", "npm"),
    ("bun.lockb", "package_manager", "bun"),
    ("Cargo.lock", "package_manager", "cargo"),
    ("pytest.ini", "test_runner", "pytest"),
    ("tox.ini", "test_runner", "tox"),
    ("jest.config.js", "test_runner", "jest"),
    ("vitest.config.ts", "test_runner", "vitest"),
    ("Makefile", "build", "make"),
    ("CLAUDE.md", "conventions", "CLAUDE.md"),
    (".editorconfig", "conventions", ".editorconfig"),
    (".pre-commit-config.yaml", "conventions", "pre-commit"),
    ("ruff.toml", "conventions", "ruff"),
]


def detect(project_dir: Path) -> dict[str, Any]:
    """What can be read from the repository's top-level files, without running anything."""
    found: dict[str, list[str]] = {}
    try:
        names = set(os.listdir(project_dir))
    except OSError:
        names = set()
    for file, key, value in _MARKERS:
        if file in names and value not in found.setdefault(key, []):
            found[key].append(value)
    if "pyproject.toml" in names:
        text = _small_file(project_dir / "pyproject.toml").decode("utf-8", "replace")
        if "[tool.pytest" in text and "pytest" not in found.setdefault("test_runner", []):
            found["test_runner"].append("pytest")
        if "[tool.ruff" in text and "ruff" not in found.setdefault("conventions", []):
            found["conventions"].append("ruff")
    if "package.json" in names:
        try:
            scripts = json.loads(_small_file(project_dir / "package.json")).get("scripts") or {}
        except (ValueError, AttributeError):
            scripts = {}
        if isinstance(scripts, dict) and "test" in scripts:
            from session_state.state import redactor

            found.setdefault("test_runner", []).append(f"npm test ({redactor.capped(str(scripts['test']), 60)})")
    return {
        "project": project_dir.name,
        "path": str(project_dir),
        "languages": found.get("languages", []),
        "package_manager": found.get("package_manager", []),
        "test_runner": found.get("test_runner", []),
        "build": found.get("build", []),
        "conventions": found.get("conventions", []),
        "git": (project_dir / ".git").exists(),
    }


def _small_file(path: Path) -> bytes:
    """A repository file's first 200 KB, b"" unless it is a regular file: a link is not followed
    (the repository does not choose what is read) and a FIFO cannot block SessionStart."""
    try:
        return fsutil.read_bytes(path, limit=200_000) or b""
    except OSError:  # ELOOP: a symlink
        return b""


def write_context(root: Path, project_dir: Path) -> None:
    data = detect(project_dir)
    data["updated"] = journal.now_iso()
    try:
        current = store.read_toon(root / paths.CONTEXT)
    except store.CorruptFile:  # set aside with a notice: written afresh below
        current = None
    if isinstance(current, dict) and {k: v for k, v in current.items() if k != "updated"} == {
        k: v for k, v in data.items() if k != "updated"
    }:
        return
    store.write_toon(root / paths.CONTEXT, data)


def write_workflow(root: Path, state: SessionState) -> None:
    """The active task list as phases with status, for whoever picks the work up next."""
    phases = [
        {"phase": t.subject, "status": t.status, "id": t.id, "source": t.source} for t in state.tasks
    ]
    done = sum(1 for t in state.tasks if t.status == "completed")
    data = {
        "session_id": state.session_id,
        "updated": state.updated,
        "progress": f"{done}/{len(state.tasks)} completed",
        "phases": phases,
    }
    store.write_toon(root / paths.WORKFLOW, data)

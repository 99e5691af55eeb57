"""Shared fixtures: a sandboxed project in which the real hook entrypoint runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hookrun import Sandbox  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"

# Fixtures that run the real hooks over a whole bundled session before the test starts (about
# 1.5 s of CPU each, measured): a test that uses one belongs to the `slow` tier, wherever it is.
HOOK_WRITTEN_PROJECT_FIXTURES = frozenset({"fresh", "shared"})


def _default_selection(config: pytest.Config) -> str | None:
    """The -m expression pyproject.toml's addopts gives plain `pytest` (the fast suite)."""
    addopts = list(config.getini("addopts"))
    return addopts[addopts.index("-m") + 1] if "-m" in addopts[:-1] else None


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (in addopts) spreads only the fast suite over the cores. Any other selection
    runs one test at a time: those tiers time real hooks against Claude Code's timeouts, race
    locks and kill processes, and a worker of their own killed once hung a parallel run."""
    return None if config.getoption("markexpr") == _default_selection(config) else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that build a hook-written project `slow`, so plain `pytest` leaves them out."""
    for item in items:
        if HOOK_WRITTEN_PROJECT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def shared_or_skip(*parts: str) -> Path:
    """A path in ../shared, or a skip that says why (a fresh clone has no ../shared)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present (the wider corpus lives in ../shared beside the repository)")
    return path

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

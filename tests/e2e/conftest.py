"""Fixtures for the end-to-end tests: the real Claude Code CLI against tests/e2e/fakeapi.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakeapi import FakeAPI
from harness import CLAUDE_VERSION, ClaudeEnv, ci_cache_dir, claude_version, find_claude_bin

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The CLI binary; the e2e tests skip (loudly) only when it cannot be had."""
    b = find_claude_bin()
    if b is None:
        pytest.skip(
            f"Claude Code {CLAUDE_VERSION} not found: set SESSION_STATE_CLAUDE_BIN or run "
            f"`npm install --prefix {ci_cache_dir()} @anthropic-ai/claude-code@{CLAUDE_VERSION}` "
            "(bash .ci/run does this)")
    v = claude_version(b)
    assert v.startswith(CLAUDE_VERSION), f"{b} is {v!r}, the e2e tests are written against {CLAUDE_VERSION}"
    return b


@pytest.fixture
def fake_api():
    api = FakeAPI().start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def claude_env(tmp_path, fake_api, claude_bin) -> ClaudeEnv:
    return ClaudeEnv(tmp_path, fake_api, claude_bin)


def pytest_report_header(config):
    b = find_claude_bin()
    return f"session-state e2e: claude={b or 'MISSING'} (SESSION_STATE_CLAUDE_BIN={os.environ.get('SESSION_STATE_CLAUDE_BIN', '')})"


_NOTES: list[str] = []


@pytest.fixture(scope="session")
def e2e_notes() -> list[str]:
    """Lines printed in pytest's terminal summary (timings, where the logs are)."""
    return _NOTES


def pytest_terminal_summary(terminalreporter):
    if _NOTES:
        terminalreporter.section("session-state e2e")
        for line in _NOTES:
            terminalreporter.write_line(line)

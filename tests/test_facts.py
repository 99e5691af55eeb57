"""The journal's fact protocol: every kind a producer emits is declared, handled and documented.

The producers are found in the source (an AST walk of src/session_state), not in a hand-kept list,
so a new `journal.record(...)` or transcript fact without a declaration and a handler fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from session_state.core import facts
from session_state.state import fold as state

SRC = Path(__file__).resolve().parents[1] / "src" / "session_state"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"


def _kind_arguments() -> list[tuple[str, ast.expr]]:
    """(where, expression) of the kind at every place a fact is produced.

    Producers: `journal.record(dir, KIND, ...)`, the transcript reader's `self._emit(KIND, ...)`,
    `facts.make(KIND, ...)`, and the `(KIND, id, fields)` tuples handed to `refresh.materialize`.
    """
    found: list[tuple[str, ast.expr]] = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "facts.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(SRC))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                name = node.func.attr
                if name == "record" and isinstance(owner, ast.Name) and owner.id == "journal" and len(node.args) > 1:
                    found.append((f"{where}:{node.lineno}", node.args[1]))
                elif name == "_emit" and node.args:
                    found.append((f"{where}:{node.lineno}", node.args[0]))
                elif name == "make" and isinstance(owner, ast.Name) and owner.id == "facts" and node.args:
                    found.append((f"{where}:{node.lineno}", node.args[0]))
            elif isinstance(node, ast.Tuple) and len(node.elts) == 3 and _is_facts_constant(node.elts[0]):
                found.append((f"{where}:{node.lineno}", node.elts[0]))
    return found


def _is_facts_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "facts" \
        and node.attr.isupper()


def _produced() -> dict[str, str]:
    """Kind -> first place it is produced; forwarders (a parameter named `kind`) are followed by their callers."""
    produced: dict[str, str] = {}
    for where, expr in _kind_arguments():
        if isinstance(expr, ast.Name):
            continue  # journal.record/_emit/refresh forwarding their own `kind` argument
        assert _is_facts_constant(expr), f"{where}: a fact kind must be a facts.NAME declaration, not {ast.unparse(expr)}"
        assert isinstance(expr, ast.Attribute)
        value = getattr(facts, expr.attr, None)
        assert isinstance(value, str), f"{where}: facts.{expr.attr} is not a declared kind"
        produced.setdefault(value, where)
    return produced


def test_every_produced_kind_is_declared_and_handled_and_every_declared_kind_is_produced() -> None:
    produced = _produced()
    assert len(produced) >= 10, f"the AST walk found too few producers to be right: {sorted(produced)}"
    undeclared = {k: w for k, w in produced.items() if k not in facts.KINDS}
    assert not undeclared, f"produced but not declared in facts.KINDS: {undeclared}"
    unhandled = {k: w for k, w in produced.items() if k not in state.HANDLERS}
    assert not unhandled, f"produced but without a handler in state.HANDLERS: {unhandled}"
    assert set(state.HANDLERS) == set(facts.KINDS)
    assert set(facts.KINDS) - set(produced) == set(), "declared kinds that nothing produces"
    for kind in facts.KINDS.values():
        assert set(kind.limits) <= set(kind.fields), f"{kind.name}: a limit for an undeclared field"


def test_no_fact_record_is_built_outside_facts_make() -> None:
    """A dict literal with a "k" key is a fact that skipped the declarations."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "facts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "k" for k in node.keys):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_make_rejects_an_undeclared_kind_or_field_and_names_them() -> None:
    with pytest.raises(ValueError, match="'novel' is not declared"):
        facts.make("novel", "x", None)
    with pytest.raises(ValueError, match=r"'cmd': field\(s\) exit_code not declared; accepted: command"):
        facts.make(facts.CMD, "x", None, command="ls", exit_code=1)


def test_make_cuts_text_fields_to_their_kind_limit() -> None:
    fact = facts.make(facts.CMD_FAILED, "x", "t", command="c" * 5000, error="e" * 5000)
    assert fact == {"k": "cmd_failed", "id": "x", "ts": "t", "command": "c" * facts.CMD_CHARS, "error": "e" * facts.ERROR_CHARS}
    assert facts.make(facts.PROMPT, "y", None, text="short")["text"] == "short"


def test_ids_of_transcript_lines_and_hook_events() -> None:
    assert facts.line_id("u-1", 40) == "u-1"
    assert facts.line_id("u-1", 40, 2) == "u-1:2"
    assert facts.line_id(None, 40, 2, "failed") == "@40:2:failed"
    assert facts.line_id("", 7) == "@7"
    assert facts.event_id("start", "clear", "2026-01-01T00:00:00Z") == "start:clear:2026-01-01T00:00:00Z"


def test_a_kind_from_a_newer_version_is_ignored_and_the_fold_goes_on(tmp_path: Path) -> None:
    current = state.new_state("s", tmp_path)
    changed = state.fold(current, [
        {"k": "from_a_newer_version", "id": "a", "ts": None, "anything": [1, 2]},
        facts.make(facts.PROMPT, "b", "2026-01-01T00:00:00Z", text="refactor the parser into small modules"),
    ])
    assert changed
    assert [r.text for r in current.requests] == ["refactor the parser into small modules"]
    assert "a" in current.seen_ids


def test_architecture_facts_table_lists_every_declared_kind() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("<!-- facts table -->"):text.index("<!-- /facts table -->")]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.*?) \|", section, re.M)
    assert [kind for kind, _ in rows] == list(facts.KINDS)
    for kind, fields in rows:
        assert re.findall(r"`(\w+)`", fields) == list(facts.KINDS[kind].fields), kind

"""Make text from the conversation or a file safe to emit: inert, visible, one line per item.

Stdlib only (hot tier). Whatever the plugin prints (injected context, the PreCompact prompt,
handoff.md, the terminal) carries items it did not write: task subjects, file paths, decisions,
requests, ids read back from files. Any of them can hold a newline that starts a forged
"## SYSTEM:" line, an ESC sequence that rewrites the terminal, or a right-to-left override that
shows text in another order than it is read. `line` turns one item into one visible line;
`block` is the last gate over a whole text the plugin composed (its own newlines stay).
"""

from __future__ import annotations

import re
from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What opens a Markdown block when it comes first on a line: a heading, a tag or HTML line, a
# quote, a table row; a list item or rule ("- ", "**", "1. "); a fence ("```", "~~~"); a setext
# underline ("=="). An item that starts with one gets a backslash before it.
_BLOCK_OPENER = re.compile(r"[#<>|]|[-*+=_](?:[ *+=_-]|$)|```|~~~|\d{1,9}[.)](?:\s|$)")


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    if code > 0xFFFF:  # as a JSON-style surrogate pair, so an escaped JSON text stays valid JSON
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _visible(ch: str) -> bool:
    """Printable, or a plain space of another width (U+00A0, U+3000: shown, not structural)."""
    return ch.isprintable() or (ch.isspace() and ord(ch) > 0x9F and ch not in "\u2028\u2029")


def escape(text: str, *, keep_newlines: bool = False) -> str:
    """Every control, format (bidi, zero-width, BOM), separator or unassigned character as an escape."""
    if text.isprintable():  # the common case: nothing to do, no per-character loop
        return text
    return "".join(
        ch if _visible(ch) or (keep_newlines and ch == "\n") else _escape(ch) for ch in text
    )


def line(value: Any, limit: int | None = None) -> str:
    """One item as one inert line: escaped, never able to open a heading or a tag line.

    `limit` clips the escaped result (with "…"), so an item cannot grow past its room by
    being escaped. Non-strings are shown with str().
    """
    text = escape(value if isinstance(value, str) else str(value))
    head = text.lstrip(" ")
    if _BLOCK_OPENER.match(head):
        cut = len(text) - len(head)
        text = f"{text[:cut]}\\{head}"
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def block(text: str) -> str:
    """A text the plugin composed: its own newlines stay, every other control/format character is escaped."""
    return escape(text, keep_newlines=True)


def data(value: Any) -> Any:
    """A copy of JSON-like data with every string (keys too) made an inert line, for a rendering
    (TOON, JSON) that will be shown to the model or a terminal."""
    if isinstance(value, str):
        return line(value)
    if isinstance(value, dict):
        return {line(k) if isinstance(k, str) else k: data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [data(item) for item in value]
    return value

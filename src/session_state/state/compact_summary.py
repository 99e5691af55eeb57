"""Claude Code's compaction summary, kept so the handoff after it can lead with what it dropped.

Full tier. Measured on 2.1.330 (tests/e2e/test_e2e_cli_facts.py): one compaction runs
PreCompact, then the compaction's own SubagentStop (agent_type "", `last_assistant_message` =
the summary), then SessionStart `compact`, then PostCompact (`compact_summary`). So the
SubagentStop saves the summary here for SessionStart to use, PostCompact saves it again from
the field made for it (recording which handoff items it holds), and PreCompact removes the
previous compaction's file so a SessionStart never reads a stale one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from session_state.core import journal, paths
from session_state.state import store
from session_state.state.models import CompactSummary, HandoffPackage, SummarySource

MAX_CHARS = 200_000
MIN_SHARE = 0.6  # of an item's words that must be in the summary for it to count as held
_WORD = re.compile(r"[a-z0-9_][a-z0-9_.\-/]{2,}")
# Words that say nothing about the work: an item is held only if its own terms are there.
STOP = frozenset(
    "the and for with that this from you your are was were have has had not but can will would should could "
    "what when where which who how why all any each into onto out over then than them they their there these "
    "those our its it's also just like make made use used using please let lets let's want need now get got "
    "one two some more most very been being does did done doing file files here about sure okay yes".split()
)


def words(text: str) -> list[str]:
    """The distinct content words (three or more characters, not in STOP), lowercased, in order."""
    found = (w.strip("./-") for w in _WORD.findall(text.lower()))
    return list(dict.fromkeys(w for w in found if len(w) >= 3 and w not in STOP))


def holds(summary: str, wanted: str, summary_words: set[str] | None = None) -> bool:
    """Whether the summary states `wanted`: most of its first 20 words appear in it."""
    want = words(wanted)[:20]
    if not want:
        return " ".join(wanted.split()).lower() in " ".join(summary.split()).lower()
    have = summary_words if summary_words is not None else set(words(summary))
    return sum(w in have for w in want) >= MIN_SHARE * len(want)


def coverage(pkg: HandoffPackage, summary: str) -> tuple[list[str], list[str]]:
    """(keys of the handoff items the summary holds, keys of those it lacks)."""
    from session_state.state import inject

    have = set(words(summary))
    covered: list[str] = []
    missing: list[str] = []
    for item in inject.items(pkg):
        held = item.match in summary if item.key.startswith("file:") else holds(summary, item.match, have)
        (covered if held else missing).append(item.key)
    return covered, missing


def save(session_dir: Path, text: str, source: SummarySource, pkg: HandoffPackage | None = None,
         redact_extra: Sequence[str] = ()) -> CompactSummary:
    """Keep the summary (redacted) and, given the handoff, which of its items the summary holds."""
    from session_state.state.redactor import capped

    text = capped(text, MAX_CHARS, redact_extra, session_dir)
    covered, missing = coverage(pkg, text) if pkg is not None else ([], [])
    record = CompactSummary(ts=journal.now_iso(), source=source, text=text, covered=covered, missing=missing)
    store.write_model(session_dir / paths.COMPACT_SUMMARY, record)
    return record


def load(session_dir: Path) -> CompactSummary | None:
    """This compaction's summary, when one was saved since the last PreCompact."""
    try:
        return store.read_model(session_dir / paths.COMPACT_SUMMARY, CompactSummary)
    except store.CorruptFile:
        return None


def forget(session_dir: Path) -> None:
    try:
        os.unlink(session_dir / paths.COMPACT_SUMMARY)
    except FileNotFoundError:
        pass


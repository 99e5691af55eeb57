"""report.collect: the report shows what the transcript reader computes, from one read of each file.

The report used to parse transcripts itself (its own main-chain rules, responses keyed on
message.id alone) and then read each file twice more. These tests hold it to the reader: the
series, compactions and totals equal the reader's own figures on real transcripts, the observer
changes nothing the reader computes, and every file is opened and read exactly once.
"""

from __future__ import annotations

import builtins
import copy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_state.core import budget, settings, transcript
from session_state.report import collect
from test_cli_support import FIXTURES, MAROT, WORKTREES
from test_transcript import asst, boundary, write

FIXTURE_TRANSCRIPTS = sorted((FIXTURES / "transcripts").glob("*/*.jsonl"))


def _defaults() -> dict[str, Any]:
    return copy.deepcopy(settings.DEFAULTS)


def _context(usage: dict[str, Any]) -> int:
    return usage["input"] + usage["cache_creation"] + usage["cache_read"]


def _assert_report_is_the_readers(path: Path) -> tuple[collect.ReportData, dict[str, Any]]:
    """The report of `path` against a separate plain read (no observer) of the same file."""
    data = collect.gather(str(path), _defaults())
    cursor, _ = transcript.update(None, path, facts=False)
    observed, _ = transcript.update(None, path, facts=False, observer=transcript.Observer())
    assert observed == cursor, f"{path.name}: an observer changed what the reader computes"
    figures = budget.compute(cursor, _defaults())
    name = path.name
    # token totals: the main file, its subagent files, all
    assert data.totals["main transcript"] == cursor["file_totals"], name
    subs = [s["file_totals"] for s in cursor["subagents"].values() if s["kind"] == "subagents"]
    assert data.totals["subagents"] == ({k: sum(s[k] for s in subs) for k in transcript.USAGE_KEYS} if subs else {}), name
    assert data.totals["all"] == figures["totals"], name
    # the series: one point per response the reader counts, its peak and its latest context
    if cursor["side_usage"] is None:  # every usage line of the file is on the main chain
        responses = sum(row[5] for model, row in cursor["file_models"].items() if model != "<synthetic>")
        assert len(data.points) == responses, name
    assert max((p.context for p in data.points), default=0) == cursor["max_context"], name
    if cursor["last_usage"] is None:
        assert data.points == [], name
    elif not cursor["compacted"]:
        assert data.points[-1].context == _context(cursor["last_usage"]) == figures["context_tokens"], name
    # compactions: as many as the reader saw, the latest as it recorded it
    assert len(data.compactions) == cursor["compactions"], name
    if data.compactions:
        last, seen = data.compactions[-1], cursor["last_compaction"]
        assert (last.trigger, last.pre_tokens, last.post_tokens) == (seen["trigger"], seen["pre_tokens"], seen["post_tokens"] or None), name
    # subagent runs: one per subagent file with a timestamp, its tokens the reader's
    tokens = {Path(key).stem: sum(s["file_totals"].values()) for key, s in cursor["subagents"].items()}
    assert all(run.tokens == tokens[run.name.removesuffix(" (compaction summary)")] for run in data.subagents), name
    return data, cursor


@pytest.mark.parametrize("path", FIXTURE_TRANSCRIPTS, ids=lambda p: p.parent.name)
def test_report_equals_the_reader_on_the_fixture_transcripts(path: Path) -> None:
    data, cursor = _assert_report_is_the_readers(path)
    expected = json.loads((FIXTURES / "transcripts" / "expected.json").read_text())["context_at_end"]
    at_end = {e["file"]: e["main_chain_context_tokens"] for e in expected}
    rel = f"{path.parent.name}/{path.name}"
    if at_end.get(rel) is not None and not cursor["compacted"]:  # as the corpus's own figures have it
        assert data.points[-1].context == at_end[rel]


@pytest.mark.corpus
def test_report_equals_the_reader_on_the_corpus() -> None:
    from conftest import shared_or_skip

    corpus = shared_or_skip("fixtures", "transcripts")
    expected = json.loads((corpus / "expected" / "context-at-end.json").read_text())
    at_end = {e["file"]: e["main_chain_context_tokens"] for e in expected if isinstance(e["file"], str)}
    paths = sorted(corpus.parent.glob("transcripts*/projects/*/*.jsonl"))  # with transcripts-more when present
    assert len(paths) >= 80
    checked = 0
    for path in paths:
        data, cursor = _assert_report_is_the_readers(path)
        want = at_end.get(str(path.relative_to(corpus))) if path.is_relative_to(corpus) else None
        if want is not None and not cursor["compacted"]:  # the context at end as the corpus's figures have it
            assert data.points[-1].context == want, path.name
            checked += 1
    assert checked >= 30


def test_responses_are_the_readers_responses(tmp_path: Path) -> None:
    """One point per (message.id, requestId), its largest context; none for what is not the main chain."""
    stamp = "2026-01-01T00:{:02d}:00Z".format  # by the minute
    path = write(
        tmp_path / "t.jsonl",
        asst(10, 1, 0, 1_000, mid="msg_a", rid="req_a", timestamp=stamp(1)),
        asst(10, 9, 0, 1_500, mid="msg_a", rid="req_a", timestamp=stamp(2)),  # same response, streamed on
        asst(10, 1, 0, 2_000, mid="msg_a", rid="req_b", timestamp=stamp(3)),  # a retried request: its own response
        asst(5, 1, 0, 9_000, side=True, timestamp=stamp(4)),
        asst(0, 0, 0, 0, model="<synthetic>", timestamp=stamp(5)),
        asst(7, 1, 0, 7, isApiErrorMessage=True, timestamp=stamp(6)),
        boundary(4_000, pre=2_010),
        asst(1, 1, 0, 3_000, mid="msg_c", requestId=None, timestamp=stamp(7)),  # no requestId: each line counts
        asst(1, 2, 0, 3_000, mid="msg_c", requestId=None, timestamp=stamp(8)),
    )
    data = collect.gather(str(path), _defaults())
    assert [p.context for p in data.points] == [1_510, 2_010, 3_001, 3_001]
    assert [(c.trigger, c.pre_tokens, c.post_tokens) for c in data.compactions] == [("auto", 2_010, 4_000)]
    assert data.totals["main transcript"]["cache_read_input_tokens"] == 1_500 + 2_000 + 9_000 + 7 + 2 * 3_000


class _Counted:
    """A real file object that tallies the bytes read through it."""

    def __init__(self, handle: Any, tally: list[int]) -> None:
        self._handle = handle
        self._tally = tally

    def readinto(self, buffer: Any) -> int:
        got = self._handle.readinto(buffer)
        self._tally[1] += got or 0
        return got

    def read(self, *args: Any) -> bytes:
        data = self._handle.read(*args)
        self._tally[1] += len(data)
        return data

    def readline(self, *args: Any) -> bytes:
        data = self._handle.readline(*args)
        self._tally[1] += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        for raw in self._handle:
            self._tally[1] += len(raw)
            yield raw

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@pytest.mark.parametrize("path", [MAROT, WORKTREES], ids=["marot", "worktrees"])
def test_each_transcript_file_is_opened_and_read_once(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = builtins.open
    seen: dict[str, list[int]] = {}  # transcript file -> [opens, bytes read]

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, *args, **kwargs)
        if not str(file).endswith(".jsonl"):
            return handle
        tally = seen.setdefault(str(Path(file).resolve()), [0, 0])
        tally[0] += 1
        return _Counted(handle, tally)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    data = collect.gather(str(path), _defaults())
    monkeypatch.undo()
    files = [path, *sorted((path.parent / path.stem / "subagents").glob("*.jsonl"))]
    assert len(files) > 2 and len(data.subagents) == len(files) - 1
    assert seen == {str(f.resolve()): [1, f.stat().st_size] for f in files}

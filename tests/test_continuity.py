"""State, checkpoints and handoff: retention under many triggers, the injection cap, recovery."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest
from conftest import shared_or_skip
from hookrun import Sandbox

from session_state.state import checkpoints, handoff, inject, project_files as project, materialize as refresh, fold as state
from session_state.core import paths, settings
from session_state.state.models import Checkpoint, Decision, FileTouch, Request, SessionState, Subagent, Task

TRIGGERS = int(os.environ.get("SESSION_STATE_RETENTION_TRIGGERS", "10000"))


def big_state(session_id: str = "s-big") -> SessionState:
    st = state.new_state(session_id, Path("/p"))
    st.requests = [Request(text=("please refactor the parser " * 40)[:600]) for _ in range(5)]
    st.tasks = [Task(id=str(i), subject=f"step {i}: " + "x" * 200, status="pending" if i % 3 else "completed") for i in range(120)]
    st.tasks[5].status = "in_progress"
    st.tasks[7].status = "blocked"
    st.files = [FileTouch(path=f"/p/src/module_{i}.py", reads=i, edits=i % 4) for i in range(60)]
    st.subagents = [Subagent(agent_id=f"a{i}", agent_type="Explore", last_message="m" * 500) for i in range(20)]
    st.last_assistant = "done " * 300
    return st


@pytest.mark.stress
def test_retention_holds_after_many_checkpoint_triggers(tmp_path: Path) -> None:
    """The acceptance figure: 10,000 triggers, the session's folder stays within count and size."""
    sdir = tmp_path / "sessions" / "s1"
    sdir.mkdir(parents=True)
    keep, cap = 15, 2_000_000
    cfg = {"checkpoints_keep": keep, "project_cap_bytes": cap, "archive_after_days": 7}
    st = state.new_state("s1", tmp_path)
    st.tasks = [Task(id="1", subject="t")]
    largest_live = 0
    for n in range(TRIGGERS):
        st.requests = [Request(text=f"request {n}")]
        checkpoints.take(sdir, st, "interval", cfg)
        live = checkpoints.names(sdir)
        assert len(live) <= keep
        if n % 500 == 499:
            checkpoints.prune(tmp_path, cfg)
        largest_live = max(largest_live, len(live))
    checkpoints.prune(tmp_path, cfg)
    live = checkpoints.names(sdir)
    total = sum(f.stat().st_size for f in (sdir / "checkpoints").rglob("*") if f.is_file())
    assert len(live) == keep and largest_live == keep
    assert total <= cap, total
    # the newest is the last trigger's, and validates
    latest = checkpoints.latest_valid(sdir)
    assert latest is not None and latest.state.requests[0].text == f"request {TRIGGERS - 1}"
    archived = sorted((sdir / "checkpoints" / "archive").glob("*.gz"))
    assert archived, "older checkpoints are archived compressed, not deleted first"
    Checkpoint.model_validate_json(gzip.decompress(archived[-1].read_bytes()))


def test_checkpoints_older_than_the_age_limit_are_archived(tmp_path: Path) -> None:
    sdir = tmp_path / "sessions" / "s1"
    sdir.mkdir(parents=True)
    cfg = {"checkpoints_keep": 50, "archive_after_days": 7, "project_cap_bytes": 10**9}
    st = state.new_state("s1", tmp_path)
    for _ in range(4):
        checkpoints.take(sdir, st, "interval", cfg)
    names = checkpoints.names(sdir)
    old = time.time() - 8 * 86400
    for name in names[1:]:
        os.utime(sdir / "checkpoints" / name, (old, old))
    dry = checkpoints.prune(tmp_path, cfg, dry_run=True)
    assert len(dry.archived) == 3 and checkpoints.names(sdir) == names  # dry run changes nothing
    report = checkpoints.prune(tmp_path, cfg)
    assert len(report.archived) == 3 and checkpoints.names(sdir) == names[:1]


def test_an_invalid_checkpoint_is_never_the_latest(tmp_path: Path) -> None:
    sdir = tmp_path / "s"
    sdir.mkdir()
    st = state.new_state("s", tmp_path)
    good = checkpoints.take(sdir, st, "a", settings.defaults())
    time.sleep(0.002)
    bad = checkpoints.take(sdir, st, "b", settings.defaults())
    (sdir / "checkpoints" / f"{bad.id}.json").write_text('{"id": "torn"')
    assert checkpoints.latest_valid(sdir).id == good.id


def test_injection_is_capped_and_drops_low_priority_fields_first(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sessions").mkdir(parents=True)
    for i in range(30):
        project.decide(root, f"use approach {i}", "because " + "r" * 150, session_id="s-big")
    pkg = handoff.build(big_state(), root, settings.defaults())
    full = tmp_path / "handoff.toon"
    whole = inject.render(pkg, full, 100_000, heading="session-state handoff:")
    assert "module_59" in whole and "m" * 150 in whole  # uncut: files and subagent findings are there
    text = inject.render(pkg, full, 4000, heading="session-state handoff:")
    assert len(text) <= 4000
    assert text.endswith(inject.footer(pkg.session_context.session_id, full))
    assert "lower-priority items left out here" in text
    assert pkg.task_context.next_step[:100] in text
    assert "blocked: step 7" in text  # blockers are kept
    assert "use approach 29" in text  # the latest decisions are kept
    assert "module_59" not in text and "m" * 150 not in text  # files and subagents were cut before them


def test_handoff_validation_names_the_bad_field(tmp_path: Path) -> None:
    sdir = tmp_path / "s"
    sdir.mkdir()
    pkg = handoff.build(big_state("s"), tmp_path, settings.defaults())
    handoff.write(sdir, pkg)
    assert handoff.read(sdir) == pkg
    text = (sdir / paths.HANDOFF).read_text().replace("next_step:", "nxt_step:")
    (sdir / paths.HANDOFF).write_text(text)
    with pytest.raises(ValueError) as err:
        handoff.read(sdir)
    assert "next_step" in str(err.value)


def test_low_available_tokens_is_flagged(tmp_path: Path) -> None:
    from session_state.state.models import Budget

    st = big_state("s")
    st.budget = Budget(context_tokens=180_000, context_window=200_000, percent=90.0, level="critical", tokens_to_autocompact=0)
    pkg = handoff.build(st, tmp_path, settings.defaults())
    assert "low_available_tokens" in pkg.flags and pkg.session_context.available_tokens == 0
    assert any("critical" in c for c in pkg.task_context.constraints)


def test_largest_corpus_session_injection_fits_and_names_its_file(sandbox: Sandbox) -> None:
    corpus = shared_or_skip("fixtures", "transcripts", "projects")
    largest = max((p for p in corpus.rglob("*.jsonl") if "subagents" not in p.parts), key=lambda p: p.stat().st_size)
    sid = largest.stem
    transcript = sandbox.copy_transcript(largest, sid)
    res = sandbox.run("SessionStart", sandbox.payload("SessionStart__compact.json", session_id=sid, transcript_path=str(transcript)))
    assert res.code == 0, res.stderr
    text = json.loads(res.stdout)["hookSpecificOutput"]["additionalContext"]
    assert len(text) < 9000
    assert text.endswith(str(sandbox.session_dir(sid) / "handoff.toon"))


def test_fold_drops_repeated_facts_and_keeps_order() -> None:
    st = state.new_state("s", Path("/p"))
    facts = [
        {"k": "task_create", "id": "l1:0", "task_id": "1", "subject": "write parser"},
        {"k": "task_update", "id": "l2:0", "task_id": "1", "status": "in_progress"},
        {"k": "file", "id": "l3:0", "path": "/p/a.py", "op": "edit"},
        {"k": "prompt", "id": "l4", "text": "go on"},
    ]
    assert state.fold(st, facts + facts)  # a journal read twice by racing hooks
    assert [(t.id, t.status) for t in st.tasks] == [("1", "in_progress")]
    assert st.files[0].edits == 1 and len(st.requests) == 1
    assert not state.fold(st, facts)
    st.tasks[0].status = "completed"
    state.fold(st, [{"k": "task_update", "id": "l5", "task_id": "1", "status": "deleted"}])
    assert st.tasks == []


def test_todowrite_replaces_its_list_and_maps_statuses() -> None:
    st = state.new_state("s", Path("/p"))
    state.fold(st, [{"k": "todos", "id": "t1", "items": [{"content": "a", "status": "pending"}, {"content": "b", "status": "in_progress", "activeForm": "Doing b"}]}])
    state.fold(st, [{"k": "todos", "id": "t2", "items": [{"content": "a", "status": "completed"}, {"content": "c", "status": "weird"}]}])
    assert [(t.subject, t.status) for t in st.tasks] == [("a", "completed"), ("c", "pending")]


def test_decisions_survive_a_corrupt_file(tmp_path: Path) -> None:
    project.decide(tmp_path, "use sqlite", "single user", session_id="s")
    (tmp_path / paths.DECISIONS).write_text("decisions[1]{bogus}:\n  1,2,3\n")
    d = project.decide(tmp_path, "use orjson", "speed", session_id="s")
    assert [x.choice for x in project.decisions(tmp_path)] == ["use orjson"]
    assert list(tmp_path.glob("decisions.toon.corrupt-*"))  # the bad file is kept, not lost
    assert isinstance(d, Decision)


def test_session_context_detects_the_stack(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n[tool.ruff]\n")
    (tmp_path / "uv.lock").write_text("")
    info = project.detect(tmp_path)
    assert info["languages"] == ["Python"] and info["package_manager"] == ["uv"]
    assert "pytest" in info["test_runner"] and "ruff" in info["conventions"]


def test_session_context_reads_only_plain_repository_files(tmp_path: Path) -> None:
    """A FIFO cannot hold SessionStart, a link is not followed, a secret in a script is redacted."""
    outside = tmp_path / "outside.toml"
    outside.write_text("[tool.pytest.ini_options]\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").symlink_to(outside)
    os.mkfifo(repo / "package.json")
    info = project.detect(repo)  # returns at once: the FIFO is not opened for a blocking read
    assert "pytest" not in info["test_runner"] and info["languages"] == ["Python", "JavaScript/TypeScript"]
    (repo / "package.json").unlink()
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    (repo / "package.json").write_text(json.dumps({"scripts": {"test": f"GH={token} jest"}}))
    runners = project.detect(repo)["test_runner"]
    assert runners and runners[0].startswith("npm test (GH=") and token not in runners[0] and token[4:16] not in runners[0]


def test_recovery_replays_the_journal_after_the_checkpoint(sandbox: Sandbox) -> None:
    from hookrun import TASKS_SESSION, TASKS_TRANSCRIPT

    transcript = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    first = refresh.materialize(sandbox.project, TASKS_SESSION, transcript_path=str(transcript), checkpoint="test")
    sdir = first.session_dir
    from session_state.core import journal

    journal.record(sdir, "prompt", "late-prompt", text="a request made after the checkpoint")
    (sdir / "state.json").write_text("{}")
    again = refresh.materialize(sandbox.project, TASKS_SESSION, transcript_path=str(transcript))
    assert again.recovered and again.state.status == "recovered"
    assert again.state.requests[-1].text == "a request made after the checkpoint"
    assert len(again.state.tasks) == 6


def test_the_injection_leaves_bookkeeping_in_the_full_file(tmp_path: Path) -> None:
    """Checkpoint ids, reserves, flags, script detection, row timestamps and tokenizer labels
    are in handoff.toon; the model reads only the work."""
    st = big_state()
    st.last_checkpoint = "cp-20261130T120000Z-interval"
    for f in st.files:
        f.last_ts = "2026-11-30T12:04:11.760Z"
    sdir = tmp_path / "sessions" / "s-big"
    sdir.mkdir(parents=True)
    checkpoints.take(sdir, st, "interval", settings.defaults())
    pkg = handoff.build(st, tmp_path, settings.defaults())
    full = handoff.write(sdir, pkg)
    stored = full.read_text()
    for field in ("from_agent", "to_agent", "session_context", "task_context", "context_snapshot", "recovery_info",
                  "validated", "user_language", "tokens_reserved", "recent_checkpoints"):
        assert field in stored, field
    text = inject.render(pkg, full, 9000, heading="session-state handoff:")
    for noise in ("user_language", "Latin script", "to_agent", "tokens_reserved", "fork_available", "cp-2026",
                  "12:04:11", "estimated with", "flags", st.session_id + "@"):
        assert noise not in text, noise


def test_toon_costs_fewer_tokens_than_json_for_the_same_handoff(tmp_path: Path) -> None:
    size = handoff.sizes(handoff.build(big_state(), tmp_path, settings.defaults()), "claude-opus-4-6")
    assert size["estimate"] is True and size["toon_tokens"] < size["json_tokens"]
    assert size["saving_percent"] > 20

"""recover and prune on hook-written state: corrupt files, named checkpoints, retention."""

from __future__ import annotations

import gzip
import json
import os
import time

from test_cli_support import MAROT_ID, WORKTREES_ID, Project, fresh  # noqa: F401 - fixtures


def test_recover_does_nothing_while_the_state_is_valid(fresh: Project) -> None:
    before = (fresh.session_dir(MAROT_ID) / "state.json").read_bytes()
    out = fresh.ok("recover", "--session", MAROT_ID)
    assert "state.json is valid; nothing to recover" in out
    assert (fresh.session_dir(MAROT_ID) / "state.json").read_bytes() == before


def test_recover_a_corrupt_state_from_the_latest_checkpoint_and_replays_the_journal(fresh: Project) -> None:
    sdir = fresh.session_dir(WORKTREES_ID)
    (sdir / "state.json").write_text('{"session_id": 5, "project": "x"}')
    with (sdir / "journal.jsonl").open("a") as handle:
        handle.write(json.dumps({"k": "prompt", "id": "after-checkpoint", "ts": "2026-01-01T00:00:00Z", "text": "late fact"}) + "\n")
    out = json.loads(fresh.ok("recover", "--session", WORKTREES_ID, "--json"))
    assert out["recovered"] and "did not validate" in out["reason"] and "field session_id" in out["reason"]
    assert out["replayed"] >= 1
    assert out["set_aside"] and os.path.exists(out["set_aside"])
    assert b'"session_id": 5' in open(out["set_aside"], "rb").read()  # the bad file is kept, not deleted
    state = json.loads((sdir / "state.json").read_text())
    assert state["recovered_from"] == out["checkpoint"]
    assert state["requests"][-1]["text"] == "late fact"  # replayed from the journal
    assert len(state["tasks"]) == 6


def test_recover_one_line_text(fresh: Project) -> None:
    (fresh.session_dir(MAROT_ID) / "state.json").write_text("not json at all")
    out = fresh.ok("recover", "--session", MAROT_ID)
    assert len(out.strip().splitlines()) == 1
    assert "did not validate (not valid JSON" in out and "restored checkpoint" in out and "kept as state.json.corrupt-" in out


def test_recover_from_a_named_checkpoint_even_an_archived_one(fresh: Project) -> None:
    sdir = fresh.session_dir(MAROT_ID)
    oldest = sorted((sdir / "checkpoints").glob("*.json"))[0]
    out = json.loads(fresh.ok("recover", "--session", MAROT_ID, "--from", oldest.stem, "--json"))
    assert out["checkpoint"] == oldest.stem and out["reason"] == "restore requested"
    assert ".replaced-" in out["set_aside"]
    # archive it, then restore it by id from the archive
    archive = sdir / "checkpoints" / "archive"
    archive.mkdir(exist_ok=True)
    (archive / f"{oldest.name}.gz").write_bytes(gzip.compress(oldest.read_bytes()))
    oldest.unlink()
    out = json.loads(fresh.ok("recover", "--session", MAROT_ID, "--from", oldest.stem, "--json"))
    assert out["checkpoint"] == oldest.stem


def test_recover_errors_leave_the_state_in_place(fresh: Project) -> None:
    sdir = fresh.session_dir(MAROT_ID)
    before = (sdir / "state.json").read_bytes()
    line = fresh.fails("recover", "--session", MAROT_ID, "--from", "20990101T000000000000Z-nope-1")
    assert "no checkpoint '20990101T000000000000Z-nope-1'" in line
    assert (sdir / "state.json").read_bytes() == before
    newest = sorted((sdir / "checkpoints").glob("*.json"))[-1]
    newest.write_text('{"schema_version": 1}')
    line = fresh.fails("recover", "--session", MAROT_ID, "--from", newest.stem)
    assert "does not validate" in line and "field" in line
    assert (sdir / "state.json").read_bytes() == before
    for cp in (sdir / "checkpoints").glob("*.json"):
        cp.unlink()
    line = fresh.fails("recover", "--session", MAROT_ID, "--force")
    assert "no valid checkpoint" in line and (sdir / "state.json").read_bytes() == before


def test_prune_dry_run_then_for_real(fresh: Project) -> None:
    sdir = fresh.session_dir(MAROT_ID)
    cps = sorted((sdir / "checkpoints").glob("*.json"))
    assert len(cps) >= 3
    old = time.time() - 30 * 86400
    for cp in cps[:-1]:  # all but the newest are a month old
        os.utime(cp, (old, old))
    dry = json.loads(fresh.ok("prune", "--dry-run", "--json"))
    assert dry["dry_run"] and len(dry["archived"]) == len(cps) - 1
    assert sorted((sdir / "checkpoints").glob("*.json")) == cps  # nothing moved
    text = fresh.ok("prune", "--dry-run")
    assert f"would archive {len(cps) - 1} checkpoint(s)" in text and "dry run" in text
    real = json.loads(fresh.ok("prune", "--json"))
    assert len(real["archived"]) == len(cps) - 1 and real["bytes_before"] > 0
    assert sorted((sdir / "checkpoints").glob("*.json")) == cps[-1:]
    assert len(list((sdir / "checkpoints" / "archive").glob("*.json.gz"))) == len(cps) - 1
    listed = json.loads(fresh.ok("checkpoints", "--all", "--json"))
    assert sum(1 for r in listed if r["archived"] and r["valid"]) == len(cps) - 1


def test_prune_enforces_the_project_cap(fresh: Project) -> None:
    fresh.ok("config", "set", "project_cap_bytes", "100000", "--user")
    sdir = fresh.session_dir(MAROT_ID)
    for _ in range(8):  # more checkpoints than the cap allows (each ~25 KB)
        fresh.ok("fork", "--session", MAROT_ID)
    report = json.loads(fresh.ok("prune", "--json"))
    assert report["deleted"] and report["bytes_after"] <= 100_000 < report["bytes_before"]
    assert list((sdir / "checkpoints").glob("*.json"))  # the newest is always kept

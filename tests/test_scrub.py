"""`session-state scrub`: state written under older rules is re-redacted in every format.

A real session is run through the hooks (tests/hookrun.py), then raw secrets are planted in
the files as an older version would have left them (journal, usage log, state, a checkpoint
and its gzip archive, the handoff in TOON and Markdown, a project TOON file). The real CLI
runs `scrub`: a dry run changes nothing, the real run removes every secret, and every file
still parses in its own format.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import toons

sys.path.insert(0, str(Path(__file__).parent))
from hookrun import TASKS_SESSION, TASKS_TRANSCRIPT, Sandbox  # noqa: E402
from secrets_corpus import github_token, leaks, password  # noqa: E402
from test_cli_support import cli_argv  # noqa: E402


def _cli(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_argv(), *args, "--project", str(sandbox.project)], env=sandbox.env,
                          capture_output=True, text=True, timeout=120)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.name != ".lock"}


def test_scrub_rewrites_every_format_and_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    rng = random.Random(7)
    token, pw = github_token(rng), password(rng)
    path = sandbox.copy_transcript(TASKS_TRANSCRIPT, TASKS_SESSION)
    start = sandbox.payload("SessionStart__startup.json", session_id=TASKS_SESSION, transcript_path=str(path))
    assert sandbox.run("SessionStart", start).code == 0
    assert sandbox.run("PreCompact", sandbox.payload("PreCompact__auto.json", session_id=TASKS_SESSION,
                                                      transcript_path=str(path))).code == 0
    sdir = sandbox.session_dir(TASKS_SESSION)
    planted = f"use {token} with DB_PASSWORD={pw}"

    with (sdir / "journal.jsonl").open("a") as fh:
        fh.write(json.dumps({"k": "prompt", "id": "old-1", "ts": None, "text": planted}) + "\n")
    with (sdir / "usage.jsonl").open("a") as fh:
        fh.write(json.dumps({"note": planted}) + "\n")
    state = json.loads((sdir / "state.json").read_text())
    state["last_assistant"] = planted
    (sdir / "state.json").write_text(json.dumps(state, indent=2))
    checkpoint = sorted((sdir / "checkpoints").glob("*.json"))[0]
    data = json.loads(checkpoint.read_text())
    data["state"]["last_assistant"] = planted
    checkpoint.write_text(json.dumps(data))
    archive = sdir / "checkpoints" / "archive"
    archive.mkdir(exist_ok=True)
    (archive / f"old-{checkpoint.stem}.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
    handoff = toons.loads((sdir / "handoff.toon").read_text())
    handoff["session_id"] = planted
    (sdir / "handoff.toon").write_text(toons.dumps(handoff) + "\n")
    (sdir / "handoff.md").write_text((sdir / "handoff.md").read_text() + f"\n{planted}\n")
    (sandbox.root / "decisions.toon").write_text(toons.dumps({"decisions": [{"id": "d-1", "choice": planted}]}) + "\n")

    before = _snapshot(sandbox.root)
    dry = _cli(sandbox, "scrub", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert _snapshot(sandbox.root) == before  # a dry run changes nothing
    assert len(report["files_changed"]) >= 8, report
    assert report["redactions_added"] >= 16

    real = _cli(sandbox, "scrub")
    assert real.returncode == 0, real.stderr
    assert "rewrote" in real.stdout
    for name, blob in _snapshot(sandbox.root).items():
        text = (gzip.decompress(blob) if name.endswith(".gz") else blob).decode("utf-8", "replace")
        assert not leaks(token, text) and pw not in text, name
        if name.endswith(".json") or name.endswith(".json.gz"):
            json.loads(text)
        elif name.endswith(".jsonl"):
            [json.loads(line) for line in text.splitlines() if line.strip()]
        elif name.endswith(".toon"):
            toons.loads(text)
    # the full tier still reads what scrub wrote
    status = subprocess.run([*cli_argv(), "status", "--json", "--project", str(sandbox.project), "--session", TASKS_SESSION],
                            env=sandbox.env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    again = json.loads(_cli(sandbox, "scrub", "--json").stdout)
    assert again["files_changed"] == []  # idempotent

"""Facts about Claude Code 2.1.330 that the plugin's design relies on, measured with a probe plugin
(a tiny hook that records what it saw at the moment it ran).  When the CLI changes, these fail
first and say which assumption broke.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from .fakeapi import tool_results
from .harness import read_jsonl

PROBE = textwrap.dedent("""\
    import json, os, sys
    d = json.load(sys.stdin)
    p = d.get("transcript_path") or ""
    rec = {"event": d.get("hook_event_name"), "source": d.get("source"), "reason": d.get("reason"),
           "session_id": d.get("session_id"), "exists": os.path.exists(p), "uuids": [], "input": d}
    if rec["exists"]:
        with open(p, encoding="utf-8") as f:
            for line in f:
                try:
                    u = json.loads(line).get("uuid")
                except ValueError:
                    continue
                if u:
                    rec["uuids"].append(u)
    with open(os.environ["PROBE_OUT"], "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\\n")
""")


@pytest.fixture
def probe(claude_env):
    root = claude_env.root / "probe-plugin"
    (root / ".claude-plugin").mkdir(parents=True)
    (root / "hooks").mkdir()
    (root / ".claude-plugin" / "plugin.json").write_text(
        json.dumps({"name": "probe", "version": "0.0.1", "description": "records hook-time facts"}))
    (root / "probe.py").write_text(PROBE)
    cmd = f'"{sys.executable}" -I "${{CLAUDE_PLUGIN_ROOT}}/probe.py"'
    events = ["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd", "PreCompact", "PostCompact", "SubagentStop"]
    (root / "hooks" / "hooks.json").write_text(json.dumps(
        {"hooks": {e: [{"hooks": [{"type": "command", "command": cmd, "timeout": 20}]}] for e in events}}))
    out = claude_env.root / "probe.jsonl"
    env = {"PROBE_OUT": str(out)}
    args = ["--plugin-dir", str(root)]

    def records() -> list[dict]:
        return read_jsonl(out)

    return env, args, records


def test_fork_transcript(claude_env, probe):
    env, args, records = probe
    parent = claude_env.prompt("first", extra_args=args, extra_env=env).session_id
    claude_env.prompt("second", resume=parent, extra_args=args, extra_env=env)
    fork = claude_env.prompt("forked", resume=parent, fork=True, extra_args=args, extra_env=env).session_id
    recs = [r for r in records() if r["session_id"] == fork]
    start = [r for r in recs if r["event"] == "SessionStart"]
    assert [r["source"] for r in start] == ["fork"], recs
    # At SessionStart:fork (and the first UserPromptSubmit) the fork's transcript does not exist
    # yet: the parent cannot be found from the fork's own file then, only from Stop on.
    assert start[0]["exists"] is False, start
    ups = [r for r in recs if r["event"] == "UserPromptSubmit"]
    assert ups and ups[0]["exists"] is False, ups
    stop = [r for r in recs if r["event"] == "Stop"]
    assert stop and stop[0]["exists"] is True, stop
    # The copied history keeps the parent's line uuids but carries the fork's sessionId.
    lines = read_jsonl(claude_env.transcript(fork))
    parent_uuids = {ln.get("uuid") for ln in read_jsonl(claude_env.transcript(parent)) if ln.get("uuid")}
    copied = [ln for ln in lines if ln.get("uuid") in parent_uuids]
    assert copied, "no parent uuid in the fork transcript"
    assert {ln.get("sessionId") for ln in lines if ln.get("sessionId")} == {fork}, \
        "2.1.330 rewrote sessionId in every forked line; now some keep another id"


def test_clear_ends_old_session_before_new_starts(claude_env, probe):
    env, args, records = probe
    old = claude_env.prompt("first", extra_args=args, extra_env=env).session_id
    new = claude_env.prompt("/clear", resume=old, extra_args=args, extra_env=env).session_id
    assert new != old
    seq = [(r["event"], r["source"] or r["reason"], r["session_id"]) for r in records()]
    i_end = seq.index(("SessionEnd", "clear", old))
    i_start = seq.index(("SessionStart", "clear", new))
    assert i_end < i_start, seq
    # The new session's SessionStart:clear input does not name the old session.
    start = [r for r in records() if r["event"] == "SessionStart" and r["session_id"] == new]
    assert old not in json.dumps(start[0]["input"]), start[0]["input"]


def test_read_outside_the_project(claude_env):
    """What `Read` of a file outside the project does in `-p` (the state lives outside every project).

    Measured on 2.1.330, default permission mode: a Read inside the project works; a Read of a
    file in ~/.claude/session-state/ or anywhere else outside the project comes back as an error
    ("Claude requested permissions to read from <path>, but you haven't granted it yet"; an
    interactive session asks the user instead). So the injected context carries what the model
    needs on its own, and the skill names `session-state handoff show` for the rest.
    """
    from .fakeapi import text, tool_use

    outside = claude_env.home / ".claude" / "session-state" / "projects" / "p-0" / "handoff.toon"
    outside.parent.mkdir(parents=True)
    outside.write_text("next_step: outside-marker-3141\n")
    elsewhere = claude_env.root / "elsewhere.txt"
    elsewhere.write_text("elsewhere-marker-2718\n")
    inside = claude_env.project / "inside.txt"
    inside.write_text("inside-marker-1618\n")
    api = claude_env.api
    for label, path in (("outside", outside), ("elsewhere", elsewhere), ("inside", inside)):
        api.add_rule(f"read the {label} file", [tool_use("Read", {"file_path": str(path)}), text("Done.")])
    results = {}
    for label in ("outside", "elsewhere", "inside"):
        run = claude_env.prompt(f"read the {label} file", allow_tool_errors=True)
        got = [b for r in run.requests if r.kind == "messages" for b in tool_results(r.body)]
        assert got, run.describe()
        results[label] = (bool(got[-1].get("is_error")), json.dumps(got[-1].get("content")))
    assert results["inside"][0] is False and "inside-marker-1618" in results["inside"][1], results
    for label in ("outside", "elsewhere"):
        denied, body = results[label]
        assert denied and "requested permissions to read" in body and "marker" not in body, (label, body)
def test_compaction_summary_reaches_subagent_stop_before_session_start_compact(claude_env, probe):
    """Measured order of one /compact in 2.1.330: PreCompact, the compaction subagent's
    SubagentStop (agent_type "", last_assistant_message = the summary), SessionStart `compact`,
    then PostCompact (compact_summary). SessionStart cannot wait for PostCompact, so the
    handoff that leads with what the summary dropped takes the summary from SubagentStop."""
    env, args, records = probe
    claude_env.api.compaction_summary = "The user asked to remember PELICAN."
    sid = claude_env.prompt("first", extra_args=args, extra_env=env).session_id
    claude_env.prompt("/compact keep the bird", resume=sid, extra_args=args, extra_env=env)
    recs = [r for r in records() if r["session_id"] == sid]
    seq = [(r["event"], r["source"] or r["input"].get("trigger") or r["input"].get("agent_type")) for r in recs]
    i_pre = seq.index(("PreCompact", "manual"))
    i_sub = seq.index(("SubagentStop", ""))
    i_start = seq.index(("SessionStart", "compact"))
    i_post = seq.index(("PostCompact", "manual"))
    assert i_pre < i_sub < i_start < i_post, seq
    assert recs[i_sub]["input"]["agent_type"] == ""
    assert "PELICAN" in recs[i_sub]["input"]["last_assistant_message"], recs[i_sub]["input"]
    assert "PELICAN" in recs[i_post]["input"]["compact_summary"], recs[i_post]["input"]

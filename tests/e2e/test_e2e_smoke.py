"""The harness itself: the real CLI talks to the fake API, tools and subagents round-trip,
and the plugin installs from this repository as a user would install it."""

from __future__ import annotations

import json

from .fakeapi import agent, bash, text, tool_use
from .harness import PLUGIN_NAME, REPO_ROOT, read_jsonl


def test_cli_talks_to_fake_api_without_plugin(claude_env):
    api = claude_env.api
    api.add_rule("write a marker file", [bash("echo e2e-ok > marker.txt", "write marker"),
                                         text("Marker written.")])
    first = claude_env.prompt("hello from the e2e smoke test")
    assert first.result.startswith("FAKE reply"), first.describe()
    assert "hello from the e2e smoke test" in first.result
    msgs = [r for r in first.requests if r.kind == "messages"]
    assert len(msgs) == 1, first.describe()
    assert msgs[0].path.startswith("/v1/messages")
    assert msgs[0].body.get("stream") is True
    # The request carries the system-role environment message that the harness must skip.
    assert any(m.get("role") == "system" for m in msgs[0].body["messages"]), msgs[0].body["messages"]

    sid = first.session_id
    second = claude_env.prompt("please write a marker file", resume=sid, allowed_tools=["Bash"])
    assert second.session_id == sid
    assert second.result == "Marker written.", second.describe()
    assert (claude_env.project / "marker.txt").read_text().strip() == "e2e-ok"
    # The tool result went back to the API.
    results = [b for r in second.requests for m in r.body["messages"] if m.get("role") == "user"
               and isinstance(m.get("content"), list) for b in m["content"] if b.get("type") == "tool_result"]
    assert results, second.describe()

    transcript = claude_env.transcript(sid)
    lines = read_jsonl(transcript)
    assert any(ln.get("type") == "assistant" for ln in lines)
    # Nothing went anywhere but our server.
    assert all(r.path.startswith("/v1/") for r in api.requests), api.dump()


def test_subagent_and_task_tools_round_trip(claude_env):
    """Measures what 2.1.330 does with Agent and the deferred task tools (the harness relies on it)."""
    api = claude_env.api
    api.add_rule("plan the work", [
        tool_use("TaskCreate", {"subject": "Write the parser", "description": "Parse the input",
                                "activeForm": "Writing the parser"}),
        tool_use("TaskUpdate", {"taskId": "1", "status": "in_progress"}),
        text("Planned."),
    ])
    api.add_rule("delegate it", [agent("subagent: say hello", "say hello"), text("Delegated.")])
    run = claude_env.prompt("plan the work", allowed_tools=["TaskCreate", "TaskUpdate"])
    assert run.result == "Planned.", run.describe()
    sent = [c.get("tool_use") for r in run.requests for c in (r.reply or {}).get("content", [])
            if c.get("tool_use")]
    # Task tools are deferred in 2.1.330: the fake loads them with ToolSearch first.
    assert sent == ["ToolSearch", "TaskCreate", "TaskUpdate"], run.describe()
    lines = read_jsonl(claude_env.transcript(run.session_id))
    created = [ln["toolUseResult"]["task"]["id"] for ln in lines
               if isinstance(ln.get("toolUseResult"), dict) and isinstance(ln["toolUseResult"].get("task"), dict)]
    assert created == ["1"], [ln.get("toolUseResult") for ln in lines if ln.get("toolUseResult")]
    updates = [ln["toolUseResult"]["statusChange"] for ln in lines
               if isinstance(ln.get("toolUseResult"), dict) and ln["toolUseResult"].get("statusChange")]
    assert updates and updates[-1].get("to") == "in_progress", updates

    sub = claude_env.prompt("delegate it", resume=run.session_id)
    assert sub.result == "Delegated.", sub.describe()
    assert any(r.last_user_text == "subagent: say hello" for r in sub.requests), sub.describe()
    subs = list((claude_env.transcript(run.session_id).parent / run.session_id / "subagents").glob("agent-*.jsonl"))
    assert subs, "no subagent transcript"


def test_compaction_and_clear_requests(claude_env):
    api = claude_env.api
    first = claude_env.prompt("remember the word PELICAN")
    sid = first.session_id
    api.compaction_summary = "The user asked to remember PELICAN."
    comp = claude_env.prompt("/compact keep the bird", resume=sid)
    kinds = [r.kind for r in comp.requests]
    assert kinds == ["compaction"], comp.describe()
    assert comp.json.get("local_command") == "compact"
    after = claude_env.prompt("what was the word?", resume=sid)
    body = after.requests[0].body
    assert "The user asked to remember PELICAN." in json.dumps(body), after.describe()
    cleared = claude_env.prompt("/clear", resume=sid)
    assert cleared.session_id != sid
    assert cleared.requests == [], cleared.describe()


def test_plugin_installs_from_repo(claude_env):
    entry = claude_env.install_plugin()
    assert entry.get("enabled") is True, entry
    text_list = claude_env.plugin_list_text()
    assert PLUGIN_NAME in text_list
    v = claude_env.claude("plugin", "validate", str(REPO_ROOT), "--strict", check=False)
    assert v.returncode == 0, v.describe()

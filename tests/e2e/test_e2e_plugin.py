"""The plugin end to end: installed from this repository into a fresh HOME, its Python environment
provisioned by the plugin itself (the dev venv is not on PATH), then a session that plans tasks, runs
a command, delegates to a subagent, fills its context, compacts, resumes, forks and clears, all
with the real Claude Code CLI against the fake API.

The scenario runs once per module (fixture ``sc``); each test checks one promise and, when it
fails, says what the CLI sent or wrote.  Logs of every run are kept under the test's temp dir
(``logs/run-NN.txt``, ``logs/debug-NN.log``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from .fakeapi import FakeAPI, agent, bash, text, tool_use
from .harness import (
    PLUGIN_NAME,
    REPO_ROOT,
    ClaudeEnv,
    Run,
    first_model_request,
    injected_contexts,
    python_on_path,
    read_jsonl,
    wait_for,
)

ENV_READY_TIMEOUT_S = float(os.environ.get("SESSION_STATE_E2E_READY_TIMEOUT", "180"))
STATE_WAIT_S = 30
TASK_SUBJECT = "Write the parser for the quarterly report"
SUBAGENT_PROMPT = "subagent: review parser.py for edge cases"
COMPACT_SUMMARY = "The user and the assistant worked on a project. (fake summary, no details)"
AUTO_TASK = "Migrate the billing tables"
AUTOCOMPACT_WINDOW = 200_000
AUTOCOMPACT_FILL = 190_000
BIG_INPUT_TOKENS = 650_000  # 65% of the 1M window 2.1.330 reports for its default model


class StepFailed(Exception):
    pass


@dataclass
class Scenario:
    env: ClaudeEnv
    api: FakeAPI
    steps: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.monotonic()
        try:
            value = fn()
        except BaseException as e:  # noqa: BLE001 - recorded, re-raised by need()
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            self.errors[name] = f"{type(e).__name__}: {e}"
            value = None
        self.times[name] = time.monotonic() - t0
        self.steps[name] = value
        return value

    def need(self, *names: str) -> Any:
        for n in names:
            if n in self.errors:
                pytest.fail(f"scenario step {n!r} failed:\n{self.errors[n]}")
            if n not in self.steps:
                pytest.fail(f"scenario step {n!r} did not run")
        return self.steps[names[-1]]


def _session_files(env: ClaudeEnv, sid: str) -> Callable[[], bool]:
    d = env.session_dir(sid)
    return lambda: (d / "state.json").is_file() and (d / "handoff.toon").is_file()


def _load_state(env: ClaudeEnv, sid: str) -> dict:
    p = env.session_dir(sid) / "state.json"
    return json.loads(p.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sc(e2e_tmp, claude_bin, e2e_notes) -> Scenario:
    api = FakeAPI().start()
    env = ClaudeEnv(e2e_tmp.mktemp("plugin"), api, claude_bin)
    s = Scenario(env, api)
    api.compaction_summary = COMPACT_SUMMARY
    api.add_rule("start: plan the parser work", [
        tool_use("TaskCreate", {"subject": TASK_SUBJECT, "description": "Parse the CSV into rows",
                                "activeForm": "Writing the parser"}),
        tool_use("TaskUpdate", {"taskId": "1", "status": "in_progress"}),
        bash("echo 'def parse(): pass' > parser.py", "create parser.py"),
        text("Started the parser: parser.py created, task in progress."),
    ])
    api.add_rule("delegate the review", [agent(SUBAGENT_PROMPT, "review parser"),
                                         text("The subagent reviewed parser.py.")])
    api.add_rule("a turn with a big context", [text("Lots of context now.",
                                                    usage={"input_tokens": BIG_INPUT_TOKENS})])
    api.add_rule("auto: fill the context", [
        tool_use("TaskCreate", {"subject": AUTO_TASK, "description": "a task before auto-compaction",
                                "activeForm": "Filling"}),
        bash("echo filling", "fill", usage={"input_tokens": AUTOCOMPACT_FILL}),
        text("Filled.", usage={"input_tokens": AUTOCOMPACT_FILL}),
    ])
    try:
        assert str(REPO_ROOT / ".venv" / "bin") not in env.path.split(":"), env.path
        py, ver = python_on_path(env.path)
        assert py and ver and ver >= (3, 10), (
            f"the plugin needs a system python3 >= 3.10 on PATH (without the dev venv); found {py} {ver} "
            f"on {env.path}")
        e2e_notes.append(f"e2e plugin python on PATH: {py} {'.'.join(map(str, ver))}")

        s.step("install", lambda: env.install_plugin())

        def warmup() -> dict:
            run = env.prompt("warm up: first session ever")
            ready, waited = env.wait_env_ready(ENV_READY_TIMEOUT_S)
            return {"run": run, "ready": ready, "waited": waited}

        s.step("warmup", warmup)

        tools = ["Bash", "TaskCreate", "TaskUpdate"]
        start = s.step("startup", lambda: env.prompt("start: plan the parser work", allowed_tools=tools))
        sid = start.session_id if isinstance(start, Run) else None
        if sid:
            s.step("subagent", lambda: env.prompt("delegate the review", resume=sid))
            usage_file = env.session_dir(sid) / "usage.jsonl"
            before = len(read_jsonl(usage_file))
            s.step("big_context", lambda: env.prompt("a turn with a big context", resume=sid))
            s.steps["big_context_usage"] = read_jsonl(usage_file)[before:]
            s.step("after_big", lambda: env.prompt("a turn after the big one", resume=sid))
            s.step("state_before_compact", lambda: wait_for(_session_files(env, sid), STATE_WAIT_S))
            s.step("compact", lambda: env.prompt("/compact keep the parser plan", resume=sid))
            s.step("after_compact", lambda: env.prompt("continue after the compaction", resume=sid))
            s.step("fork", lambda: env.prompt("work on a forked branch", resume=sid, fork=True))
            s.step("clear", lambda: env.prompt("/clear", resume=sid))
            clear = s.steps.get("clear")
            if isinstance(clear, Run):
                s.step("after_clear", lambda: env.prompt("first prompt after the clear",
                                                         resume=clear.session_id))
            # Let detached refresh processes finish before the checks read state files.
            fork = s.steps.get("fork")
            if isinstance(fork, Run):
                s.step("fork_state", lambda: wait_for(_session_files(env, fork.session_id), STATE_WAIT_S))
            # Auto-compaction in a fresh session: a tool loop at 190k of a 200k window makes
            # 2.1.330 compact (trigger auto) before the next prompt's request.
            auto = ["--autocompact", str(AUTOCOMPACT_WINDOW)]
            fill = s.step("auto_fill", lambda: env.prompt("auto: fill the context",
                                                          allowed_tools=["Bash", "TaskCreate"],
                                                          extra_args=auto))
            if isinstance(fill, Run):
                s.step("auto_compact", lambda: env.prompt("auto: the prompt after the fill",
                                                          resume=fill.session_id, extra_args=auto))
        s.step("validate", lambda: env.claude("plugin", "validate", str(REPO_ROOT), "--strict", check=False))
        yield s
    finally:
        api.stop()
        e2e_notes.append("e2e plugin scenario timings: " + ", ".join(
            f"{k}={v:.1f}s" for k, v in s.times.items()))
        w = s.steps.get("warmup")
        if isinstance(w, dict):
            e2e_notes.append(f"e2e plugin env ready {w['waited']:.1f}s after the first session ended "
                             f"({w['ready']})")
        runs = env.all_hook_runs()
        if runs:
            by: dict[str, list[int]] = {}
            counts: dict[str, int] = {}
            for r in runs:
                k = f"{r.event}:{r.source}" if r.source else r.event
                counts[k] = counts.get(k, 0) + 1
                if r.ms is not None:
                    by.setdefault(k, []).append(r.ms)
            e2e_notes.append("e2e hook runs (count; ms from --debug-file where 2.1.330 logs it): " + "; ".join(
                f"{k} x{n}" + (f" {sorted(by[k])}" if k in by else "") for k, n in sorted(counts.items())))
        if s.errors:
            e2e_notes.append("e2e scenario step errors: " + "; ".join(
                f"{k}: {v.splitlines()[0][:200]}" for k, v in s.errors.items()))
        e2e_notes.append(f"e2e logs: {env.logs}")


# ---------------------------------------------------------------------------------------------


def test_plugin_installed_enabled(sc):
    entry = sc.need("install")
    assert entry["enabled"] is True, entry
    assert entry["id"] == f"{PLUGIN_NAME}@{sc.env.marketplace_name()}", entry


def test_validate_strict_passes(sc):
    v = sc.need("validate")
    assert v.returncode == 0, v.describe()


def test_first_session_provisions_environment(sc):
    w = sc.need("warmup")
    assert w["ready"].exists()
    assert w["ready"].is_relative_to(sc.env.home / ".claude" / "plugins" / "data")


def test_every_hook_ran_without_error(sc):
    sc.need("startup")
    bad, err_lines = sc.env.all_hook_errors()
    runs = sc.env.all_hook_runs()
    failed = [r.line for r in runs if not r.ok]
    msg = []
    if bad:
        msg.append("transcript attachments:\n" + "\n".join(f"  {f}: {json.dumps(a)[:600]}" for f, a in bad))
    if failed:
        msg.append("debug-log hook runs that failed:\n" + "\n".join("  " + ln[:600] for ln in failed))
    if err_lines:
        msg.append("debug-log error lines:\n" + "\n".join("  " + ln[:600] for ln in err_lines))
    assert not msg, "\n".join(msg)


def test_every_event_reached_the_plugin(sc):
    sc.need("startup", "subagent", "compact", "fork", "clear")
    seen = {(r.event, r.source) for r in sc.env.all_hook_runs()}
    events = {e for e, _ in seen}
    missing = {"SessionStart", "UserPromptSubmit", "Stop", "SubagentStop", "PreCompact", "SessionEnd"} - events
    sources = {s for e, s in seen if e == "SessionStart"}
    missing_src = {"startup", "resume", "compact", "clear", "fork"} - sources
    assert not missing and not missing_src, (
        f"no ss-hook run in the debug logs for events {sorted(missing)} / SessionStart sources "
        f"{sorted(missing_src)}; seen: {sorted(map(str, seen))}")


def test_state_and_handoff_written(sc):
    start = sc.need("startup")
    sid = start.session_id
    ok = wait_for(_session_files(sc.env, sid), STATE_WAIT_S)
    d = sc.env.session_dir(sid)
    listing = sorted(str(p.relative_to(sc.env.state_root())) for p in sc.env.state_root().rglob("*")) \
        if sc.env.state_root().exists() else []
    assert ok, f"{d}/state.json and handoff.toon missing; state root holds: {listing}"
    state = _load_state(sc.env, sid)
    assert state["session_id"] == sid
    toon = (d / "handoff.toon").read_text(encoding="utf-8")
    assert toon.strip(), "handoff.toon is empty"


def test_state_records_tasks_commands_and_subagent(sc):
    start = sc.need("startup", "subagent", "after_big")
    sid = start.session_id
    wait_for(_session_files(sc.env, sid), STATE_WAIT_S)
    state = wait_for(lambda: _try_state(sc.env, sid, lambda st: st.get("subagents")), STATE_WAIT_S) \
        or _try_state(sc.env, sid, lambda st: True)
    assert state, "no state.json"
    subjects = [t.get("subject") or t.get("content") for t in state.get("tasks", [])]
    assert TASK_SUBJECT in subjects, f"tasks in state.json: {state.get('tasks')}"
    cmds = json.dumps(state.get("commands", []))
    assert "parser.py" in cmds, f"commands in state.json: {state.get('commands')}"
    assert state.get("subagents"), f"no subagent in state.json: {json.dumps(state)[:1500]}"
    toon = (sc.env.session_dir(sid) / "handoff.toon").read_text(encoding="utf-8")
    assert TASK_SUBJECT in toon, f"task missing from handoff.toon:\n{toon[:3000]}"


def _try_state(env: ClaudeEnv, sid: str, pred: Callable[[dict], Any]) -> dict | None:
    try:
        st = _load_state(env, sid)
    except (OSError, ValueError):
        return None
    return st if pred(st) else None


def _describe_request(req) -> str:
    sys_msgs = "\n---\n".join(t[:1500] for t in req.system_texts)
    return f"request #{req.n} last user text {req.last_user_text[:200]!r}; system messages:\n{sys_msgs}"


def test_handoff_injected_after_compaction(sc):
    start = sc.need("startup")
    comp = sc.need("compact")
    after = sc.need("after_compact")
    sid = start.session_id
    assert [r.kind for r in comp.requests] == ["compaction"], comp.describe()
    req = first_model_request(after)
    handoff_path = str(sc.env.session_dir(sid) / "handoff.toon")
    ctxs = injected_contexts(req, "SessionStart")
    assert ctxs, "no 'SessionStart hook additional context:' in the request after compaction\n" + \
        _describe_request(req)
    carrying = [c for c in ctxs if TASK_SUBJECT in c]
    assert carrying, ("the request after compaction has SessionStart context, but not the handoff "
                      f"(task {TASK_SUBJECT!r} missing)\n" + _describe_request(req))
    assert any(handoff_path in c for c in carrying), (
        f"injected handoff does not name {handoff_path}\n" + _describe_request(req))
    # The transcript keeps it after the compact boundary.
    lines = read_jsonl(sc.env.transcript(sid))
    boundary = max(i for i, ln in enumerate(lines) if ln.get("subtype") == "compact_boundary")
    later = [ln["attachment"] for ln in lines[boundary:] if ln.get("type") == "attachment"
             and (ln.get("attachment") or {}).get("type") == "hook_additional_context"]
    assert any(TASK_SUBJECT in json.dumps(a) for a in later), later


def test_clear_hands_the_old_handoff_to_the_new_session(sc):
    start = sc.need("startup")
    clear = sc.need("clear")
    after = sc.need("after_clear")
    old, new = start.session_id, clear.session_id
    assert new != old, clear.describe()
    assert clear.requests == [], "/clear should not call the model: " + clear.describe()
    req = first_model_request(after)
    ctxs = injected_contexts(req, "SessionStart")
    old_handoff = str(sc.env.session_dir(old) / "handoff.toon")
    assert any(TASK_SUBJECT in c and old_handoff in c for c in ctxs), (
        f"the first request of the session after /clear ({new}) does not carry {old}'s handoff "
        f"({old_handoff})\n" + _describe_request(req))


def test_fork_state_names_its_parent(sc):
    start = sc.need("startup")
    fork = sc.need("fork")
    parent, child = start.session_id, fork.session_id
    assert child != parent
    # Lineage may be settled by a later hook or the detached refresh: wait for it (bounded).
    wait_for(lambda: _try_state(sc.env, child, lambda st: (st.get("lineage") or {}).get("parent_session_id")),
             STATE_WAIT_S)
    ok = _try_state(sc.env, child, lambda st: True)
    assert ok, f"no state.json for the fork {child}; sessions: " + str(
        sorted(p.name for p in (sc.env.state_root() / "sessions").glob("*")))
    state = _load_state(sc.env, child)
    lineage = state.get("lineage") or {}
    assert lineage.get("parent_session_id") == parent, (
        f"fork {child} of {parent}: state.json lineage {lineage}")


def test_resume_points_at_the_handoff(sc):
    start = sc.need("startup")
    run = sc.need("subagent")  # the first --resume of the session
    sid = start.session_id
    req = first_model_request(run)
    ctxs = injected_contexts(req, "SessionStart")
    handoff = str(sc.env.session_dir(sid) / "handoff.toon")
    assert any(sid in c and handoff in c for c in ctxs), (
        f"resume of {sid}: no SessionStart context naming the session and {handoff}\n"
        + _describe_request(req))


def test_budget_recorded_after_big_context(sc):
    """The Stop hook of the turn whose reply reported a 650k context records that context."""
    start = sc.need("startup", "big_context")
    recs = sc.steps.get("big_context_usage") or []
    stops = [r for r in recs if r.get("event") == "Stop"]
    assert stops, f"no Stop record in usage.jsonl during the big-context run; records: {recs}"
    assert stops[-1].get("context_tokens") == BIG_INPUT_TOKENS, (
        f"session {start.session_id}: the big-context turn's Stop recorded {stops[-1]}; all records "
        f"of that run: {json.dumps(recs)}")
    assert "monitor" in json.dumps(recs), f"no monitor crossing at 65%: {json.dumps(recs)}"


def test_handoff_injected_after_auto_compaction(sc):
    """Every request that follows an auto-compaction carries the handoff.  (2.1.330 may compact
    inside the filling turn's tool loop as well as before the next prompt: both count.)"""
    fill = sc.need("auto_fill")
    run = sc.need("auto_compact")
    reqs = fill.requests + run.requests
    pairs = [(c, next((r for r in reqs[i + 1:] if r.kind == "messages"), None))
             for i, c in enumerate(reqs) if c.kind == "compaction"]
    assert pairs, "2.1.330 did not auto-compact (harness assumption):\n" + fill.describe() + "\n" + run.describe()
    for comp, nxt in pairs:
        assert nxt is not None, f"no request after compaction #{comp.n}"
        ctxs = injected_contexts(nxt, "SessionStart")
        assert any(AUTO_TASK in c for c in ctxs), (
            f"request #{nxt.n}, after auto-compaction #{comp.n} of {fill.session_id}, lacks the handoff "
            f"(task {AUTO_TASK!r})\n" + _describe_request(nxt))
    lines = read_jsonl(sc.env.transcript(fill.session_id))
    triggers = [ln["compactMetadata"].get("trigger") for ln in lines if ln.get("subtype") == "compact_boundary"]
    assert triggers and set(triggers) == {"auto"} and len(triggers) == len(pairs), (triggers, len(pairs))

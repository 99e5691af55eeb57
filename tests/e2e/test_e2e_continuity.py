"""Continuity end to end (issue "Continuity"): what the next context of the work receives, with the
real Claude Code CLI against the fake API, the plugin installed from this repository.

One HOME (plugin installed and provisioned once, fixture ``plug``), one project per scenario so
that one scenario's sessions never become another's "previous session here":

1. compact: a task list (TaskCreate x3, one in_progress, one completed) and a decision recorded
   the way the skill says (a Bash tool use running ``session-state decide``), then ``/compact``;
   the compaction prompt carries PreCompact's instructions and the first request after it the
   handoff (active task, status, next step, decision, handoff path).
2. clear: ``/clear --resume OLD`` and a fresh ``claude -p`` started at the same moment, three
   rounds; the /clear heir gets OLD's handoff, the concurrent session must not.
3. fork: ``--resume P --fork-session``; the fork names its parent, the parent lists the fork.
4. budget: a 160k-token reply on a 200k-window model; the next prompt is told the level and the
   advice, once.
5. thread: a task list and a decision, then ``/clear`` three times with a prompt in between; the
   first request after the third still carries the task list, the goal, the decision and the chain.  In one process (``--input-format stream-json``, prompts sent one after the other
   as a user types them) and across ``--resume`` runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from session_state.state.inject import footer as handoff_footer

from .fakeapi import FakeAPI, Recorded, bash, text, tool_results, tool_use
from .harness import ClaudeEnv, Run, first_model_request, python_on_path, read_jsonl, wait_for

ENV_READY_TIMEOUT_S = float(os.environ.get("SESSION_STATE_E2E_READY_TIMEOUT", "180"))
STATE_WAIT_S = 30

# scenario 1
TASKS = [("Design the cache schema", "Designing the cache schema"),
         ("Write the cache layer", "Writing the cache layer"),
         ("Benchmark the cache", "Benchmarking the cache")]
ACTIVE_SUBJECT, ACTIVE_FORM = TASKS[1]
DONE_SUBJECT = TASKS[0][0]
DECISION, WHY = "use sqlite for the cache", "single user, no server"
DECIDE_CMD = f'session-state decide "{DECISION}" --why "{WHY}"'
PRECOMPACT_HEAD = "session-state: the summary must preserve"
DROPPED_SUBJECT = TASKS[2][0]
# Claude Code's summary, driven through the stand-in API: it keeps the goal and two tasks and
# drops the third task and the decision, which the handoff must then lead with.
SUMMARY_DROPPING = (f"1. Primary Request and Intent: plan the cache work.\n2. Current work: {ACTIVE_SUBJECT} "
                    f"is in progress; {DONE_SUBJECT} is completed.")
LEAD = "Not in Claude Code's summary above:"
ALSO = "Also saved (the summary has these):"
COMPACT_HEAD = "session-state handoff: the conversation was just compacted"

# scenario 2
CLEAR_ROUNDS = 3
CLEAR_HEAD = "session-state handoff from the session before /clear"
# The only session-state text a concurrently started session may get about an older session:
# a one-line pointer that carries no content of that session's handoff (no task, no next step).
CONTENT_FREE_POINTER = re.compile(
    r"session-state: the previous session here \((?P<sid>[0-9a-f-]{36}), [0-9.]+ (?:s|min|h) ago\) "
    r"left a handoff \(file (?P<path>\S+handoff\.toon)\)\. If this session continues that work, run "
    r"`session-state handoff show --session (?P=sid)`\.")

# scenario 4
BUDGET_MODEL = "claude-sonnet-4-5"  # 200k window; the fake API echoes the request's model
BIG_INPUT = 160_000  # 80% of 200k: warning (75%), below critical (85%) and auto-compaction
NOTICE_HEAD = "session-state: context is at 80% of the 200,000-token window (warning"
NOTICE_ADVICE = ("Finish the step you are on, record decisions with `session-state decide",
                 "prefer /compact")


# ---------------------------------------------------------------------------------------------
# helpers


def hook_contexts(req: Recorded, event: str) -> list[tuple[str, str]]:
    """(role, text after the marker) for every ``<event> hook additional context:`` in a request.

    2.1.330 sends them as ``role: system`` messages for its default model and as
    ``<system-reminder>`` text in ``role: user`` messages for claude-sonnet-4-5 (measured), so
    every message is searched.  The text runs to the next marker or the end of its block."""
    marker = f"{event} hook additional context:"
    out: list[tuple[str, str]] = []
    for msg in req.body.get("messages") or []:
        content = msg.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for b in blocks:
            t = b.get("text") if isinstance(b, dict) and b.get("type") == "text" else None
            if not t or marker not in t:
                continue
            for part in t.split(marker)[1:]:
                out.append((msg.get("role", "?"), part.strip()))
    return out


def transcript_contexts(transcript: Path, event: str | None = None) -> list[str]:
    """Exact texts of the hook_additional_context attachments a session's transcript holds."""
    out: list[str] = []
    for ln in read_jsonl(transcript):
        att = ln.get("attachment")
        if ln.get("type") == "attachment" and isinstance(att, dict) \
                and att.get("type") == "hook_additional_context" \
                and (event is None or att.get("hookEvent") == event):
            c = att.get("content")
            out += [x for x in c if isinstance(x, str)] if isinstance(c, list) else [str(c)]
    return out


def requests_of(run_or_reqs: Run | list[Recorded], session_id: str) -> list[Recorded]:
    """Model requests made by one session (2.1.330 sends ``x-claude-code-session-id``)."""
    reqs = run_or_reqs.requests if isinstance(run_or_reqs, Run) else run_or_reqs
    return [r for r in reqs if r.kind == "messages" and r.headers.get("x-claude-code-session-id") == session_id]


def describe(req: Recorded, events: tuple[str, ...] = ("SessionStart", "UserPromptSubmit")) -> str:
    parts = [f"request #{req.n} (session {req.headers.get('x-claude-code-session-id')}) "
             f"last user text {req.last_user_text[:160]!r}"]
    for ev in events:
        for role, t in hook_contexts(req, ev):
            parts.append(f"  [{ev} / role {role}] {t[:1500]}")
    return "\n".join(parts)


def request_text(req: Recorded) -> str:
    """Every text block of a request's messages, as sent."""
    parts: list[str] = []
    for msg in req.body.get("messages") or []:
        content = msg.get("content")
        for b in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            if isinstance(b, dict) and b.get("type") == "text":
                parts.append(b.get("text", ""))
    return "\n".join(parts)


def require(value: Any, message: str) -> Any:
    if not value:
        raise AssertionError(message)
    return value


def load_state(env: ClaudeEnv, sid: str) -> dict | None:
    try:
        return json.loads((env.session_dir(sid) / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def handoff_has(env: ClaudeEnv, sid: str, needle: str) -> Callable[[], bool]:
    p = env.session_dir(sid) / "handoff.toon"
    return lambda: p.is_file() and needle in p.read_text(encoding="utf-8", errors="replace")


@dataclass
class Steps:
    """Runs a scenario's steps, keeping going after a failure; each test then ``need``s its steps."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.monotonic()
        try:
            v = fn()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # noqa: BLE001 - reported by need()
            self.errors[name] = f"{type(e).__name__}: {e}"
            v = None
        self.times[name] = time.monotonic() - t0
        self.values[name] = v
        return v

    def need(self, *names: str) -> Any:
        for n in names:
            if n in self.errors:
                pytest.fail(f"scenario step {n!r} failed:\n{self.errors[n]}")
            if n not in self.values:
                pytest.fail(f"scenario step {n!r} did not run")
        if len(names) == 1:
            return self.values[names[0]]
        return tuple(self.values[n] for n in names)


class Plug:
    """One HOME with the plugin installed and its environment provisioned; a project per scenario."""

    def __init__(self, root: Path, api: FakeAPI, claude_bin: Path) -> None:
        self.root, self.api, self.bin = root, api, claude_bin
        self.base = ClaudeEnv(root, api, claude_bin)
        self.projects: dict[str, ClaudeEnv] = {}

    def project(self, name: str) -> ClaudeEnv:
        env = ClaudeEnv(self.root, self.api, self.bin, project_name=f"proj-{name}")
        env.logs = self.root / f"logs-{name}"  # run-NN numbering is per ClaudeEnv
        env.logs.mkdir(exist_ok=True)
        self.projects[name] = env
        return env


@dataclass
class Conversation:
    """One CLI process fed several prompts, as a user types them (stream-json in and out)."""

    session_id: str | None
    results: list[dict]
    requests: list[list[Recorded]]  # per prompt
    returncode: int | None
    stderr: str


def converse(env: ClaudeEnv, prompts: list[str], extra_args: list[str] = (), timeout: float = 240,
             name: str = "conversation") -> Conversation:
    """``claude -p --input-format stream-json``: send a prompt, wait for its ``result``, send the next.

    Hooks run as in an interactive session: one SessionStart, then UserPromptSubmit/Stop per prompt.
    """
    debug = env.logs / f"debug-{name}.log"
    argv = [str(env.bin), "-p", "--input-format", "stream-json", "--output-format", "stream-json",
            "--verbose", *extra_args, "--debug-file", str(debug)]
    p = subprocess.Popen(argv, cwd=str(env.project), env=env.env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    results: list[dict] = []
    per_prompt: list[list[Recorded]] = []
    events: list[str] = []
    try:
        for prompt in prompts:
            mark = env.api.mark()
            p.stdin.write(json.dumps({"type": "user", "message": {
                "role": "user", "content": [{"type": "text", "text": prompt}]}}) + "\n")
            p.stdin.flush()
            while True:
                line = p.stdout.readline()
                if not line:
                    raise AssertionError(f"claude ended before answering {prompt!r}; stderr: "
                                         f"{p.stderr.read()[-2000:]}")
                events.append(line)
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("type") == "result":
                    results.append(ev)
                    break
            per_prompt.append(env.api.since(mark))
        p.stdin.close()
        rc = p.wait(timeout=60)
        err = p.stderr.read()
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
    (env.logs / f"{name}.txt").write_text(
        " ".join(argv) + f"\nrc={rc}\n\nrequests:\n" +
        "\n".join("  " + r.summary() for reqs in per_prompt for r in reqs) +
        "\n\nSTDOUT:\n" + "".join(events) + "\n\nSTDERR:\n" + err, encoding="utf-8")
    sid = results[0].get("session_id") if results else None
    return Conversation(sid, results, per_prompt, rc, err)


# ---------------------------------------------------------------------------------------------
# the shared HOME


@pytest.fixture(scope="module")
def plug(e2e_tmp, claude_bin, e2e_notes):
    api = FakeAPI().start()
    pl = Plug(e2e_tmp.mktemp("continuity"), api, claude_bin)
    try:
        py, ver = python_on_path(pl.base.path)
        assert py and ver and ver >= (3, 10), f"the plugin needs a system python3 >= 3.10 on PATH; found {py} {ver}"
        pl.base.install_plugin()
        pl.base.prompt("warm up: first session ever")
        ready, waited = pl.base.wait_env_ready(ENV_READY_TIMEOUT_S)
        e2e_notes.append(f"e2e continuity: plugin env ready {waited:.1f}s after the first session")
        yield pl
    finally:
        api.stop()
        e2e_notes.append(f"e2e continuity logs: {pl.root}/logs-*")


def _note_times(e2e_notes: list[str], name: str, steps: Steps) -> None:
    e2e_notes.append(f"e2e continuity {name}: " + ", ".join(f"{k}={v:.1f}s" for k, v in steps.times.items())
                     + ("; step errors: " + "; ".join(f"{k}: {v.splitlines()[0][:200]}"
                                                      for k, v in steps.errors.items()) if steps.errors else ""))


# ---------------------------------------------------------------------------------------------
# 1. task list + decision, then /compact


def planning_steps(tasks: list[tuple[str, str]], decide_cmd: str, closing: str) -> list:
    """A scripted turn: create the tasks, start the second, finish the first, record a decision
    through the Bash tool the way the skill says, then a closing text."""
    steps = [tool_use("TaskCreate", {"subject": subj, "description": f"{subj} (e2e)", "activeForm": form})
             for subj, form in tasks]
    return steps + [tool_use("TaskUpdate", {"taskId": "2", "status": "in_progress"}),
                    tool_use("TaskUpdate", {"taskId": "1", "status": "completed"}),
                    bash(decide_cmd, "record the decision"),
                    text(closing)]


@pytest.fixture(scope="module")
def compact(plug, e2e_notes):
    env = plug.project("compact")
    s = Steps()
    s.values["env"] = env
    plug.api.add_rule("compact: plan the cache work",
                      planning_steps(TASKS, DECIDE_CMD, "Planned the cache work and recorded the decision."))
    # allow_tool_errors: the decide call is checked by its own test, the rest must go on.
    work = s.run("work", lambda: env.prompt("compact: plan the cache work", allowed_tools=["Bash", "TaskCreate", "TaskUpdate"],
                                            allow_tool_errors=True))
    if isinstance(work, Run):
        sid = work.session_id
        s.run("handoff_ready", lambda: require(wait_for(handoff_has(env, sid, ACTIVE_SUBJECT), STATE_WAIT_S),
                                               f"the handoff of {sid} never named {ACTIVE_SUBJECT!r}"))
        plug.api.compaction_summary = SUMMARY_DROPPING
        s.run("compact", lambda: env.prompt("/compact keep the cache plan", resume=sid))
        s.run("after", lambda: env.prompt("compact: continue after the compaction", resume=sid))
    _note_times(e2e_notes, "compact", s)
    return s


def _decide_result(run: Run) -> dict | None:
    for r in run.requests:
        for b in tool_results(r.body) if r.kind == "messages" else []:
            content = json.dumps(b.get("content"))
            if "decide" in content or "decision" in content or "session-state" in content:
                return b
    return None


def test_task_tools_and_bash_ran(compact):
    work = compact.need("work")
    sent = [c.get("tool_use") for r in work.requests for c in (r.reply or {}).get("content", []) if c.get("tool_use")]
    assert sent == ["ToolSearch", "TaskCreate", "TaskCreate", "TaskCreate", "TaskUpdate", "TaskUpdate", "Bash"], \
        work.describe()
    errors = [e for e in work.tool_errors() if "decide" not in json.dumps(e) and "session-state" not in json.dumps(e)]
    assert not errors, json.dumps(errors)[:2000]


def test_decide_runs_from_the_bash_tool(compact):
    """The skill's `session-state decide` works inside Claude Code: found on the Bash tool's PATH
    (SessionStart's CLAUDE_ENV_FILE line) and recorded, not an error.  (2.1.330 gives tools no
    CLAUDE_PLUGIN_DATA: until b4bbc42 the command ran under a bare python3 and died on
    `import filelock`.)"""
    work = compact.need("work")
    res = _decide_result(work)
    assert res is not None, "no tool result for the decide command:\n" + work.describe()
    content = json.dumps(res.get("content"))
    assert not res.get("is_error"), f"`{DECIDE_CMD}` failed in the Bash tool: {content[:3000]}"
    assert "recorded decision" in content, content[:2000]
    env = compact.values["env"]
    decisions = (env.state_root() / "decisions.toon").read_text(encoding="utf-8")
    assert DECISION in decisions and WHY in decisions, decisions


def test_session_state_found_on_bash_path(compact):
    """SessionStart's CLAUDE_ENV_FILE line puts <plugin>/bin on the Bash tool's PATH, and the
    Bash tool runs the plugin's own script (whatever that script then says)."""
    env = compact.values["env"]
    work = compact.need("work")
    res = _decide_result(work)
    assert res is not None, work.describe()
    content = res.get("content") if isinstance(res.get("content"), str) else json.dumps(res.get("content"))
    assert "command not found" not in content, content[:2000]
    # 2.1.330: CLAUDE_ENV_FILE is ~/.claude/session-env/<session>/sessionstart-hook-<n>.sh, and a
    # directory marketplace's plugin runs from its source folder (CLAUDE_PLUGIN_ROOT), not the cache
    files = sorted((env.home / ".claude" / "session-env" / work.session_id).glob("sessionstart-hook-*.sh"))
    lines = [ln for f in files for ln in f.read_text().splitlines() if ln.startswith("export PATH=")]
    assert lines and all("/bin:" in ln for ln in lines), (files, lines)
    plugin_bin = lines[0][len("export PATH="):].split(":")[0].strip("'\"")
    assert "recorded decision" in content or f"{plugin_bin}/_run.py" in content, content[:2000]


def test_compaction_prompt_carries_precompact_instructions(compact):
    env = compact.values["env"]
    work, comp = compact.need("work", "compact")
    sid = work.session_id
    kinds = [r.kind for r in comp.requests]
    assert kinds == ["compaction"], comp.describe()
    prompt = comp.requests[0].last_user_text
    handoff = str(env.session_dir(sid) / "handoff.toon")
    for needle in (PRECOMPACT_HEAD, f"- The task in hand: {ACTIVE_SUBJECT}",
                   f"- The next step: finish the task in progress: {ACTIVE_SUBJECT}",
                   f"[in_progress] {ACTIVE_SUBJECT}", f"That the full handoff is saved at {handoff}"):
        assert needle in prompt, f"{needle!r} not in the compaction request's prompt:\n{prompt[-3000:]}"


def _after_compact_context(compact) -> tuple[Recorded, str, str]:
    env = compact.values["env"]
    work, comp, after = compact.need("work", "compact", "after")
    sid = work.session_id
    req = first_model_request(after)
    # the FIRST request after the compaction request: nothing in between
    between = [r for r in env.api.requests if comp.requests[0].n < r.n < req.n and r.kind == "messages"]
    assert not between, [r.summary() for r in between]
    handoff = str(env.session_dir(sid) / "handoff.toon")
    ctxs = hook_contexts(req, "SessionStart")
    carrying = [(role, t) for role, t in ctxs if t.startswith(COMPACT_HEAD)]
    assert carrying, "no compact handoff in the first request after /compact\n" + describe(req)
    assert len(carrying) == 1, "the compact handoff was injected more than once\n" + describe(req)
    role, ctx = carrying[0]
    return req, role, ctx[: ctx.find(handoff) + len(handoff)] if handoff in ctx else ctx


def test_after_compaction_handoff_has_task_status_next_step_and_path(compact):
    env = compact.values["env"]
    sid = compact.need("work").session_id
    req, role, ctx = _after_compact_context(compact)
    assert role == "system", f"the handoff came as a {role!r} message\n" + describe(req)
    handoff = str(env.session_dir(sid) / "handoff.toon")
    for needle in (f"[in_progress] {ACTIVE_SUBJECT}", f"[pending] {DROPPED_SUBJECT}", f"[completed] {DONE_SUBJECT}",
                   f"finish the task in progress: {ACTIVE_SUBJECT}"):
        assert needle in ctx, (needle, ctx)
    assert ctx.rstrip().endswith(handoff_footer(sid, Path(handoff))), ctx[-500:]
    for noise in ("user_language", "to_agent", "tokens_reserved", "estimated with", "recent_checkpoints"):
        assert noise not in ctx, (noise, ctx)


def test_after_compaction_the_items_the_summary_dropped_come_first(compact):
    """The stand-in API's summary drops the third task and the decision: the injected text leads
    with both, and names what the summary kept only after them, briefly."""
    comp = compact.need("compact")
    summary = [r for r in comp.requests if r.kind == "compaction"]
    assert summary and "Primary Request and Intent: plan the" in json.dumps(summary[0].reply), comp.describe()  # clipped record
    req, role, ctx = _after_compact_context(compact)
    body = ctx.split("\n", 1)[1].lstrip()
    assert body.startswith(LEAD), ctx
    lead, _, held = body.partition(ALSO)
    assert f"[pending] {DROPPED_SUBJECT}" in lead and DECISION in lead and WHY in lead, ctx
    assert ACTIVE_SUBJECT not in lead.split("Next step:")[0] and f"[in_progress] {ACTIVE_SUBJECT}" in held, ctx


def test_after_compaction_handoff_has_the_decision(compact):
    comp = compact.need("compact")
    req, role, ctx = _after_compact_context(compact)
    assert f"{DECISION} — because {WHY}" in ctx, ctx
    prompt = comp.requests[0].last_user_text
    assert f"- Decisions (with reasons): {DECISION} ({WHY})" in prompt, prompt[-2000:]


# ---------------------------------------------------------------------------------------------
# 2. /clear raced by a fresh session


@pytest.fixture(scope="module")
def clear(plug, e2e_notes):
    env = plug.project("clear")
    s = Steps()
    s.values["env"] = env
    rounds: list[dict] = []
    s.values["rounds"] = rounds
    for i in range(CLEAR_ROUNDS):
        subject, form = f"Port the exporter, round {i}", f"Porting the exporter (round {i})"
        plug.api.add_rule(f"clear {i}: plan the exporter", [
            tool_use("TaskCreate", {"subject": subject, "description": "port it", "activeForm": form}),
            tool_use("TaskUpdate", {"taskId": "1", "status": "in_progress"}),
            text(f"Exporter port started (round {i})."),
        ])
        rd: dict[str, Any] = {"i": i, "subject": subject, "form": form}
        rounds.append(rd)
        old = s.run(f"old{i}", lambda: env.prompt(f"clear {i}: plan the exporter",
                                                   allowed_tools=["TaskCreate", "TaskUpdate"]))
        if not isinstance(old, Run):
            continue
        rd["old"] = old.session_id
        s.run(f"old{i}_handoff", lambda: wait_for(handoff_has(env, old.session_id, subject), STATE_WAIT_S))
        out: dict[str, Any] = {}

        def go(key: str, fn: Callable[[], Run]) -> None:
            try:
                out[key] = fn()
            except BaseException as e:  # noqa: BLE001
                out[key] = e

        fresh_prompt = f"clear {i}: hello from a session started at the same time"
        rd["fresh_prompt"] = fresh_prompt
        t0 = time.monotonic()
        threads = [threading.Thread(target=go, args=("clear", lambda: env.prompt("/clear", resume=old.session_id))),
                   threading.Thread(target=go, args=("fresh", lambda: env.prompt(fresh_prompt)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        s.times[f"race{i}"] = time.monotonic() - t0
        for key in ("clear", "fresh"):
            if isinstance(out[key], BaseException):
                s.errors[f"race{i}_{key}"] = f"{type(out[key]).__name__}: {out[key]}"
            else:
                rd[key] = out[key]
        if isinstance(rd.get("clear"), Run):
            new = rd["clear"].session_id
            rd["new"] = new
            rd["after"] = s.run(f"after{i}", lambda: env.prompt(f"clear {i}: first prompt after the clear", resume=new))
    # A session started after all of that: every cleared handoff is claimed by then.
    s.run("later", lambda: env.prompt("clear: a session started later"))
    _note_times(e2e_notes, "clear", s)
    return s


def _rounds(clear) -> list[dict]:
    rounds = clear.values["rounds"]
    for rd in rounds:
        clear.need(f"old{rd['i']}")
        for key in ("clear", "fresh"):
            err = clear.errors.get(f"race{rd['i']}_{key}")
            if err:
                pytest.fail(f"round {rd['i']}: {key} failed: {err}")
    assert len(rounds) == CLEAR_ROUNDS
    return rounds


def test_clear_makes_a_new_session_that_names_the_old_one(clear):
    env = clear.values["env"]
    for rd in _rounds(clear):
        old, run = rd["old"], rd["clear"]
        # /clear calls no model (run.requests may hold the concurrent session's requests)
        assert rd["new"] != old and not requests_of(run, rd["new"]) and not requests_of(run, old), run.describe()
        st = wait_for(lambda: (load_state(env, rd["new"]) or {}).get("lineage", {}).get("previous_session_id"), STATE_WAIT_S)
        new_state = load_state(env, rd["new"]) or {}
        assert (new_state.get("lineage") or {}).get("previous_session_id") == old, (
            f"round {rd['i']}: state of {rd['new']} after /clear of {old}: lineage {new_state.get('lineage')} ({st})")
        old_state = load_state(env, old) or {}
        assert (old_state.get("lineage") or {}).get("cleared_into") == rd["new"], old_state.get("lineage")
        claimed = env.session_dir(old) / "claimed"
        assert claimed.read_text() == rd["new"], f"claimed marker of {old}: {claimed.read_text()!r}"


def test_clear_heir_gets_the_old_handoff(clear):
    env = clear.values["env"]
    for rd in _rounds(clear):
        clear.need(f"after{rd['i']}")
        old, new = rd["old"], rd["new"]
        reqs = requests_of(rd["after"], new)
        assert reqs, rd["after"].describe()
        req = reqs[0]
        handoff = str(env.session_dir(old) / "handoff.toon")
        heads = [t for role, t in hook_contexts(req, "SessionStart")
                 if role == "system" and t.startswith(f"{CLEAR_HEAD} ({old}): this session continues its work.")]
        assert len(heads) == 1, f"round {rd['i']}: heir {new} of {old}\n" + describe(req)
        ctx = heads[0]
        assert f"[in_progress] {rd['subject']}" in ctx, ctx
        assert f"finish the task in progress: {rd['subject']}" in ctx, ctx
        assert handoff_footer(old, Path(handoff)) in ctx, ctx


def test_concurrent_session_does_not_get_the_cleared_handoff(clear):
    """The session started at the same moment as the /clear gets none of the old session's handoff:
    no handoff text, no task, no next step.  At most a content-free one-line pointer (exactly
    CONTENT_FREE_POINTER, naming a session and its handoff path)."""
    env = clear.values["env"]
    problems: list[str] = []
    for rd in _rounds(clear):
        fresh: Run = rd["fresh"]
        reqs = requests_of(fresh, fresh.session_id)
        assert reqs, fresh.describe()
        req = reqs[0]
        assert req.last_user_text == rd["fresh_prompt"], describe(req)
        exact = transcript_contexts(env.transcript(fresh.session_id), "SessionStart")
        ours = [t for t in exact if "session-state" in t]
        sent = request_text(req)
        for t in ours:
            assert t in sent, f"transcript context not in the request: {t!r}\n" + describe(req)
        old_handoff = str(env.session_dir(rd["old"]) / "handoff.toon")
        content = (rd["subject"], rd["form"], CLEAR_HEAD, "Next step:", "Tasks:")
        leaked = [t for t in ours if any(x in t for x in content)]
        # a pointer at the old session must be exactly the content-free one
        about_old = [t for t in ours if rd["old"] in t or old_handoff in t]
        shapes = [t for t in about_old if not CONTENT_FREE_POINTER.fullmatch(t.strip())]
        if leaked or shapes:
            problems.append(f"round {rd['i']} (old {rd['old']}, fresh {fresh.session_id}): session-state "
                            f"contexts {json.dumps(ours, indent=1)}")
    assert not problems, "\n".join(problems)


def test_concurrent_session_never_gets_the_full_handoff(clear):
    """Whatever the order of the race, the full handoff goes to the /clear heir only."""
    for rd in _rounds(clear):
        fresh: Run = rd["fresh"]
        req = requests_of(fresh, fresh.session_id)[0]
        full = [t for _, t in hook_contexts(req, "SessionStart") if CLEAR_HEAD in t or "Tasks:" in t]
        assert not full, f"round {rd['i']}: the concurrent session got a handoff\n" + describe(req)


def test_session_started_after_the_clears_gets_no_cleared_handoff(clear):
    env = clear.values["env"]
    later: Run = clear.need("later")
    req = first_model_request(later)
    ours = [t for t in transcript_contexts(env.transcript(later.session_id), "SessionStart") if "session-state" in t]
    olds = {rd["old"] for rd in clear.values["rounds"]}
    for t in ours:
        assert not any(o in t for o in olds), f"a claimed handoff was offered again: {t!r}"
        assert CONTENT_FREE_POINTER.match(t.strip()) or "session-state: the previous session here" in t, t
    assert all(CLEAR_HEAD not in t for _, t in hook_contexts(req, "SessionStart")), describe(req)


# ---------------------------------------------------------------------------------------------
# 3. fork


@pytest.fixture(scope="module")
def fork(plug, e2e_notes):
    env = plug.project("fork")
    s = Steps()
    s.values["env"] = env
    plug.api.add_rule("fork: plan the importer", [
        tool_use("TaskCreate", {"subject": "Write the importer", "description": "d", "activeForm": "Writing the importer"}),
        text("Importer planned."),
    ])
    parent = s.run("parent", lambda: env.prompt("fork: plan the importer", allowed_tools=["TaskCreate"]))
    if isinstance(parent, Run):
        pid = parent.session_id
        s.run("parent_state", lambda: wait_for(handoff_has(env, pid, "Write the importer"), STATE_WAIT_S))
        child = s.run("fork", lambda: env.prompt("fork: work on a forked branch", resume=pid, fork=True))
        if isinstance(child, Run):
            cid = child.session_id
            # the fork's lineage is settled by the refresh its Stop starts (bounded wait)
            s.run("fork_lineage", lambda: wait_for(
                lambda: ((load_state(env, cid) or {}).get("lineage") or {}).get("parent_session_id"), STATE_WAIT_S))
            s.values["parent_state_before"] = load_state(env, pid)
            # a hook that refreshes the parent: resume it
            s.run("parent_again", lambda: env.prompt("fork: back on the parent", resume=pid))
            s.run("parent_forks", lambda: wait_for(
                lambda: ((load_state(env, pid) or {}).get("lineage") or {}).get("forks"), 10))
    if "parent" in s.values and isinstance(s.values.get("fork"), Run):
        pid, cid = s.values["parent"].session_id, s.values["fork"].session_id
        before = ((s.values.get("parent_state_before") or {}).get("lineage") or {}).get("forks")
        after = ((load_state(env, pid) or {}).get("lineage") or {}).get("forks")
        e2e_notes.append(f"e2e continuity fork: parent lineage.forks before a parent hook {before}, "
                         f"after one {after} (fork {cid})")
    _note_times(e2e_notes, "fork", s)
    return s


def test_fork_is_a_new_session_with_a_fork_start(fork):
    env = fork.values["env"]
    parent, child = fork.need("parent", "fork")
    assert child.session_id != parent.session_id
    st = load_state(env, child.session_id)
    assert st is not None, f"no state.json for the fork {child.session_id}"
    assert "fork" in (st.get("lineage") or {}).get("sources", []), st.get("lineage")
    req = first_model_request(child)
    ctxs = [t for _, t in hook_contexts(req, "SessionStart") if t.startswith("session-state: this session is")]
    assert ctxs, describe(req)
    # at SessionStart(fork) 2.1.330 has not written the fork's transcript: the parent is unknown then
    assert ctxs[0].startswith("session-state: this session is a fork;"), ctxs[0]


def test_fork_state_names_its_parent(fork):
    env = fork.values["env"]
    parent, child = fork.need("parent", "fork")
    lineage = (load_state(env, child.session_id) or {}).get("lineage") or {}
    assert lineage.get("parent_session_id") == parent.session_id, (
        f"fork {child.session_id} of {parent.session_id}: lineage {lineage}")


def test_parent_state_lists_the_fork_after_a_parent_hook(fork):
    env = fork.values["env"]
    parent, child = fork.need("parent", "fork")
    fork.need("parent_again")
    lineage = (load_state(env, parent.session_id) or {}).get("lineage") or {}
    assert child.session_id in (lineage.get("forks") or []), (
        f"parent {parent.session_id} after a resume: lineage {lineage}; before it: "
        f"{(fork.values.get('parent_state_before') or {}).get('lineage')}")


# ---------------------------------------------------------------------------------------------
# 4. budget told in time


@pytest.fixture(scope="module")
def budget(plug, e2e_notes):
    s = Steps()
    env = plug.project("budget")
    s.values["env"] = env
    plug.api.add_rule("budget: a big turn", [text("Big context now.", usage={"input_tokens": BIG_INPUT})])
    prompts = ["budget: a first small turn", "budget: a big turn", "budget: the next prompt", "budget: the prompt after"]
    s.run("conversation", lambda: converse(env, prompts, ["--model", BUDGET_MODEL], name="budget-stream"))
    # the same across -p --resume runs (each a new process: SessionStart(resume) runs first)
    renv = plug.project("budget-resume")
    s.values["renv"] = renv
    plug.api.add_rule("budget/resume: a big turn", [text("Big context now.", usage={"input_tokens": BIG_INPUT})])
    m = ["--model", BUDGET_MODEL]
    first = s.run("r1", lambda: renv.prompt("budget/resume: a first small turn", extra_args=m))
    if isinstance(first, Run):
        sid = first.session_id
        s.run("r2", lambda: renv.prompt("budget/resume: a big turn", resume=sid, extra_args=m))
        s.run("r3", lambda: renv.prompt("budget/resume: the next prompt", resume=sid, extra_args=m))
        s.run("r4", lambda: renv.prompt("budget/resume: the prompt after", resume=sid, extra_args=m))
    _note_times(e2e_notes, "budget", s)
    return s


def _notices(req: Recorded) -> list[tuple[str, str, str]]:
    return [(ev, role, t) for ev in ("UserPromptSubmit", "SessionStart") for role, t in hook_contexts(req, ev)
            if NOTICE_HEAD in t]


def test_budget_warning_told_at_the_next_prompt_once(budget):
    env = budget.values["env"]
    conv: Conversation = budget.need("conversation")
    assert conv.returncode == 0 and len(conv.results) == 4, (conv.returncode, conv.stderr[-2000:])
    assert {r.get("session_id") for r in conv.results} == {conv.session_id}
    firsts = []
    for i, reqs in enumerate(conv.requests):
        msgs = [r for r in reqs if r.kind in ("messages", "compaction")]
        assert [r.kind for r in msgs] == ["messages"], f"prompt {i}: {[r.summary() for r in msgs]}"
        assert msgs[0].body.get("model") == BUDGET_MODEL
        firsts.append(msgs[0])
    big, nxt, after = firsts[1], firsts[2], firsts[3]
    assert not _notices(big), describe(big)
    told = [(ev, t) for ev, role, t in _notices(nxt)]
    assert len(told) == 1 and told[0][0] == "UserPromptSubmit", (
        "the prompt after the 160k turn should carry exactly one UserPromptSubmit budget notice\n" + describe(nxt))
    notice = told[0][1]
    for advice in NOTICE_ADVICE:
        assert advice in notice, notice
    assert str(env.session_dir(conv.session_id) / "handoff.toon") in notice, notice
    # the prompt after it: the notice is in the history once (the CLI resends earlier context),
    # not told again
    again = [(ev, t) for ev, role, t in _notices(after)]
    assert len(again) <= 1, "the budget notice was told again\n" + describe(after)
    exact = [t for t in transcript_contexts(env.transcript(conv.session_id)) if NOTICE_HEAD in t]
    assert len(exact) == 1, json.dumps(exact, indent=1)


def test_budget_warning_told_once_across_resumed_runs(budget):
    """With `-p --resume` each prompt is a new process whose SessionStart(resume) runs before
    UserPromptSubmit and takes the pending notice (measured on 2.1.330): the warning comes in the
    next run's first request, once."""
    renv = budget.values["renv"]
    r2, r3, r4 = budget.need("r2", "r3", "r4")
    assert not _notices(first_model_request(r2)), describe(first_model_request(r2))
    told = _notices(first_model_request(r3))
    assert len(told) == 1, describe(first_model_request(r3))
    ev, role, t = told[0]
    assert ev == "SessionStart", f"delivered by {ev}"
    for advice in NOTICE_ADVICE:
        assert advice in t, t
    # r4 resends r3's history (the notice once), nothing new
    assert len(_notices(first_model_request(r4))) <= 1, "told again:\n" + describe(first_model_request(r4))
    exact = [t for t in transcript_contexts(renv.transcript(r3.session_id)) if NOTICE_HEAD in t]
    assert len(exact) == 1, json.dumps(exact, indent=1)


def test_no_hook_failed(plug, compact, clear, fork, budget):
    bad, lines, failed = [], [], []
    for env in [plug.base, *plug.projects.values()]:
        b, ln = env.all_hook_errors()
        bad += b
        lines += ln
        failed += [r.line for r in env.all_hook_runs() if not r.ok]
    # the stream-json conversation's debug log
    from .harness import debug_hook_errors, debug_hook_runs
    for dbg in plug.root.glob("logs-*/debug-budget-stream.log"):
        lines += debug_hook_errors(dbg)
        failed += [r.line for r in debug_hook_runs(dbg) if not r.ok]
    assert not bad and not lines and not failed, json.dumps({"attachments": bad, "errors": lines,
                                                             "failed": failed}, indent=1)[:6000]


# ---------------------------------------------------------------------------------------------
# 5. the thread across three /clear

THREAD_GOAL = "thread: plan the importer work for the billing service"
THREAD_TASKS = [("Map the billing export columns", "Mapping the columns"),
                ("Write the importer", "Writing the importer"),
                ("Reconcile the March totals", "Reconciling the totals")]
THREAD_DECISION, THREAD_WHY = "import with pandas chunks", "the exports reach 2 GB"


@pytest.fixture(scope="module")
def thread(plug, e2e_notes):
    env = plug.project("thread")
    s = Steps()
    s.values["env"] = env
    plug.api.add_rule(THREAD_GOAL, planning_steps(THREAD_TASKS, f'session-state decide "{THREAD_DECISION}" --why "{THREAD_WHY}"',
                                                  "Planned the importer and recorded the decision."))
    work = s.run("work", lambda: env.prompt(THREAD_GOAL, allowed_tools=["Bash", "TaskCreate", "TaskUpdate"]))
    chain = [work.session_id] if isinstance(work, Run) else []
    s.values["chain"] = chain
    if chain:
        s.run("handoff_ready", lambda: require(wait_for(handoff_has(env, chain[0], THREAD_TASKS[1][0]), STATE_WAIT_S),
                                               "the first handoff never named the task in progress"))
    for n in range(1, 4):
        if len(chain) != n:
            break
        cleared = s.run(f"clear{n}", lambda: env.prompt("/clear", resume=chain[-1]))
        if not isinstance(cleared, Run):
            break
        chain.append(cleared.session_id)
        s.run(f"prompt{n}", lambda: env.prompt(f"thread: round {n} after the clear", resume=chain[-1]))
    _note_times(e2e_notes, "thread", s)
    return s


def test_three_clears_keep_the_task_list_goal_decision_and_chain(thread):
    """The model's first request after the third /clear (its first prompt) carries the original
    task list with status, the goal, the decision and names the sessions before it."""
    env = thread.values["env"]
    after = thread.need("prompt3")
    chain = thread.values["chain"]
    assert len(chain) == 4 and len(set(chain)) == 4, chain
    req = requests_of(after, chain[-1])[0]
    heads = [t for role, t in hook_contexts(req, "SessionStart") if t.startswith(CLEAR_HEAD)]
    assert len(heads) == 1, describe(req)
    ctx = heads[0]
    for needle in (f"[completed] {THREAD_TASKS[0][0]}", f"[in_progress] {THREAD_TASKS[1][0]}",
                   f"[pending] {THREAD_TASKS[2][0]}", THREAD_GOAL, f"{THREAD_DECISION} — because {THREAD_WHY}",
                   f"{chain[0]} (cleared) → {chain[1]} (cleared) → {chain[2]}"):
        assert needle in ctx, (needle, ctx)
    # and the third heir's own handoff carries the thread on to the next /clear or compaction
    own = (env.session_dir(chain[-1]) / "handoff.toon").read_text(encoding="utf-8")
    assert THREAD_TASKS[2][0] in own and THREAD_GOAL in own and f"{chain[2]} (cleared)" in own, own

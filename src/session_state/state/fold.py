"""The session's state: the journal folded into one validated `SessionState`.

Everything here is derived from the transcript and the hook inputs (via the journal), so a
lost or corrupt state file can be rebuilt from the latest checkpoint plus the journal.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from collections.abc import Callable
from typing import Any

from session_state.core import facts, journal, paths
from session_state.state import store
from session_state.state.models import Command, Compaction, Failure, FileTouch, Request, SessionState, Subagent, Task, TaskStatus, Totals

KEEP_REQUESTS = 12
KEEP_FAILURES = 5
KEEP_FILES = 60
KEEP_COMMANDS = 20
KEEP_SUBAGENTS = 20
KEEP_SEEN = 4000
KEEP_COMPACTIONS = 20
REQUEST_CHARS = 600
PATH_CHARS = 500
SUBJECT_CHARS = 300  # a task's subject in the state (facts carry up to facts.PROMPT_CHARS)

_STATUS_MAP: dict[str, TaskStatus] = {
    "pending": "pending",
    "in_progress": "in_progress",
    "in-progress": "in_progress",
    "completed": "completed",
    "done": "completed",
    "blocked": "blocked",
    "failed": "failed",
    "cancelled": "failed",
    "canceled": "failed",
}


def new_state(session_id: str, project: Path) -> SessionState:
    now = journal.now_iso()
    return SessionState(session_id=session_id, project=str(project), created=now, updated=now)


def load(session_dir: Path) -> SessionState | None:
    """The saved state; raises store.CorruptFile (after setting the file aside) when unusable."""
    return store.read_model(session_dir / paths.STATE, SessionState)


def save(session_dir: Path, state: SessionState) -> None:
    store.write_model(session_dir / paths.STATE, state)


def fold(state: SessionState, records: list[dict[str, Any]]) -> bool:
    """Apply journal facts in order; returns whether anything changed. Repeated ids are skipped."""
    seen = set(state.seen_ids)
    changed = False
    for fact in records:
        fid = fact.get("id")
        if not isinstance(fid, str) or fid in seen:
            continue
        seen.add(fid)
        state.seen_ids.append(fid)
        try:
            changed |= _apply(state, fact)
        except (TypeError, ValueError, KeyError, AttributeError):
            continue  # one malformed fact must not stop the rest
    if len(state.seen_ids) > KEEP_SEEN:
        del state.seen_ids[: len(state.seen_ids) - KEEP_SEEN]
    if changed:
        state.updated = journal.now_iso()
    return changed


def _apply(state: SessionState, fact: dict[str, Any]) -> bool:
    """Apply one fact through its kind's handler; a kind this version does not know is ignored.

    A journal written by a newer version may hold kinds added since: folding must go on.
    """
    handler = HANDLERS.get(fact["k"])
    return False if handler is None else handler(state, fact, fact.get("ts"))


def _on_prompt(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    return _request(state, str(fact.get("text") or "").strip(), ts)


def _on_todos(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    """TodoWrite sends the whole list: it replaces the previous one."""
    items = [i for i in fact.get("items") or [] if isinstance(i, dict)]
    kept = [t for t in state.tasks if t.source != "TodoWrite"]
    todos = [
        Task(
            id=f"todo-{n + 1}",
            subject=str(item.get("content") or item.get("subject") or "")[:SUBJECT_CHARS],
            status=_status(item.get("status")),
            active_form=_opt_str(item.get("activeForm")),
            source="TodoWrite",
            updated=ts,
        )
        for n, item in enumerate(items)
    ]
    state.tasks = _drop_inherited(kept, {t.subject for t in todos}) + todos
    return True


def _on_task_create(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    task_id = str(fact.get("task_id") or fact["id"])
    existing = _task(state, task_id)
    subject = str(fact.get("subject") or fact.get("description") or task_id)[:SUBJECT_CHARS]
    if existing is None:
        state.tasks = _drop_inherited(state.tasks, {subject})
        state.tasks.append(Task(id=task_id, subject=subject, active_form=_opt_str(fact.get("activeForm")), updated=ts))
    else:
        existing.subject = subject
    return True


def _on_task_update(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    task = _task(state, str(fact.get("task_id")))
    status = str(fact.get("status") or "")
    if task is None:
        if status == "deleted":
            return False
        task = Task(id=str(fact.get("task_id")), subject=str(fact.get("subject") or fact.get("task_id")))
        state.tasks.append(task)
    if status == "deleted":
        state.tasks.remove(task)
        return True
    if status:
        task.status = _status(status)
    if fact.get("blocked_by") and task.status == "pending":
        task.status = "blocked"
    if fact.get("subject"):
        task.subject = str(fact["subject"])[:SUBJECT_CHARS]
    task.updated = ts
    return True


def _on_file(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    return _touch(state, str(fact.get("path") or ""), str(fact.get("op") or "read"), ts)


def _on_cmd(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    command = str(fact.get("command") or "").strip()
    if not command:
        return False
    state.commands.append(Command(command=command[:facts.CMD_CHARS], ts=ts))
    del state.commands[:-KEEP_COMMANDS]
    return True


def _on_assistant(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    text = _plain(str(fact.get("text") or ""))
    if not text:
        return False
    state.last_assistant = text[:facts.ASSISTANT_CHARS]
    state.next_step = stated_next_step(text)
    return True


def _on_cmd_failed(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    """The latest failure of each command, the last few commands."""
    command = str(fact.get("command") or "").strip()[:facts.CMD_CHARS]
    if not command:
        return False
    state.failures = [f for f in state.failures if f.command != command]
    state.failures.append(Failure(command=command, error=str(fact.get("error") or "")[:facts.ERROR_CHARS], ts=ts))
    del state.failures[:-KEEP_FAILURES]
    return True


def _on_compact(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    state.compactions.append(
        Compaction(
            trigger=_opt_str(fact.get("trigger")),
            pre_tokens=_opt_int(fact.get("pre_tokens")),
            post_tokens=_opt_int(fact.get("post_tokens")),
            ts=ts,
        )
    )
    del state.compactions[:-KEEP_COMPACTIONS]
    return True


def _on_subagent(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    agent_id = str(fact.get("agent_id") or "")
    state.subagents = [s for s in state.subagents if s.agent_id != agent_id]
    state.subagents.append(
        Subagent(
            agent_id=agent_id,
            agent_type=str(fact.get("agent_type") or ""),
            last_message=_plain(str(fact.get("last_message") or ""))[:facts.MESSAGE_CHARS],
            totals=Totals(**(fact.get("totals") or {})),
            ts=ts,
        )
    )
    del state.subagents[:-KEEP_SUBAGENTS]
    return True


def _on_session_end(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    state.status = "ended"
    if fact.get("reason") == "clear":
        state.lineage.sources.append("ended:clear")
    return True


def _on_cleared_into(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    state.lineage.cleared_into = _opt_str(fact.get("session_id"))
    return True


def _on_fork_child(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    child = str(fact.get("session_id") or "")
    if child and child not in state.lineage.forks:
        state.lineage.forks.append(child)
        return True
    return False


def _on_checkpoint_request(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    """Nothing to fold: refresh.materialize reads these requests from the journal itself."""
    return False


GOAL_MIN_WORDS = 5
GOAL_MIN_CHARS = 25
SAME_PROMPT_S = 60.0


def _request(state: SessionState, text: str, ts: str | None) -> bool:
    """Add a typed request; the first substantive one becomes the goal of the work.

    UserPromptSubmit and the transcript both report each prompt, with timestamps that differ in
    their milliseconds (`12:04:11Z`, `12:04:11.760Z`). A fork's transcript is read after its first
    prompt was recorded and brings the parent's earlier prompts first: the second report of a
    prompt (same text within a minute) moves it after them instead of adding it again.
    """
    text = text[:REQUEST_CHARS]
    if not text:
        return False
    when = journal.parse_iso(ts)
    for old in state.requests:
        then = journal.parse_iso(old.ts)
        if old.text == text and (when is None or then is None or abs(when - then) < SAME_PROMPT_S):
            if state.requests[-1] is old:
                return False
            state.requests.remove(old)
            state.requests.append(old)
            return True
    request = Request(text=text, ts=ts)
    state.requests.append(request)
    del state.requests[:-KEEP_REQUESTS]
    if _substantive(text) and (state.goal is None or _earlier(when, journal.parse_iso(state.goal.ts))):
        state.goal = request  # a fork's copied history holds the goal, older than its own first prompt
    return True


def _earlier(when: float | None, than: float | None) -> bool:
    return when is not None and than is not None and when < than


def _substantive(text: str) -> bool:
    """A request that states work (not "yes", "continue" or a slash command)."""
    if text.startswith("/") or len(text) < GOAL_MIN_CHARS:
        return False
    return sum(len(w) >= 3 and w[:1].isalnum() for w in text.split()) >= GOAL_MIN_WORDS


_NEXT_STEP = re.compile(
    r"\b(next|now I|I'll|I will|let me|then I|still (?:need|have) to)\b", re.IGNORECASE
)


def stated_next_step(text: str) -> str | None:
    """The sentence of the model's latest message that says what it does next, in its own words."""
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        sentence = sentence.strip(" -*#>`")
        if len(sentence) >= 12 and _NEXT_STEP.search(sentence):
            return sentence[:300]
    return None


def _plain(text: str) -> str:
    """Message text, never a serialized list of content blocks (a tool result's JSON)."""
    text = text.strip()
    if not text.startswith(("[{", "{")):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return ""  # a cut-off JSON fragment says nothing the model can use
    blocks = data if isinstance(data, list) else [data]
    return "\n".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)).strip()


def _on_inherit(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    """Take the work over from the session this one replaced (/clear): goal, requests, open tasks, chain."""
    prior = str(fact.get("session_id") or "")
    goal = fact.get("goal")
    if state.goal is None and isinstance(goal, str) and goal:
        state.goal = Request(text=goal[:REQUEST_CHARS], ts=_opt_str(fact.get("goal_ts")))
    for item in fact.get("requests") or []:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            _request(state, item["text"], _opt_str(item.get("ts")))
    for item in fact.get("tasks") or []:
        if not isinstance(item, dict) or not item.get("subject"):
            continue
        subject = str(item["subject"])[:SUBJECT_CHARS]
        if any(t.subject == subject for t in state.tasks):
            continue
        state.tasks.append(Task(id=f"from-{prior[:8]}-{item.get('id')}", subject=subject, status=_status(item.get("status")),
                                active_form=_opt_str(item.get("active_form")), source="inherited", updated=_opt_str(item.get("updated"))))
    chain = [str(c) for c in fact.get("chain") or [] if isinstance(c, str)]
    if prior:
        chain.append(f"{prior} ({fact.get('how') or 'cleared'})")
    state.lineage.chain = list(dict.fromkeys(chain + state.lineage.chain))[-20:]
    return True


def _on_session_start(state: SessionState, fact: dict[str, Any], ts: str | None) -> bool:
    source = str(fact.get("source") or "startup")
    lineage = state.lineage
    lineage.sources.append(source)
    del lineage.sources[:-20]
    if source == "resume":
        lineage.resume_count += 1
    if source in ("clear", "fork"):
        state.status = "context_switch"
    elif state.status == "ended":
        state.status = "active"
    if fact.get("previous_session_id"):
        lineage.previous_session_id = str(fact["previous_session_id"])
    if fact.get("parent_session_id"):
        lineage.parent_session_id = str(fact["parent_session_id"])
    if fact.get("model"):
        state.model = str(fact["model"])
    return True


Handler = Callable[[SessionState, dict[str, Any], "str | None"], bool]  # (state, fact, its time) -> changed

# One handler per declared kind (tests/test_facts.py checks the two agree).
HANDLERS: dict[str, Handler] = {
    facts.PROMPT: _on_prompt,
    facts.TODOS: _on_todos,
    facts.TASK_CREATE: _on_task_create,
    facts.TASK_UPDATE: _on_task_update,
    facts.FILE: _on_file,
    facts.CMD: _on_cmd,
    facts.CMD_FAILED: _on_cmd_failed,
    facts.ASSISTANT: _on_assistant,
    facts.COMPACT: _on_compact,
    facts.SUBAGENT: _on_subagent,
    facts.SESSION_START: _on_session_start,
    facts.SESSION_END: _on_session_end,
    facts.CLEARED_INTO: _on_cleared_into,
    facts.FORK_CHILD: _on_fork_child,
    facts.INHERIT: _on_inherit,
    facts.CHECKPOINT_REQUEST: _on_checkpoint_request,
}


def _touch(state: SessionState, path: str, op: str, ts: str | None) -> bool:
    if not path:
        return False
    entry = next((f for f in state.files if f.path == path), None)
    if entry is None:
        entry = FileTouch(path=path[:PATH_CHARS])
    else:
        state.files.remove(entry)
    if op == "read":
        entry.reads += 1
    else:
        entry.edits += 1
    entry.last_op = op
    entry.last_ts = ts
    state.files.append(entry)  # most recent last
    del state.files[:-KEEP_FILES]
    return True


def _drop_inherited(tasks: list[Task], subjects: set[str]) -> list[Task]:
    """An inherited task the session lists again is its own from then on."""
    return [t for t in tasks if not (t.source == "inherited" and t.subject in subjects)]


def _task(state: SessionState, task_id: str) -> Task | None:
    return next((t for t in state.tasks if t.id == task_id), None)


def _status(value: Any) -> TaskStatus:
    return _STATUS_MAP.get(str(value or "pending").lower(), "pending")


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def apply_cursor(state: SessionState, cursor: dict[str, Any], budget: dict[str, Any] | None) -> None:
    """Copy what the transcript cursor knows (model, branch, budget, lineage) into the state."""
    from session_state.state.models import Budget

    state.transcript_path = cursor.get("path") or state.transcript_path
    model = cursor.get("model_selected") or (cursor.get("last_usage") or {}).get("model")
    if model and model != state.model:
        # `[1m]` and letter case do not make another model; a recovered or ended state keeps its mark
        if state.model is not None and _base_model(model) != _base_model(state.model) and state.status not in ("recovered", "ended"):
            state.status = "context_switch"
        state.model = model
    state.git_branch = cursor.get("git_branch") or state.git_branch
    state.cwd = cursor.get("cwd") or state.cwd
    state.claude_version = cursor.get("version") or state.claude_version
    first = cursor.get("first_session_id")
    if first and first != state.session_id and state.lineage.parent_session_id is None:
        state.lineage.parent_session_id = first
    if budget is not None:
        state.budget = Budget.model_validate(budget)
        level = budget.get("level")
        if level in ("warning", "critical"):
            if state.status in ("active", "context_switch"):
                state.status = "token_warning"
        elif state.status == "token_warning":
            state.status = "active"


def _base_model(model: str) -> str:
    return model.lower().removesuffix("[1m]")


GIT_TIMEOUT_S = 2.0
# Nothing a repository's files or the environment set may make `git status` run a program:
# no fsmonitor command, no hooks, no pager, no external diff, no bare repository found by
# walking into a committed folder. Filter drivers cannot be switched off this way: see git_status.
GIT_SAFETY = (
    "-c", "core.fsmonitor=false",
    "-c", "safe.bareRepository=explicit",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.pager=cat",
    "-c", "diff.external=",
    "--no-pager",
    "--no-optional-locks",
)


def git_env(project_dir: Path) -> dict[str, str]:
    """The environment for git: every GIT_* variable dropped (GIT_DIR, GIT_CONFIG_*, GIT_EXTERNAL_DIFF
    ... would choose another repository, config or program), and a PATH of absolute folders
    outside the project, so a `git` planted in the repository is never the one that runs."""
    project = os.path.realpath(project_dir)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GIT_")}
    kept = [
        d for d in os.environ.get("PATH", os.defpath).split(os.pathsep)
        if d and os.path.isabs(d) and os.path.commonpath([os.path.realpath(d), project]) != project
    ]
    env["PATH"] = os.pathsep.join(kept)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"  # messages some callers match (`not a git repository`) in one language
    return env


def git_status(project_dir: Path) -> tuple[str | None, bool | None]:
    """Branch and dirtiness of the project's working tree; (None, None) outside git or on any failure.

    Runs only in the project folder Claude Code named for this hook (never a `cwd` read from a
    transcript or a state file), with GIT_SAFETY, a scrubbed environment and a timeout.

    `git status` runs a filter driver's `clean` command on a file whose stat changed, and the
    repository's own .gitattributes and config choose both: when the repository's own config
    (not the user's or the system's: git-lfs lives there) names any filter, only the branch is
    read and dirtiness is unknown. Submodules, whose configs nobody checked, are not looked into.
    """
    if not os.path.isdir(project_dir):
        return None, None
    filters = _git(project_dir, "config", "--show-scope", "--includes", "--get-regexp", r"^filter\.")
    own_filter = filters is None or any(
        line.split("\t", 1)[0] in ("local", "worktree", "unknown") for line in filters.splitlines())
    if own_filter:  # None: git failed or is too old for --show-scope (2.26); assume the worst
        head = _git(project_dir, "symbolic-ref", "--short", "-q", "HEAD")
        return (head.strip() or None) if head else None, None
    out = _git(project_dir, "status", "--porcelain=v1", "--branch", "--untracked-files=no", "--ignore-submodules=all")
    if out is None:
        return None, None
    lines = out.splitlines()
    branch = None
    if lines and lines[0].startswith("## "):
        head = lines[0][3:]
        for prefix in ("No commits yet on ", "Initial commit on "):  # the latter: git before 2.15
            if head.startswith(prefix):
                head = head[len(prefix) :]
        branch = head.split("...")[0].split(" ")[0]
    return branch, any(line and not line.startswith("##") for line in lines)


def _git(project_dir: Path, *args: str) -> str | None:
    """stdout of one `git` command under GIT_SAFETY in the project, or None when it failed.

    `git config --get-regexp` exits 1 when nothing matches: that is an empty answer, not a failure.
    """
    try:
        out = subprocess.run(
            ["git", *GIT_SAFETY, *args],
            cwd=str(project_dir),
            env=git_env(project_dir),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            text=True,
            errors="replace",
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if out.returncode == 1 and args[:1] == ("config",) and not out.stderr.strip():
        return ""
    return out.stdout if out.returncode == 0 else None

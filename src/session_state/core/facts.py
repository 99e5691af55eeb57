"""The journal's protocol: every kind of fact, the fields it carries and the length its text is cut to.

A fact is one JSON record of `journal.jsonl`: `{"k": kind, "id": fact_id, "ts": time, **fields}`.
The transcript reader and the hooks produce them; `state.fold` consumes them through one handler
per kind. Declaring them here is what lets a test prove, from the source, that every kind a
producer can emit is declared and handled, and what keeps `docs/ARCHITECTURE.md`'s table honest.

Standard library only: the hot tier (the Stop and UserPromptSubmit hooks) imports this module.
"""

from __future__ import annotations

from typing import Any

# Lengths text fields are cut to, after redaction (a secret cut first could escape its pattern).
PROMPT_CHARS = 2000  # a prompt, a task's subject or description, a todo, a file path
ASSISTANT_CHARS = 1000  # the latest assistant text
CMD_CHARS = 300  # a Bash command
ERROR_CHARS = 300  # a failed command's error output
MESSAGE_CHARS = 500  # a subagent's last message
# Text beyond a limit is cut before redaction, keeping this much more than the limit so that a
# secret straddling the limit is still whole (and matched) when the result is cut.
REDACT_MARGIN = 16384


class Kind:
    """One kind of fact: its name, its fields (`limits` cuts the text ones), who writes it, what it means.

    A plain class with slots, not a dataclass: `dataclasses` pulls in `inspect` (about 5 ms of
    imports), and this module is on every Stop hook's path.
    """

    __slots__ = ("fields", "limits", "meaning", "name", "producer")

    def __init__(self, name: str, fields: tuple[str, ...], producer: str, meaning: str,
                 limits: dict[str, int] | None = None) -> None:
        self.name = name
        self.fields = fields
        self.producer = producer
        self.meaning = meaning
        self.limits: dict[str, int] = limits or {}


PROMPT = "prompt"
TODOS = "todos"
TASK_CREATE = "task_create"
TASK_UPDATE = "task_update"
FILE = "file"
CMD = "cmd"
CMD_FAILED = "cmd_failed"
ASSISTANT = "assistant"
COMPACT = "compact"
SUBAGENT = "subagent"
SESSION_START = "session_start"
SESSION_END = "session_end"
CLEARED_INTO = "cleared_into"
FORK_CHILD = "fork_child"
INHERIT = "inherit"
CHECKPOINT_REQUEST = "checkpoint_request"

_TASK_TEXT = {"subject": PROMPT_CHARS, "description": PROMPT_CHARS, "activeForm": PROMPT_CHARS}

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(PROMPT, ("text",), "transcript reader",
             "a user prompt (a request; the first substantive one is the goal)", {"text": PROMPT_CHARS}),
        Kind(TODOS, ("items",), "transcript reader (TodoWrite)",
             "the whole todo list, each item {content, status, activeForm}"),
        Kind(TASK_CREATE, ("task_id", "subject", "description", "activeForm"), "transcript reader (TaskCreate and its result)",
             "a task was created", _TASK_TEXT),
        Kind(TASK_UPDATE, ("task_id", "status", "subject", "description", "activeForm", "owner"),
             "transcript reader (TaskUpdate)", "a task changed status or text", {**_TASK_TEXT, "owner": PROMPT_CHARS}),
        Kind(FILE, ("path", "op"), "transcript reader (Read, Edit, MultiEdit, NotebookEdit, Write)",
             "a file was read, edited or written", {"path": PROMPT_CHARS}),
        Kind(CMD, ("command",), "transcript reader (Bash)", "a command was run", {"command": CMD_CHARS}),
        Kind(CMD_FAILED, ("command", "error"), "transcript reader (a Bash result with is_error)",
             "a command failed", {"command": CMD_CHARS, "error": ERROR_CHARS}),
        Kind(ASSISTANT, ("text",), "transcript reader (the latest text of an update)",
             "what the assistant said last (and the next step it stated)", {"text": ASSISTANT_CHARS}),
        Kind(COMPACT, ("trigger", "pre_tokens", "post_tokens"), "transcript reader (compact_boundary)",
             "the context was compacted"),
        Kind(SUBAGENT, ("agent_id", "agent_type", "last_message", "totals"), "SubagentStop hook",
             "a subagent finished: its last message and token totals", {"last_message": MESSAGE_CHARS}),
        Kind(SESSION_START, ("source", "model", "previous_session_id"), "SessionStart hook",
             "the session started, resumed, was cleared into or compacted"),
        Kind(SESSION_END, ("reason",), "SessionEnd hook", "the session ended"),
        Kind(CLEARED_INTO, ("session_id",), "SessionStart hook (clear), in the predecessor's journal",
             "/clear replaced this session by the one named"),
        Kind(FORK_CHILD, ("session_id",), "lineage (a fork found its parent), in the parent's journal",
             "a session was forked from this one"),
        Kind(INHERIT, ("session_id", "how", "goal", "requests", "tasks", "chain"), "SessionStart hook (clear)",
             "this session takes over its predecessor's goal, requests, tasks and chain"),
        Kind(CHECKPOINT_REQUEST, ("trigger",), "hot tier (a budget threshold was crossed)",
             "take a checkpoint at the next refresh (read by refresh.materialize, not by the fold)"),
    )
}


def make(kind: str, fact_id: str, ts: str | None, **fields: Any) -> dict[str, Any]:
    """One fact record, its text fields cut to their kind's limits.

    Raises ValueError for a kind or field that is not declared: a producer that drifts from the
    protocol fails in its tests rather than writing facts no fold reads.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"fact kind {kind!r} is not declared; declared kinds: {', '.join(KINDS)}")
    unknown = [name for name in fields if name not in spec.fields]
    if unknown:
        raise ValueError(f"fact kind {kind!r}: field(s) {', '.join(unknown)} not declared; accepted: {', '.join(spec.fields)}")
    for name, limit in spec.limits.items():
        value = fields.get(name)
        if isinstance(value, str) and len(value) > limit:
            fields[name] = value[:limit]
    return {"k": kind, "id": fact_id, "ts": ts, **fields}


def line_id(uuid: Any, offset: int, index: int | None = None, suffix: str | None = None) -> str:
    """The id of a fact read from a transcript line: its uuid (or `@offset`), then its content index.

    Rereading the same bytes gives the same id, so the fold drops the repeat.
    """
    parts = [uuid if isinstance(uuid, str) and uuid else f"@{offset}"]
    if index is not None:
        parts.append(str(index))
    if suffix is not None:
        parts.append(suffix)
    return ":".join(parts)


def event_id(*parts: Any) -> str:
    """The id of a fact a hook records: its parts joined by `:` (e.g. `start`, source, time)."""
    return ":".join(str(p) for p in parts)

"""One pydantic model per kind of file session-state writes; writers and readers share them.

Every file is validated when read (`store.read_model`); the hot tier writes its files as
plain JSON and tests/test_hooks.py::test_hot_files_validate_against_their_models proves that
what it writes validates here.
`schema_version` lets a later release migrate old files instead of discarding them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """For files partly written by the hot tier or by newer releases: unknown keys are kept."""

    model_config = ConfigDict(extra="allow")


# --- hot-tier files -------------------------------------------------------------------


class TranscriptCursor(Open):
    v: int
    path: str | None = None
    offset: int = Field(ge=0)


class JournalRecord(Open):
    k: str = Field(min_length=1)
    id: str = Field(min_length=1)
    ts: str | None = None


class UsageRecord(Open):
    ts: str
    event: str
    context_tokens: int | None = None
    source: str | None = None  # where context_tokens came from: response, hook input, compaction...
    window: int | None = None
    percent: float | None = None
    level: str
    turns_left: int | None = None
    cost_usd: float | None = None
    crossed: list[str] | None = None


class ProjectRecord(Strict):
    """project.json in a state root: which project the folder (named by a hash) belongs to."""

    project: str = Field(min_length=1)
    created: str


# --- budget ---------------------------------------------------------------------------


class Totals(Strict):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class Budget(Open):
    context_tokens: int | None = None
    context_window: int
    percent: float | None = None
    level: str
    model: str | None = None
    output_tokens: int = 0
    compacted: bool = False
    totals: Totals = Field(default_factory=Totals)


# --- session state --------------------------------------------------------------------

# Named so the code that builds these models can carry the same closed set of values.
TaskStatus = Literal["pending", "in_progress", "blocked", "completed", "failed"]
SummarySource = Literal["SubagentStop", "PostCompact"]
DecisionBy = Literal["model", "user"]


class Task(Strict):
    id: str
    subject: str
    status: TaskStatus = "pending"
    active_form: str | None = None
    source: Literal["TodoWrite", "TaskCreate", "cli", "inherited"] = "TaskCreate"
    updated: str | None = None


class FileTouch(Strict):
    path: str
    reads: int = 0
    edits: int = 0
    last_op: str = "read"
    last_ts: str | None = None


class Command(Strict):
    command: str
    ts: str | None = None


class Request(Strict):
    text: str
    ts: str | None = None


class Failure(Strict):
    """A command that failed: what was run and the first lines of what it said."""

    command: str
    error: str = ""
    ts: str | None = None


class Subagent(Strict):
    agent_id: str
    agent_type: str = ""
    last_message: str = ""
    totals: Totals = Field(default_factory=Totals)
    ts: str | None = None


class Compaction(Strict):
    trigger: str | None = None
    pre_tokens: int | None = None
    post_tokens: int | None = None
    ts: str | None = None


class Lineage(Strict):
    parent_session_id: str | None = None
    previous_session_id: str | None = None
    cleared_into: str | None = None
    forks: list[str] = Field(default_factory=list)
    resume_count: int = 0
    sources: list[str] = Field(default_factory=list)
    chain: list[str] = Field(default_factory=list)  # earlier sessions of this work, oldest first: "<id> (how it ended)"


class SessionState(Strict):
    schema_version: Literal[1] = 1
    session_id: str = Field(min_length=1)
    project: str
    status: Literal["active", "token_warning", "context_switch", "recovered", "ended"] = "active"
    created: str
    updated: str
    transcript_path: str | None = None
    model: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    cwd: str | None = None
    claude_version: str | None = None
    goal: Request | None = None  # the first substantive request of the work (inherited across /clear)
    requests: list[Request] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    files: list[FileTouch] = Field(default_factory=list)
    commands: list[Command] = Field(default_factory=list)
    subagents: list[Subagent] = Field(default_factory=list)
    compactions: list[Compaction] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    last_assistant: str | None = None
    next_step: str | None = None  # the next step as the model last stated it
    budget: Budget | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    journal_offset: int = Field(default=0, ge=0)
    seen_ids: list[str] = Field(default_factory=list)
    last_checkpoint: str | None = None
    last_checkpoint_at: str | None = None
    recovered_from: str | None = None


class CompactSummary(Strict):
    """Claude Code's summary of one compaction and which handoff items it already holds.

    Written by the compaction's SubagentStop (before SessionStart `compact`, measured on
    2.1.330) and again by PostCompact; PreCompact removes the previous one.
    """

    schema_version: Literal[1] = 1
    ts: str
    source: SummarySource
    text: str
    covered: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)


class Checkpoint(Strict):
    schema_version: Literal[1] = 1
    id: str = Field(min_length=1)
    session_id: str
    created: str
    trigger: str
    budget: Budget | None = None
    state: SessionState


# --- decisions and handoff ---------------------------------------------------------------


class Decision(Strict):
    id: str
    ts: str
    choice: str = Field(min_length=1)
    why: str = ""
    session_id: str | None = None
    by: DecisionBy = "model"


class DecisionLog(Strict):
    schema_version: Literal[1] = 1
    decisions: list[Decision] = Field(default_factory=list)


class SessionContext(Strict):
    session_id: str
    model: str | None = None
    context_position_percent: float | None = None
    available_tokens: int | None = None
    user_language: str | None = None
    chain: list[str] = Field(default_factory=list)  # the sessions this work came through, oldest first


class TaskContext(Strict):
    current_phase: str
    goal: str | None = None
    requests: list[Request] = Field(default_factory=list)  # oldest first
    completed_steps: list[str] = Field(default_factory=list)
    next_step: str
    next_step_stated: bool = False  # next_step is the model's own words, not derived from the task list
    constraints: list[str] = Field(default_factory=list)


class CheckpointRef(Strict):
    id: str
    created: str
    trigger: str


class ContextSnapshot(Strict):
    critical_context: list[str] = Field(default_factory=list)
    recent_checkpoints: list[CheckpointRef] = Field(default_factory=list)
    active_todos: list[Task] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    files: list[FileTouch] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    subagents: list[Subagent] = Field(default_factory=list)


class RecoveryInfo(Strict):
    last_checkpoint: str | None = None
    tokens_reserved: int = 0
    fork_available: bool = True
    resume_command: str | None = None


class HandoffPackage(Strict):
    schema_version: Literal[1] = 1
    handoff_id: str = Field(min_length=1)
    timestamp: str
    from_agent: str
    to_agent: str
    session_context: SessionContext
    task_context: TaskContext
    context_snapshot: ContextSnapshot
    recovery_info: RecoveryInfo
    validated: bool = True  # built through this model (and so checked) before it was written
    flags: list[str] = Field(default_factory=list)

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


MODEL_BY_KIND: dict[str, type[BaseModel]] = {
    "state": SessionState,
    "checkpoint": Checkpoint,
    "handoff": HandoffPackage,
    "decisions": DecisionLog,
    "cursor": TranscriptCursor,
}


def kind_of(data: Any) -> str | None:
    """Guess which model a loaded file belongs to (for `session-state export`)."""
    if not isinstance(data, dict):
        return None
    if "handoff_id" in data:
        return "handoff"
    if "trigger" in data and "state" in data:
        return "checkpoint"
    if "decisions" in data:
        return "decisions"
    if "session_id" in data and "project" in data:
        return "state"
    if "offset" in data and "v" in data:
        return "cursor"
    return None

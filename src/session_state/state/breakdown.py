"""Where the context goes: the current context split by component, as estimates that sum to the
exact total.

Full tier and on demand only (`budget --breakdown`, `budget --json`, the report, the skill): it
reads the whole transcript and tokenizes what the model was sent, which no hook can afford.

What was sent is in the transcript. Claude Code 2.1.330 writes the request's system prompt and
tool schemas (`api-request-shape`), the context it adds as attachments with their `rendered` text
(`skill_listing`, `instructions` = memory files, `agent_listing_delta`, environment, dates...),
`role: system` messages as `api-request-blob`s, and the conversation itself. Older transcripts
have only the conversation: their system prompt and tools are what the usage total leaves over.

Each part is counted with tiktoken scaled by the model family's factor (tokens.py), then all are
scaled by one factor so that they sum to the context total from the usage figures (budget.py),
which is exact; the split between them stays an estimate and says so. Claude Code's own
`/context` does the same for everything but messages and makes messages the remainder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from session_state.state import tokens

# /context's category names where the meaning is the same, so the two can be compared.
SYSTEM_PROMPT = "System prompt"
SYSTEM_TOOLS = "System tools"
MCP_TOOLS = "MCP tools"
CUSTOM_AGENTS = "Custom agents"
MEMORY_FILES = "Memory files"
SKILLS = "Skills"
MESSAGES = "Messages"
SYSTEM_AND_TOOLS = "System and tools"  # older transcripts: not recorded, what the total leaves over
FREE = "Free space"
BUFFER = "Autocompact buffer"
ORDER = (SYSTEM_PROMPT, SYSTEM_TOOLS, MCP_TOOLS, SYSTEM_AND_TOOLS, CUSTOM_AGENTS, MEMORY_FILES, SKILLS, MESSAGES)
USER_TEXT = "user text"
ASSISTANT_TEXT = "assistant text"
TOOL_CALLS = "tool calls"
TOOL_RESULTS = "tool results"
OTHER_CONTEXT = "context Claude Code adds"  # environment, dates, reminders, agent and tool listings
SUMMARY = "compaction summary"
LARGEST = 5  # tool results named
LABEL_CHARS = 80


class _Part:
    __slots__ = ("category", "sub", "label", "text")

    def __init__(self, category: str, sub: str | None, label: str | None, text: str) -> None:
        self.category, self.sub, self.label, self.text = category, sub, label, text


class Collector:
    """One pass over the transcript: what the latest main-chain request held, by component.

    Fed line by line, by `compute` or by the transcript reader's observer (the report, which
    reads the transcript once for everything it shows).
    """

    def __init__(self, red: Callable[[str], str]) -> None:
        self.red = red  # the session's redactor: tool-call labels are conversation text
        self.shape: dict[str, Any] | None = None
        self.parts: list[_Part] = []
        self.tool_names: dict[str, str] = {}
        self.blobs_seen: set[str] = set()
        self.their_view: dict[str, Any] | None = None

    def line(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if obj.get("isSidechain") is True:
            return
        if kind == "api-request-shape" and isinstance(obj.get("shape"), dict):
            self.shape = obj["shape"]
        elif kind == "system" and obj.get("subtype") == "compact_boundary":
            self.parts = []  # the conversation starts over from the summary
            self.blobs_seen = set()
        elif kind == "system" and obj.get("subtype") == "local_command" and isinstance(obj.get("contextUsage"), dict):
            self.their_view = _their_view(obj)
        elif kind == "api-request-blob":
            self._blob(obj)
        elif kind == "attachment":
            self._attachment(obj)
        elif kind == "user":
            self._user(obj)
        elif kind == "assistant":
            self._assistant(obj)

    def _blob(self, obj: dict[str, Any]) -> None:
        """`role: system` messages exist only as blobs (environment and such); others are lines too."""
        message = obj.get("message")
        digest = obj.get("hash")
        if not isinstance(message, dict) or message.get("role") != "system" or digest in self.blobs_seen:
            return
        self.blobs_seen.add(digest if isinstance(digest, str) else "")
        for text in _texts(message.get("content")):
            self.parts.append(_Part(MESSAGES, OTHER_CONTEXT, None, text))

    def _attachment(self, obj: dict[str, Any]) -> None:
        attachment = obj.get("attachment")
        rendered = obj.get("rendered")
        if not isinstance(attachment, dict) or not isinstance(rendered, list):
            return
        text = "\n".join(r["content"] for r in rendered if isinstance(r, dict) and isinstance(r.get("content"), str))
        if not text:
            return
        kind = attachment.get("type")
        if kind == "agent_listing_delta":
            custom = _custom_agent_lines(attachment)
            if custom:
                self.parts.append(_Part(CUSTOM_AGENTS, None, None, custom))
                text = text.replace(custom, "")
            self.parts.append(_Part(MESSAGES, OTHER_CONTEXT, None, text))
        elif kind == "instructions":  # memory files: CLAUDE.md and friends, each named
            for item in attachment.get("files") or []:
                if isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("content"), str):
                    self.parts.append(_Part(MEMORY_FILES, item["path"], None, item["content"]))
                    text = text.replace(item["content"], "", 1)
            self.parts.append(_Part(MEMORY_FILES, None, None, text))
        elif kind == "skill_listing":
            self.parts.append(_Part(SKILLS, None, None, text))
        else:
            self.parts.append(_Part(MESSAGES, OTHER_CONTEXT, None, text))

    def _user(self, obj: dict[str, Any]) -> None:
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if obj.get("isCompactSummary"):
            for text in _texts(content):
                self.parts.append(_Part(MESSAGES, SUMMARY, None, text))
            return
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            return
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                tool_id = block.get("tool_use_id")
                label = self.tool_names.get(tool_id, "tool") if isinstance(tool_id, str) else "tool"
                self.parts.append(_Part(MESSAGES, TOOL_RESULTS, label, _block_text(block.get("content"))))
            elif block.get("type") == "text" and isinstance(block.get("text"), str):
                text = block["text"]
                sub = OTHER_CONTEXT if text.lstrip().startswith("<system-reminder>") or obj.get("isMeta") else USER_TEXT
                self.parts.append(_Part(MESSAGES, sub, None, text))
            elif block.get("type") in ("image", "document"):
                self.parts.append(_Part(MESSAGES, USER_TEXT, None, json.dumps(block.get("source", ""))[:4000]))

    def _assistant(self, obj: dict[str, Any]) -> None:
        message = obj.get("message")
        if not isinstance(message, dict) or message.get("model") == "<synthetic>":
            return
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                self.parts.append(_Part(MESSAGES, ASSISTANT_TEXT, None, block["text"]))
            elif kind == "thinking" and isinstance(block.get("thinking"), str):
                self.parts.append(_Part(MESSAGES, ASSISTANT_TEXT, None, block["thinking"]))
            elif kind == "tool_use":
                name = block.get("name")
                if not isinstance(name, str):
                    name = "tool"
                if isinstance(block.get("id"), str):
                    self.tool_names[block["id"]] = _tool_label(name, block.get("input"), self.red)
                self.parts.append(_Part(MESSAGES, TOOL_CALLS, name, f"{name} {json.dumps(block.get('input'))}"))

    def system_parts(self) -> list[_Part]:
        """The request's system prompt and tool schemas, from the latest recorded shape."""
        if self.shape is None:
            return []
        out = [_Part(SYSTEM_PROMPT, None, None, text) for text in _texts(self.shape.get("system"))]
        for tool in self.shape.get("tools") or []:
            if not isinstance(tool, dict):
                continue
            name = tool.get("name")
            if not isinstance(name, str):
                name = ""
            schema = json.dumps(tool, separators=(",", ":"), ensure_ascii=False)
            if name.startswith("mcp__"):
                server = name.split("__")[1] if name.count("__") >= 2 else name
                out.append(_Part(MCP_TOOLS, server, name, schema))
            else:
                out.append(_Part(SYSTEM_TOOLS, None, name, schema))
        return out


def compute(path: str, current: dict[str, Any], red: Callable[[str], str]) -> dict[str, Any]:
    """The breakdown of `current` (a budget object of the same transcript) by component;
    `red` redacts the labels (redactor.for_settings)."""
    collector = Collector(red)
    for obj in _lines(path):
        collector.line(obj)
    return of(collector, current)


def of(collector: Collector, current: dict[str, Any]) -> dict[str, Any]:
    """The breakdown of `current` from what `collector` was fed (the lines of the same transcript)."""
    model = current.get("model") if isinstance(current.get("model"), str) else None
    parts = collector.system_parts() + collector.parts
    counted = [(part, tokens.estimate(part.text, model)["tokens"]) for part in parts]
    method = tokens.estimate("", model)["method"]
    total = current.get("context_tokens")
    raw: dict[str, float] = {}
    for part, n in counted:
        raw[part.category] = raw.get(part.category, 0) + n
    estimated = sum(raw.values())
    recorded = collector.shape is not None
    if isinstance(total, int):
        if recorded or estimated > total:
            scale = total / estimated if estimated else 0.0
        else:  # older transcript: messages as counted, the system prompt and tools the rest
            scale = 1.0
            raw[SYSTEM_AND_TOOLS] = total - estimated
    else:
        scale = 1.0
    scaled = {name: value * scale for name, value in raw.items()}
    whole = _round_to(scaled, total if isinstance(total, int) else round(sum(scaled.values())))
    categories = [{"name": name, "tokens": whole[name]} for name in ORDER if name in whole]
    messages = _sub(counted, MESSAGES, scale)
    if messages:
        next(c for c in categories if c["name"] == MESSAGES)["parts"] = messages
    for name, key in ((MCP_TOOLS, "servers"), (MEMORY_FILES, "files")):
        named = _sub(counted, name, scale)
        if named:
            next(c for c in categories if c["name"] == name)[key] = named
    window = current.get("context_window")
    limit = current.get("autocompact_at")
    if isinstance(window, int) and isinstance(limit, int) and isinstance(total, int):
        categories.append({"name": FREE, "tokens": max(limit - total, 0)})
        categories.append({"name": BUFFER, "tokens": max(window - limit, 0)})
    results = sorted(
        ((part.label or "tool", n * scale) for part, n in counted if part.sub == TOOL_RESULTS),
        key=lambda item: -item[1],
    )
    found: dict[str, Any] = {
        "estimate": True,
        "total": total,
        "method": f"{method}, scaled ×{scale:.3f} to the context from usage" if scale != 1.0 else method,
        "source": "request shape and attachments (2.1.330+)" if recorded else "messages only (older transcript)",
        "categories": categories,
        "largest_tool_results": [{"name": name, "tokens": round(n)} for name, n in results[:LARGEST]],
    }
    if collector.their_view is not None:
        found["claude_code_context"] = collector.their_view
    return found


def against_context(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Ours beside Claude Code's latest `/context`, per category: ours, theirs, (ours − theirs) / theirs.

    Empty when the transcript has no `/context` output. Deferred tools are not in the context
    (their schemas load on demand), so /context's "System tools (deferred)" is left out.
    """
    view = found.get("claude_code_context")
    if not view:
        return []
    ours = {c["name"]: c["tokens"] for c in found["categories"]}
    theirs = {c["name"]: c["tokens"] for c in view["categories"] if c.get("kind") != "deferred"}
    rows = []
    for name in (*ORDER, FREE, BUFFER):
        if name in ours or name in theirs:
            mine, other = ours.get(name, 0), theirs.get(name, 0)
            error = round((mine - other) * 100 / other, 1) if other else None
            rows.append({"category": name, "ours": mine, "context": other, "error_pct": error})
    return rows


def _their_view(obj: dict[str, Any]) -> dict[str, Any]:
    """What Claude Code's own `/context` said, from its `local_command` line (2.1.330 keeps the
    figures as `contextUsage`): shown beside ours, and what the calibration compares with."""
    usage = obj["contextUsage"]
    categories = [
        {"name": c["name"], "tokens": c["tokens"], "kind": c.get("kind")}
        for c in usage.get("categories") or []
        if isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("tokens"), int)
    ]
    return {
        "timestamp": obj.get("timestamp") if isinstance(obj.get("timestamp"), str) else None,
        "total": usage.get("total_tokens") if isinstance(usage.get("total_tokens"), int) else None,
        "categories": categories,
    }


def _sub(counted: list[tuple[_Part, int]], category: str, scale: float) -> list[dict[str, Any]]:
    """The parts of one category by sub-kind (messages), server (MCP) or file (memory), largest first."""
    sums: dict[str, float] = {}
    for part, n in counted:
        if part.category == category and part.sub:
            sums[part.sub] = sums.get(part.sub, 0) + n * scale
    return [{"name": k, "tokens": round(v)} for k, v in sorted(sums.items(), key=lambda kv: -kv[1])]


def _round_to(values: dict[str, float], total: int) -> dict[str, int]:
    """Whole numbers that sum to `total` exactly (largest remainder), never below zero."""
    floors = {k: max(int(v), 0) for k, v in values.items()}
    short = total - sum(floors.values())
    order = sorted(values, key=lambda k: -(values[k] - int(values[k])))
    i = 0
    while short > 0 and order:
        floors[order[i % len(order)]] += 1
        short -= 1
        i += 1
    while short < 0:
        biggest = max(floors, key=lambda k: floors[k])
        floors[biggest] -= 1
        short += 1
    return floors


def _lines(path: str) -> Iterator[dict[str, Any]]:
    import orjson

    from session_state.core import fsutil

    handle = fsutil.open_regular(path)  # the reader's rule: a FIFO or a device given as a transcript is not read
    if handle is None:  # a session whose main file is gone: nothing of its context is known
        return
    with handle:
        for raw in handle:
            try:
                obj = orjson.loads(raw)
            except Exception:  # a torn or foreign line tells nothing about the context
                continue
            if isinstance(obj, dict):
                yield obj


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    return []


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"] if isinstance(b.get("text"), str) else json.dumps(b.get("source", ""))[:4000]
            for b in content
            if isinstance(b, dict)
        )
    return ""


def _custom_agent_lines(attachment: dict[str, Any]) -> str:
    """The listing lines of agents that are not built in (what /context calls custom agents)."""
    built_in = set(attachment.get("builtInTypes") or []) | set(attachment.get("builtInPluginTypes") or [])
    lines = attachment.get("addedLines") or []
    types = attachment.get("addedTypes") or []
    return "\n".join(
        line for kind, line in zip(types, lines) if isinstance(line, str) and kind not in built_in
    )


def _tool_label(name: str, args: Any, red: Callable[[str], str]) -> str:
    """`Bash: pytest -q`, `Read: src/app.py`: which call a tool result answers (redacted, short)."""
    detail = None
    if isinstance(args, dict):
        for key in ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt"):
            if isinstance(args.get(key), str) and args[key].strip():
                detail = args[key].strip().splitlines()[0]
                break
    if not detail:
        return name
    return f"{name}: {red(detail)}"[:LABEL_CHARS]

"""A small stand-in for the Anthropic Messages API, for end-to-end runs of the real CLI.

It listens on 127.0.0.1 (a free port), answers ``POST /v1/messages`` with the streaming SSE shape
the CLI expects, records every request so tests can assert on what the CLI sent, and is scripted
by *rules*: a rule matches the text of the last real user message of a request and answers with a
sequence of steps (text, or tool uses).  When the CLI sends back the results of a tool use that a
rule produced, the same rule continues with its next step; so a rule reads like the turn it plays:

    api.add_rule("make a plan", [
        tool_use("TaskCreate", {"subject": "Write the parser", "description": "..."}),
        tool_use("TaskUpdate", {"taskId": "1", "status": "in_progress"}),
        text("Planned."),
    ])

Requests nobody scripted get a plain text reply; compaction requests (the CLI's summary prompt)
get an ``<analysis>..</analysis><summary>..</summary>`` reply.  A step whose tool is offered only
as a deferred tool (not in the request's ``tools``, but ``ToolSearch`` is) is preceded
automatically by a ``ToolSearch`` call ``select:<tool>``, the way a model loads deferred tools.

Stdlib only; runs in a daemon thread.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

COMPACT_MARKERS = (
    "Your task is to create a detailed summary of the conversation so far",
    "CRITICAL: Respond with TEXT ONLY",
)

DEFAULT_USAGE = {
    "input_tokens": 1200,
    "output_tokens": 40,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}


# ---------------------------------------------------------------------------
# steps


@dataclass
class Step:
    """One assistant reply: text blocks and/or tool uses, with an optional usage override."""

    text: str | None = None
    tool: str | None = None
    tool_input: dict | None = None
    usage: dict | None = None
    # When the tool is deferred, load it with ToolSearch first (default on).
    auto_tool_search: bool = True


def text(t: str, *, usage: dict | None = None) -> Step:
    return Step(text=t, usage=usage)


def tool_use(name: str, tool_input: dict, *, text: str | None = None, usage: dict | None = None,
             auto_tool_search: bool = True) -> Step:
    return Step(text=text, tool=name, tool_input=tool_input, usage=usage,
                auto_tool_search=auto_tool_search)


def bash(command: str, description: str = "run a command", **kw: Any) -> Step:
    return tool_use("Bash", {"command": command, "description": description}, **kw)


def agent(prompt: str, description: str = "a subagent", subagent_type: str = "general-purpose",
          *, background: bool | None = False, **kw: Any) -> Step:
    """An ``Agent`` tool use.  2.1.330 runs subagents in the background unless the input says
    ``run_in_background: false``; the default here is a foreground subagent (deterministic:
    its SubagentStop fires before the parent's turn ends).  ``background=None`` omits the key."""
    tin: dict = {"subagent_type": subagent_type, "prompt": prompt, "description": description}
    if background is not None:
        tin["run_in_background"] = background
    return tool_use("Agent", tin, **kw)


@dataclass
class Rule:
    match: str | Callable[[dict], bool]
    steps: list[Step]
    once: bool = False
    name: str = ""
    fired: int = 0
    pos: int = 0  # index of the step issued last
    searched: set = field(default_factory=set)  # deferred tools already loaded with ToolSearch

    def matches(self, req: dict) -> bool:
        if self.once and self.fired:
            return False
        if callable(self.match):
            return bool(self.match(req))
        return self.match in (req.get("_last_user_text") or "")


# ---------------------------------------------------------------------------
# request inspection helpers (also used by tests)


def _blocks(content: Any) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def last_user_message(body: dict) -> dict | None:
    """The last ``role: user`` message, skipping ``role: system`` entries."""
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return msg
    return None


def message_text(msg: dict | None) -> str:
    if not msg:
        return ""
    return "\n".join(b.get("text", "") for b in _blocks(msg.get("content")) if b.get("type") == "text")


def last_user_text(body: dict) -> str:
    """Text of the last user message, without ``<system-reminder>`` blocks the CLI adds."""
    t = message_text(last_user_message(body))
    return re.sub(r"<system-reminder>.*?</system-reminder>", "", t, flags=re.S).strip()


def tool_results(body: dict) -> list[dict]:
    msg = last_user_message(body)
    return [b for b in _blocks(msg.get("content") if msg else None) if b.get("type") == "tool_result"]


def system_texts(body: dict) -> list[str]:
    """All text carried in ``role: system`` messages and in the top-level ``system`` field."""
    out: list[str] = []
    for msg in body.get("messages") or []:
        if isinstance(msg, dict) and msg.get("role") == "system":
            out.extend(b.get("text", "") for b in _blocks(msg.get("content")) if b.get("type") == "text")
    return out


def all_text(body: dict) -> str:
    """Every text in the request's messages (any role), for broad searches."""
    parts: list[str] = []
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        for b in _blocks(msg.get("content")):
            if b.get("type") == "text":
                parts.append(b.get("text", ""))
            elif b.get("type") == "tool_result":
                parts.append(json.dumps(b.get("content"), ensure_ascii=False))
    return "\n".join(parts)


def tool_names(body: dict) -> list[str]:
    return [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]


def is_compaction(body: dict) -> bool:
    t = message_text(last_user_message(body))
    return any(m in t for m in COMPACT_MARKERS)


# ---------------------------------------------------------------------------
# recorded requests


@dataclass
class Recorded:
    n: int
    method: str
    path: str
    headers: dict
    body: Any
    kind: str = ""  # messages / compaction / count_tokens / other
    reply: dict | None = None
    t: float = field(default_factory=time.time)

    @property
    def last_user_text(self) -> str:
        return last_user_text(self.body) if isinstance(self.body, dict) else ""

    @property
    def system_texts(self) -> list[str]:
        return system_texts(self.body) if isinstance(self.body, dict) else []

    def summary(self) -> str:
        lut = self.last_user_text.replace("\n", " ")[:100]
        return f"#{self.n} {self.method} {self.path} kind={self.kind} last_user={lut!r} reply={self.reply}"


# ---------------------------------------------------------------------------
# the server


class FakeAPI:
    def __init__(self, *, model_reply_prefix: str = "FAKE reply", delay_s: float = 0.0):
        self.requests: list[Recorded] = []
        self.rules: list[Rule] = []
        self.default_usage = dict(DEFAULT_USAGE)
        self.compaction_summary = (
            "The user ran an end-to-end test of the session-state plugin against a fake API. "
            "Nothing else happened."
        )
        self.compaction_usage: dict | None = None
        # True: every reply's input_tokens is the request body's length / 4, the same measure as
        # count_tokens here, so a session's usage and its /context agree on one (fake) tokenizer.
        self.usage_from_body = False
        self.prefix = model_reply_prefix
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._msg_ids = itertools.count(1)
        # tool_use id -> (rule, index of the step that produced it)
        self._pending: dict[str, tuple[Rule, int]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> "FakeAPI":
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:  # keep the test output clean
                pass

            def _read_body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                if not raw:
                    return None
                try:
                    return json.loads(raw)
                except ValueError:
                    return raw.decode("utf-8", "replace")

            def do_POST(self) -> None:  # noqa: N802
                api._handle(self, "POST", self._read_body())

            def do_GET(self) -> None:  # noqa: N802
                api._handle(self, "GET", None)

            def do_HEAD(self) -> None:  # noqa: N802
                api._handle(self, "HEAD", None)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakeapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeAPI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting --------------------------------------------------------

    def add_rule(self, match: str | Callable[[dict], bool], steps: list[Step] | Step, *,
                 once: bool = True, name: str = "") -> Rule:
        rule = Rule(match=match, steps=steps if isinstance(steps, list) else [steps], once=once,
                    name=name or (match if isinstance(match, str) else "fn"))
        with self._lock:
            self.rules.append(rule)
        return rule

    # -- queries ----------------------------------------------------------

    def messages(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.kind in ("messages", "compaction")]

    def mark(self) -> int:
        """Index to pass to ``since`` to look only at requests made after now."""
        with self._lock:
            return len(self.requests)

    def since(self, mark: int) -> list[Recorded]:
        with self._lock:
            return list(self.requests[mark:])

    def dump(self, mark: int = 0) -> str:
        return "\n".join(r.summary() for r in self.since(mark))

    # -- request handling -------------------------------------------------

    def _record(self, method: str, path: str, headers: dict, body: Any, kind: str) -> Recorded:
        with self._lock:
            rec = Recorded(n=len(self.requests), method=method, path=path, headers=headers,
                           body=body, kind=kind)
            self.requests.append(rec)
            return rec

    def _handle(self, h: BaseHTTPRequestHandler, method: str, body: Any) -> None:
        path = h.path
        headers = {k.lower(): v for k, v in h.headers.items()
                   if k.lower() not in ("x-api-key", "authorization")}
        route = path.split("?", 1)[0].rstrip("/")
        if method == "POST" and route.endswith("/v1/messages/count_tokens"):
            rec = self._record(method, path, headers, body, "count_tokens")
            n = max(1, len(json.dumps(body)) // 4) if body else 1
            rec.reply = {"input_tokens": n}
            return self._json(h, 200, {"input_tokens": n})
        if method == "POST" and route.endswith("/v1/messages") and isinstance(body, dict):
            kind = "compaction" if is_compaction(body) else "messages"
            body["_last_user_text"] = last_user_text(body)
            rec = self._record(method, path, headers, body, kind)
            try:
                msg = self._answer(body, kind)
            except Exception as e:  # a harness bug must show up as an API error, loudly
                rec.reply = {"error": repr(e)}
                return self._json(h, 500, {"type": "error", "error": {"type": "api_error",
                                                                       "message": f"fakeapi: {e!r}"}})
            rec.reply = {"content": [_brief(b) for b in msg["content"]], "usage": msg["usage"]}
            if self.delay_s:
                time.sleep(self.delay_s)
            if body.get("stream"):
                return self._sse(h, msg)
            return self._json(h, 200, msg)
        # Anything else: record it and answer with something harmless.
        rec = self._record(method, path, headers, body, "other")
        rec.reply = {"status": 404}
        return self._json(h, 404, {"type": "error", "error": {"type": "not_found_error",
                                                               "message": f"fakeapi: no {route}"}})

    def _answer(self, body: dict, kind: str) -> dict:
        if kind == "compaction":
            summary = self.compaction_summary
            content = [{"type": "text", "text": (
                "<analysis>The conversation was a short scripted test.</analysis>\n"
                f"<summary>{summary}</summary>")}]
            return self._message(body, content, "end_turn", self.compaction_usage)

        with self._lock:
            step, rule = self._next_step(body)
        if step is None:
            n = next(self._ids)
            lut = body.get("_last_user_text") or ""
            if not lut and tool_results(body):
                lut = "(tool results)"
            content = [{"type": "text", "text": f"{self.prefix} #{n} to: {lut[:200]}"}]
            return self._message(body, content, "end_turn", None)

        content: list[dict] = []
        if step.text:
            content.append({"type": "text", "text": step.text})
        stop = "end_turn"
        if step.tool:
            name, tinput = step.tool, copy.deepcopy(step.tool_input or {})
            tools = tool_names(body)
            loaded = rule.searched
            deferred = (step.auto_tool_search and name not in tools and "ToolSearch" in tools
                        and name not in loaded)
            if deferred:
                loaded.add(name)
            tid = f"toolu_fake{next(self._ids):06d}"
            with self._lock:
                if deferred:
                    # Load the deferred tool first (with every other deferred tool this rule will
                    # use); the same step is replayed afterwards.
                    wanted = [step.tool] + [s.tool for s in rule.steps[rule.pos + 1:]
                                            if s.tool and s.auto_tool_search and s.tool not in tools
                                            and s.tool != step.tool]
                    wanted = list(dict.fromkeys(wanted))
                    loaded.update(wanted)
                    name, tinput = "ToolSearch", {"query": "select:" + ",".join(wanted),
                                                  "max_results": max(5, len(wanted))}
                    self._pending[tid] = (rule, rule.pos - 1)
                else:
                    self._pending[tid] = (rule, rule.pos)
            content.append({"type": "tool_use", "id": tid, "name": name, "input": tinput})
            stop = "tool_use"
        return self._message(body, content, stop, step.usage)

    def _next_step(self, body: dict) -> tuple[Step | None, Rule | None]:
        # 1. A continuation: the last user message carries results of a tool use we issued.
        for tr in tool_results(body):
            hit = self._pending.pop(tr.get("tool_use_id", ""), None)
            if hit:
                rule, idx = hit
                nxt = idx + 1
                if nxt < len(rule.steps):
                    rule.pos = nxt
                    return rule.steps[nxt], rule
                return None, None
        # 2. A new turn matched by a rule.
        if tool_results(body):
            return None, None
        for rule in self.rules:
            if rule.matches(body):
                rule.fired += 1
                rule.pos = 0
                return rule.steps[0], rule
        return None, None

    def _message(self, body: dict, content: list[dict], stop: str, usage: dict | None) -> dict:
        u = dict(self.default_usage)
        if usage:
            u.update(usage)
        if self.usage_from_body:
            sent = {k: v for k, v in body.items() if not k.startswith("_")}
            u.update(input_tokens=max(1, len(json.dumps(sent)) // 4), cache_creation_input_tokens=0, cache_read_input_tokens=0)
        return {
            "id": f"msg_fake{next(self._msg_ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or "claude-fake",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": u,
        }

    # -- wire formats -----------------------------------------------------

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("request-id", f"req_fake{uuid.uuid4().hex[:16]}")
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    @staticmethod
    def _sse(h: BaseHTTPRequestHandler, msg: dict) -> None:
        u = msg["usage"]
        events: list[tuple[str, dict]] = []
        start = dict(msg, content=[], stop_reason=None,
                     usage=dict(u, output_tokens=1))
        events.append(("message_start", {"type": "message_start", "message": start}))
        for i, block in enumerate(msg["content"]):
            if block["type"] == "text":
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {"type": "text", "text": ""}}))
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta", "text": block["text"]}}))
            else:
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {"type": "tool_use", "id": block["id"],
                                                                         "name": block["name"], "input": {}}}))
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": json.dumps(block["input"])}}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                                         "usage": {"output_tokens": u.get("output_tokens", 1),
                                                   "input_tokens": u.get("input_tokens"),
                                                   "cache_creation_input_tokens": u.get("cache_creation_input_tokens", 0),
                                                   "cache_read_input_tokens": u.get("cache_read_input_tokens", 0)}}))
        events.append(("message_stop", {"type": "message_stop"}))
        payload = b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events)
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("request-id", f"req_fake{uuid.uuid4().hex[:16]}")
        h.end_headers()
        h.wfile.write(payload)


def _brief(block: dict) -> dict:
    if block.get("type") == "text":
        return {"text": block["text"][:120]}
    return {"tool_use": block.get("name"), "input": block.get("input")}


if __name__ == "__main__":  # manual poking: python tests/e2e/fakeapi.py
    api = FakeAPI().start()
    print(api.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        api.stop()

"""Does the injected handoff carry what the next context needed? Measured on real transcripts.

Run: `.venv/bin/python benchmarks/handoff_recall.py [CORPUS_DIR ...] [--jobs N] [--show SESSION]`
(default corpora: ../shared/fixtures/transcripts and ../shared/fixtures/transcripts-more).

Every main transcript is cut at each real compaction (its `compact_boundary` line) and, in long
sessions, at evenly spaced points. The plugin's real hook processes run on the prefix as Claude
Code 2.1.330 runs them at a compaction (measured, tests/e2e/test_e2e_cli_facts.py): PreCompact,
the compaction's SubagentStop carrying the summary (at real compactions only: the even cuts have
no summary), SessionStart `compact` (whose additionalContext is what the model reads), then
PostCompact. What the next context needed comes from the transcript itself:

| category | needed when | counts as carried when |
|---|---|---|
| goal | the session's first substantive request (>= 4 content words) | >= 60% of its first 20 content words are in the text |
| latest request | the last substantive request before the cut | same rule |
| open tasks | each TodoWrite / TaskCreate item not completed at the cut | same rule on its subject |
| files | each file edited before the cut and touched again in the next 40 file operations | its base name is in the text |
| failing command | the last Bash command before the cut that failed and was run again after it | its first 100 characters, or 60% of its words |
| decisions | each `session-state decide` before the cut | same rule as requests |

Recall is items carried / items needed, over all cuts. At real compactions Claude Code's own
summary (the `isCompactSummary` line) is scored alone and joined with the handoff. Sizes are the
injected text's characters and estimated tokens (session_state.state.tokens). Nothing is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
from session_state.state.compact_summary import holds, words  # noqa: E402
PAYLOADS = REPO / "tests" / "fixtures" / "hook-payloads"
DEFAULT_CORPORA = [REPO.parent / "shared" / "fixtures" / "transcripts", REPO.parent / "shared" / "fixtures" / "transcripts-more"]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
CATEGORIES = ("goal", "latest request", "open tasks", "files", "failing command", "decisions")
LONG_LINES = 400  # a session this long also gets evenly spaced cuts
EVEN_CUTS = 2
NEAR = 50  # an even cut this close to a real compaction is left out
FILE_HORIZON = 40
EDIT_TOOLS = {"Edit", "MultiEdit", "Write", "NotebookEdit"}
FILE_TOOLS = EDIT_TOOLS | {"Read"}
NOT_PROMPT = (
    "<command-name>", "<command-message>", "<command-args>", "<local-command-", "<bash-input>", "<bash-stdout>",
    "<bash-stderr>", "<task-notification>", "<ide_opened_file>", "<ide_selection>", "<system-reminder>",
    "<user-prompt-submit-hook>", "[Request interrupted", "Caveat: The messages below",
)


def carried(item: str, text: str, text_words: set[str]) -> bool:
    """The plugin's own rule for "a summary holds this item" (session_state.state.compact_summary.holds)."""
    return holds(text, item, text_words)


# --- what the next context needed --------------------------------------------------------------


@dataclass
class Needed:
    goal: str | None = None
    latest: str | None = None
    tasks: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    failing: str | None = None
    decisions: list[str] = field(default_factory=list)

    def items(self) -> dict[str, list[str]]:
        return {
            "goal": [self.goal] if self.goal else [],
            "latest request": [self.latest] if self.latest else [],
            "open tasks": self.tasks,
            "files": self.files,
            "failing command": [self.failing] if self.failing else [],
            "decisions": self.decisions,
        }


def _main_chain(obj: dict[str, Any]) -> bool:
    return obj.get("isSidechain") is not True


def _prompt_text(obj: dict[str, Any]) -> str | None:
    if obj.get("type") != "user" or not _main_chain(obj) or obj.get("isMeta") or obj.get("isCompactSummary"):
        return None
    content = (obj.get("message") or {}).get("content")
    if isinstance(content, str):
        texts = [content]
    elif isinstance(content, list):
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return None
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    else:
        return None
    kept = [t for t in texts if isinstance(t, str) and t.strip() and not t.lstrip().startswith(NOT_PROMPT)]
    text = "\n".join(kept).strip()
    return text if len(words(text)) >= 4 else None


def _tool_uses(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj.get("type") != "assistant" or not _main_chain(obj):
        return []
    content = (obj.get("message") or {}).get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"] if isinstance(content, list) else []


def _tool_results(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj.get("type") != "user" or not _main_chain(obj):
        return []
    content = (obj.get("message") or {}).get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(content, list) else []


def needed(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> Needed:
    need = Needed()
    todos: list[dict[str, Any]] = []
    tasks: dict[str, dict[str, str]] = {}
    creating: dict[str, str] = {}
    edited: list[str] = []
    commands: dict[str, str] = {}  # tool_use id -> command
    last_failed: str | None = None
    for obj in before:
        prompt = _prompt_text(obj)
        if prompt:
            need.goal = need.goal or prompt
            need.latest = prompt
        for use in _tool_uses(obj):
            name, args = use.get("name"), use.get("input") or {}
            if name == "TodoWrite" and isinstance(args.get("todos"), list):
                todos = [t for t in args["todos"] if isinstance(t, dict)]
            elif name == "TaskCreate":
                creating[str(use.get("id"))] = str(args.get("subject") or args.get("description") or "")
            elif name == "TaskUpdate" and str(args.get("taskId")) in tasks:
                task = tasks[str(args.get("taskId"))]
                task["status"] = str(args.get("status") or task["status"])
                task["subject"] = str(args.get("subject") or task["subject"])
            elif name in EDIT_TOOLS and isinstance(args.get("file_path") or args.get("notebook_path"), str):
                edited.append(args.get("file_path") or args.get("notebook_path"))
            elif name == "Bash" and isinstance(args.get("command"), str):
                commands[str(use.get("id"))] = args["command"]
                if "session-state decide" in args["command"]:
                    need.decisions.append(args["command"].split("session-state decide", 1)[1])
        for res in _tool_results(obj):
            tid = str(res.get("tool_use_id"))
            if tid in creating:
                task = (obj.get("toolUseResult") or {}).get("task") if isinstance(obj.get("toolUseResult"), dict) else None
                if isinstance(task, dict) and task.get("id") is not None:
                    tasks[str(task["id"])] = {"subject": creating.pop(tid), "status": "pending"}
            if tid in commands and res.get("is_error"):
                last_failed = commands[tid]
    need.tasks = [str(t.get("content") or t.get("subject") or "") for t in todos if t.get("status") != "completed"]
    need.tasks += [t["subject"] for t in tasks.values() if t["status"] not in ("completed", "deleted")]
    need.tasks = [t for t in need.tasks if t.strip()]
    touched: list[str] = []
    later_commands: list[str] = []
    for obj in after:
        for use in _tool_uses(obj):
            args = use.get("input") or {}
            if use.get("name") in FILE_TOOLS and len(touched) < FILE_HORIZON:
                path = args.get("file_path") or args.get("notebook_path")
                if isinstance(path, str):
                    touched.append(path)
            if use.get("name") == "Bash" and isinstance(args.get("command"), str):
                later_commands.append(" ".join(args["command"].split()))
    need.files = sorted(set(edited) & set(touched))
    if last_failed and " ".join(last_failed.split()) in later_commands:
        need.failing = last_failed
    return need


def command_carried(command: str, text: str, text_words: set[str]) -> bool:
    flat = " ".join(command.split())[:100]
    return flat in " ".join(text.split()) or carried(command, text, text_words)


def score(need: Needed, text: str) -> dict[str, tuple[int, int]]:
    text_words = set(words(text))
    out = {}
    for cat, items in need.items().items():
        if cat == "files":
            hits = sum(os.path.basename(p) in text for p in items)
        elif cat == "failing command":
            hits = sum(command_carried(c, text, text_words) for c in items)
        else:
            hits = sum(carried(i, text, text_words) for i in items)
        out[cat] = (hits, len(items))
    return out


# --- running the hooks on a prefix -------------------------------------------------------------


def _payload(name: str, **overrides: Any) -> dict[str, Any]:
    data = json.loads((PAYLOADS / name).read_text())["stdin"]
    data.update(overrides)
    return data


def run_hooks(session_id: str, prefix: bytes, summary: str | None, tmp: Path) -> str:
    """The SessionStart `compact` additionalContext after the hooks ran on `prefix`."""
    project = tmp / "project"
    project.mkdir(parents=True, exist_ok=True)
    transcripts = tmp / "transcripts"
    transcripts.mkdir(exist_ok=True)
    path = transcripts / f"{session_id}.jsonl"
    path.write_bytes(prefix)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "SESSION_STATE_"))}
    env.update(CLAUDE_PROJECT_DIR=str(project), CLAUDE_PLUGIN_DATA=str(tmp / "data"),
               SESSION_STATE_USER_CONFIG=str(tmp / "user-config.json"),
               PYTHONDONTWRITEBYTECODE="1")
    common = {"session_id": session_id, "transcript_path": str(path), "cwd": str(project)}

    def hook(event: str, payload: dict[str, Any]) -> str:
        proc = subprocess.run([PYTHON, "-I", "-X", "utf8", str(REPO / "bin" / "_run.py"), event],
                              input=json.dumps(payload).encode(), capture_output=True, env=env, cwd=str(project), timeout=120)
        return proc.stdout.decode("utf-8", "replace")

    hook("PreCompact", _payload("PreCompact__auto.json", **common))
    if summary is not None:
        hook("SubagentStop", _payload("SubagentStop.json", **common, agent_type="", agent_id="acompact",
                                      agent_transcript_path=str(tmp / "absent.jsonl"), last_assistant_message=summary))
    out = hook("SessionStart", _payload("SessionStart__compact.json", **common))
    if summary is not None:
        hook("PostCompact", _payload("PostCompact__auto.json", **common, compact_summary=summary))
    try:
        return json.loads(out)["hookSpecificOutput"]["additionalContext"]
    except (ValueError, KeyError, TypeError):
        return ""


# --- cuts ----------------------------------------------------------------------------------------


@dataclass
class Cut:
    transcript: str
    line: int  # lines [0, line) are before the cut
    real: bool
    summary: str | None = None
    after_from: int = 0


def _summary_text(obj: dict[str, Any]) -> str:
    content = (obj.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def cuts_of(path: Path, objs: list[dict[str, Any] | None]) -> list[Cut]:
    cuts: list[Cut] = []
    for i, obj in enumerate(objs):
        if obj and obj.get("type") == "system" and obj.get("subtype") == "compact_boundary" and _main_chain(obj):
            summary_at = next((j for j in range(i + 1, min(i + 6, len(objs))) if objs[j] and objs[j].get("isCompactSummary")), None)
            summary = _summary_text(objs[summary_at]) if summary_at is not None else None
            cuts.append(Cut(str(path), i, True, summary, (summary_at or i) + 1))
    if len(objs) >= LONG_LINES:
        for n in range(1, EVEN_CUTS + 1):
            at = len(objs) * n // (EVEN_CUTS + 1)
            if all(abs(at - c.line) > NEAR for c in cuts if c.real):
                cuts.append(Cut(str(path), at, False, None, at))
    return cuts


def main_transcripts(corpora: list[Path]) -> list[Path]:
    found = []
    for corpus in corpora:
        for path in sorted(corpus.rglob("*.jsonl")):
            parts = path.relative_to(corpus).parts
            if "subagents" in parts or "agents" in parts or path.name.startswith("agent-"):
                continue
            found.append(path)
    return found


def _load(path: Path) -> tuple[list[bytes], list[dict[str, Any] | None]]:
    raw = path.read_bytes().splitlines(keepends=True)
    objs: list[dict[str, Any] | None] = []
    for line in raw:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        objs.append(obj if isinstance(obj, dict) else None)
    return raw, objs


def evaluate(cut: Cut) -> dict[str, Any]:
    path = Path(cut.transcript)
    raw, objs = _load(path)
    before = [o for o in objs[: cut.line] if o]
    after = [o for o in objs[cut.after_from :] if o]
    need = needed(before, after)
    session_id = path.stem
    with tempfile.TemporaryDirectory(prefix="ss-recall-") as tmp:
        text = run_hooks(session_id, b"".join(raw[: cut.line]), cut.summary, Path(tmp))
    row: dict[str, Any] = {"transcript": cut.transcript, "line": cut.line, "real": cut.real,
                           "chars": len(text), "text": text, "handoff": score(need, text)}
    if cut.real and cut.summary is not None:
        row["summary"] = score(need, cut.summary)
        row["summary_text"] = cut.summary
        row["both"] = score(need, cut.summary + "\n" + text)
    return row


# --- report -------------------------------------------------------------------------------------


def _recall(rows: list[dict[str, Any]], key: str, cat: str) -> str:
    hits = sum(r[key][cat][0] for r in rows if key in r)
    total = sum(r[key][cat][1] for r in rows if key in r)
    return f"{hits / total:.2f} ({hits}/{total})" if total else "– (0)"


def table(rows: list[dict[str, Any]]) -> str:
    from session_state.state import tokens

    real = [r for r in rows if r["real"]]
    lines = ["| cuts | text | " + " | ".join(CATEGORIES) + " | median chars | max chars | median tokens |",
             "|---|---|" + "---|" * (len(CATEGORIES) + 3)]
    for label, group, key in (("real compactions", real, "summary"), ("real compactions", real, "handoff"),
                              ("real compactions", real, "both"), ("all cuts", rows, "handoff")):
        group = [r for r in group if key in r]
        if not group:
            continue
        name = {"summary": "Claude Code's summary", "handoff": "handoff", "both": "summary + handoff"}[key]
        texts = [r["summary_text"] if key == "summary" else r["text"] for r in group]
        sizes = [len(t) for t in texts]
        toks = [tokens.estimate(t)["tokens"] for t in texts]
        lines.append(f"| {label} ({len(group)}) | {name} | " + " | ".join(_recall(group, key, c) for c in CATEGORIES)
                     + (f" | {statistics.median(sizes):,.0f} | {max(sizes):,} | {statistics.median(toks):,.0f} |" if key != "both" else " | | | |"))
    method = tokens.estimate("x")["method"]
    lines.append(f"\nTokens estimated with {method} (session_state.state.tokens); recall = items carried / items needed.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="*", type=Path, help="folders of transcripts (searched recursively)")
    parser.add_argument("--jobs", type=int, default=1, help="cuts evaluated in parallel")
    parser.add_argument("--json", type=Path, help="also write every cut's scores and texts here")
    parser.add_argument("--show", help="print the summary and the handoff of the first real compaction of this session")
    args = parser.parse_args(argv)
    corpora = args.corpora or [c for c in DEFAULT_CORPORA if c.is_dir()]
    if not corpora:
        parser.error("no corpus: pass folders of transcripts (../shared/fixtures/transcripts is the default)")
    cuts: list[Cut] = []
    for path in main_transcripts(corpora):
        if args.show and path.stem != args.show:
            continue
        cuts += cuts_of(path, _load(path)[1])
    if args.show:
        cuts = [c for c in cuts if c.real][:1]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(evaluate, cuts))
    if args.show and rows:
        print("## Claude Code's summary\n\n" + rows[0].get("summary_text", "") + "\n\n## session-state handoff\n\n" + rows[0]["text"])
        return 0
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    print(f"{len(rows)} cuts ({sum(r['real'] for r in rows)} at real compactions) in "
          f"{len(main_transcripts(corpora))} main transcripts of {', '.join(str(c) for c in corpora)}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A standard-library handoff for when the full environment is missing (not built yet, or never).

Stdlib only. No per-turn hook journals a session's facts (they keep no conversation text), so
`write` first extracts the transcript's new facts itself, through the facts cursor the full
tier continues from, each text through the built-in rules (`redact.redact_text`, the stdlib
fallback; the handoff says so with `redact.FALLBACK_LABEL`). Even on a machine where the
plugin's packages cannot be installed (offline, a proxy in the way, no index reachable) the
thread survives a compaction or /clear: this module folds the journal into the essentials (task list and status, latest requests, files in play, the last reply,
the budget) and renders them as plain text. Every item is an inert line (no item can forge a
heading or a tag line) and the whole text passes through `redact.redact_text` again on the way
out, so nothing the journal kept can leak here.

The full tier's handoff (TOON, validated) replaces this one as soon as the environment exists.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from session_state.core import fsutil, journal, paths
from session_state.core.inert import block
from session_state.core.inert import line as q
from session_state.core.redact import FALLBACK_LABEL, redact_text

KEEP_REQUESTS = 5
KEEP_FILES = 15
CLEAR_WINDOW_S = 30 * 60
MARKS = {"completed": "[x]", "in_progress": "[>]", "blocked": "[!]", "failed": "[-]", "pending": "[ ]"}


def summarize(session_dir: Path) -> dict[str, Any]:
    """The journal folded into plain data: tasks, requests, files, last reply, budget."""
    records, _ = journal.read(session_dir, 0)
    seen: set[str] = set()
    tasks: dict[str, dict[str, str]] = {}
    todos: list[dict[str, str]] = []
    requests: list[str] = []
    files: dict[str, set[str]] = {}
    last_reply = ""
    for fact in records:
        fid = fact.get("id")
        if isinstance(fid, str):
            if fid in seen:
                continue
            seen.add(fid)
        kind = fact.get("k")
        if kind == "prompt" and isinstance(fact.get("text"), str) and fact["text"].strip():
            text = fact["text"].strip()
            if not requests or requests[-1] != text:
                requests.append(text)
        elif kind == "todos":
            todos = [
                {"subject": str(i.get("content") or ""), "status": str(i.get("status") or "pending")}
                for i in fact.get("items") or [] if isinstance(i, dict)
            ]
        elif kind == "task_create":
            task_id = str(fact.get("task_id") or fid)
            tasks[task_id] = {"subject": str(fact.get("subject") or fact.get("description") or task_id),
                              "status": tasks.get(task_id, {}).get("status", "pending")}
        elif kind == "task_update":
            task_id = str(fact.get("task_id"))
            status = str(fact.get("status") or "")
            if status == "deleted":
                tasks.pop(task_id, None)
                continue
            task = tasks.setdefault(task_id, {"subject": str(fact.get("subject") or task_id), "status": "pending"})
            if status:
                task["status"] = status
            if fact.get("subject"):
                task["subject"] = str(fact["subject"])
        elif kind == "file" and isinstance(fact.get("path"), str):
            ops = files.pop(fact["path"], set())  # re-inserted: the dict stays in order of last touch
            ops.add(str(fact.get("op") or "read"))
            files[fact["path"]] = ops
        elif kind == "assistant" and isinstance(fact.get("text"), str):
            last_reply = fact["text"]
    cursor = journal.load_cursor(session_dir) or {}
    usage = cursor.get("last_usage") if isinstance(cursor.get("last_usage"), dict) else {}
    context = sum(int(usage.get(k) or 0) for k in ("input", "cache_creation", "cache_read")) if usage else None
    return {
        "tasks": list(tasks.values()) + todos,
        "requests": requests[-KEEP_REQUESTS:],
        "files": [{"path": p, "ops": sorted(ops)} for p, ops in reversed(list(files.items()))][:KEEP_FILES],
        "last_reply": last_reply,
        "context_tokens": context or None,
        "transcript": cursor.get("path"),
    }


def render(summary: dict[str, Any], heading: str, extra: Sequence[str] = ()) -> str:
    """Plain text for the model; every line redacted on the way out."""
    lines = [heading, f"({FALLBACK_LABEL})", ""]
    lines += task_lines(summary["tasks"], "Task list") or ["Task list: none recorded"]
    if summary["requests"]:
        lines.append("Latest requests (oldest first):")
        lines += [f"  - {q(_one_line(r, 400))}" for r in summary["requests"]]
    if summary["files"]:
        lines.append("Files in play (most recent first):")
        lines += [f"  - {q(f['path'])} ({', '.join(q(op) for op in f['ops'])})" for f in summary["files"]]
    if summary["last_reply"]:
        lines.append(f"Last assistant reply: {q(_one_line(summary['last_reply'], 600))}")
    if summary["context_tokens"]:
        lines.append(f"Context before this point: {summary['context_tokens']:,} tokens")
    if summary["transcript"]:
        lines.append(f"Full transcript: {q(summary['transcript'])}")
    return block(redact_text("\n".join(lines), extra))


def task_lines(tasks: list[dict[str, Any]], label: str) -> list[str]:
    """A task list for people and the model: a count, then one marked line per item ([] when empty)."""
    if not tasks:
        return []
    done = sum(1 for t in tasks if t["status"] == "completed")
    return [f"{label} ({done}/{len(tasks)} completed):",
            *(f"  {MARKS.get(t['status'], '[?]')} {q(t['subject'])}  ({q(t['status'])})" for t in tasks)]


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def write(session_dir: Path, heading: str, extra: Sequence[str] = (), transcript_path: str | None = None) -> tuple[Path, str]:
    """Extract the transcript's new facts, fold, render and save the basic handoff; returns its path and text.

    `transcript_path` comes from the hook input; without it (the session before a /clear) the
    path the session's budget cursor recorded is used, if it is one Claude Code could have written.
    """
    if transcript_path is None:
        transcript_path = paths.trusted_transcript((journal.load_cursor(session_dir) or {}).get("path"))
    journal.sync_facts(session_dir, transcript_path, lambda text: redact_text(text, extra))
    text = render(summarize(session_dir), heading, extra)
    path = session_dir / paths.HANDOFF_BASIC
    fsutil.atomic_write(path, (text + "\n").encode("utf-8"))
    return path, text


def cleared_session(root: Path, new_session: str) -> Path | None:
    """The session this /clear replaced, claimed for `new_session` (exactly one heir).

    The same rule as the full tier: only a session whose SessionEnd said `clear` (the
    `ended.clear` marker, written with the standard library) within the last half hour.
    """
    try:
        folders = [p for p in paths.sessions_dir(root).iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return None
    now = time.time()
    candidates = []
    for folder in folders:
        if folder.name == paths.safe_id(new_session) or (folder / paths.CLAIMED).exists():
            continue
        try:
            age = now - (folder / paths.ENDED_BY_CLEAR).stat().st_mtime
        except OSError:
            continue
        if age <= CLEAR_WINDOW_S:
            candidates.append((age, folder))
    for _, folder in sorted(candidates):
        if fsutil.create_exclusive(folder / paths.CLAIMED, new_session.encode()):
            return folder
    return None

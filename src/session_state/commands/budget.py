"""`session-state budget`: how full the context window is, from the transcript itself.

Reads the transcript with figures only (no facts) and never writes the stored cursor: that
cursor belongs to the hooks, and advancing it here would make them miss the facts in between.
A stored cursor for the same file is used as a starting point, so only new bytes are read.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    from session_state.commands import _common

    parser = _common.parser(
        subparsers,
        "budget",
        "context window use, room before auto-compaction, session token totals",
        "Token budget of a session, read from its Claude Code transcript. Without a TRANSCRIPT or --session: "
        "the project's newest session (by transcript activity).",
        [
            "session-state budget",
            "session-state budget --json",
            "session-state budget --breakdown",
            "session-state budget tests/fixtures/transcripts/marot-spotter/258c7280-ae70-4798-800f-63464d01a85d.jsonl",
        ],
    )
    parser.add_argument("transcript", nargs="?", help="path of a transcript (.jsonl)")
    parser.add_argument("--session", metavar="ID", help="session id (found via the state store or ~/.claude/projects)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also split the context by component (system prompt, tools, memory, skills, messages...): "
        "estimates scaled to the exact total; reads the whole transcript (in --json as `breakdown`)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from session_state.core import budget, paths, settings, transcript
    from session_state.cli import CliError

    from session_state.commands import _common

    project = paths.project_dir()
    if args.transcript:
        path = os.path.abspath(args.transcript)
        if not os.path.exists(path):
            raise CliError(f"transcript {args.transcript} does not exist")
        session_id = Path(path).stem
    else:
        session_id = args.session or os.environ.get(_common.SESSION_ENV) or ""
        if not session_id:
            session_id, _ = _common.session(args, _common.root(project))
        path = find_transcript(session_id, project)
        if path is None:
            raise CliError(f"no transcript found for session {session_id!r} (looked in the state store and {paths.claude_projects_dir()})")
    start = stored_cursor(project, session_id, path)
    cursor, _ = transcript.update(start, path, facts=False)
    if cursor.get("error") and not cursor.get("subagents"):
        raise CliError(f"cannot read transcript {path}: {cursor['error']}")
    if not_a_transcript(cursor, path):
        raise CliError(f"{path} is not a Claude Code transcript (no line of it carries a session id, version or usage)")
    config = settings.load(project)
    result = budget.compute(cursor, config)
    result["transcript"] = path
    result["session_id"] = session_id
    if args.breakdown:
        from session_state.state import breakdown, redactor

        result["breakdown"] = breakdown.compute(path, result, redactor.for_settings(config))
    problems = settings.problems(project)
    if args.json:
        print(json.dumps({**result, "config_errors": problems} if problems else result, separators=(", ", ": ")))
    else:
        print(render(result, cursor))
        if args.breakdown:
            print(render_breakdown(result["breakdown"]))
        if problems:
            from session_state.core.inert import line

            print(line(_common.config_line(problems)))
    return 0


def render_breakdown(found: dict[str, Any]) -> str:
    """A table for people: each component, its share, the message kinds, the largest tool results."""
    from session_state.core.inert import line

    total = found.get("total")
    cats = found["categories"]
    whole = sum(c["tokens"] for c in cats) or 1
    lines = [f"Where the context goes (estimates, {found['method']}; {found['source']}):"]
    for cat in cats:
        lines.append(f"  {cat['name']:<20} {cat['tokens']:>10,}  {cat['tokens'] * 100 / whole:5.1f}%")
        for part in cat.get("parts", []) + cat.get("servers", []) + cat.get("files", []):
            lines.append(f"    {line(part['name']):<30} {part['tokens']:>10,}")  # paths, servers: transcript text
    if found.get("largest_tool_results"):
        lines.append("  Largest tool results:")
        lines += [f"    {r['tokens']:>8,}  {line(r['name'])}" for r in found["largest_tool_results"]]
    if total is None:
        lines.append("  (no exact total yet: the parts are unscaled estimates)")
    theirs = found.get("claude_code_context")
    if theirs:
        from session_state.state import breakdown

        their_total = f"{theirs['total']:,}" if isinstance(theirs.get("total"), int) else "?"
        when = line(theirs["timestamp"]) if theirs.get("timestamp") else "unknown time"  # transcript text
        lines.append(f"Beside Claude Code's own /context of {when} (total {their_total}; also estimates):")
        for row in breakdown.against_context(found):
            diff = "" if row["error_pct"] is None else f"  {row['error_pct']:+.0f}%"
            lines.append(f"  {line(row['category']):<20} ours {row['ours']:>10,}  /context {row['context']:>10,}{diff}")
    return "\n".join(lines)


def not_a_transcript(cursor: dict[str, Any], path: str | None = None) -> bool:
    """Read to the end, yet no line looked like Claude Code's: another kind of file.

    A transcript can hold nothing but a `summary` line (no session id, version or usage): its
    first line is still a JSON object with a `type`, which no README or source file is.
    """
    if not (
        cursor.get("offset")
        and not cursor.get("first_session_id")
        and not cursor.get("version")
        and not cursor.get("last_usage")
        and not cursor.get("compactions")
        and not cursor.get("subagents")
    ):
        return False
    if path is None:
        return True
    from session_state.core import fsutil

    handle = fsutil.open_regular(path)  # never blocks on a FIFO or reads a device
    if handle is None:
        return True
    try:
        with handle:
            first = json.loads(handle.readline(1 << 16))
    except (OSError, ValueError):
        return True
    return not (isinstance(first, dict) and isinstance(first.get("type"), str))


def find_transcript(session_id: str, project: Path) -> str | None:
    """The transcript of a session: the path its stored cursor names, else a search of projects/.

    A session whose main file is gone but whose subagent folder remains still has a budget
    (what its subagents spent), so that folder also identifies it.
    """
    from session_state.core import paths

    cursor_file = paths.session_dir(paths.state_root(project, create=False), session_id, create=False) / paths.CURSOR
    try:
        stored = paths.trusted_transcript(json.loads(cursor_file.read_bytes()).get("path"))
        if stored and os.path.isfile(stored):
            return stored
    except (OSError, ValueError, AttributeError):
        pass
    if not paths.safe_id(session_id) == session_id:
        return None  # never put an unsafe id into a glob pattern
    root = paths.claude_projects_dir()
    for hit in sorted(glob.glob(os.path.join(glob.escape(str(root)), "*", f"{session_id}.jsonl"))):
        return hit
    for hit in sorted(glob.glob(os.path.join(glob.escape(str(root)), "*", session_id, "subagents"))):
        return os.path.join(os.path.dirname(os.path.dirname(hit)), f"{session_id}.jsonl")
    return None


def stored_cursor(project: Path, session_id: str, path: str) -> dict[str, Any] | None:
    """The hooks' cursor for this transcript, if any: lets a repeat query read only new bytes."""
    from session_state.core import paths

    try:
        folder = paths.session_dir(paths.state_root(project, create=False), session_id, create=False)
        data = json.loads((folder / paths.CURSOR).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("path") == path else None


def render(result: dict[str, Any], cursor: dict[str, Any]) -> str:
    """A few lines for people; anything not measured from a response says so (the model id
    and the path come from the transcript and its cursor: each is one inert line)."""
    from session_state.core import forecast, pricing
    from session_state.core.inert import line

    window = result["context_window"]
    how_window = {
        "setting": "from your setting",
        "selected model": "1M model selected",
        "model": "by model id",
        "observed": "proved by a context above 200k",
        "default": "assumed: unknown model",
    }.get(result["window_source"], result["window_source"])
    context = result["context_tokens"]
    lines = []
    if context is None:
        why = "compacted, no response since" if result["compacted"] else "no response yet"
        lines.append(f"Context: unknown ({why}) of {window:,} tokens [{how_window}]")
    else:
        note = " (estimate: Claude Code's post-compaction count; exact after the next response)" if result["compacted"] else ""
        if result["context_source"] == "subagent response":
            note = " (a subagent transcript: no main chain, its own latest response)"
        lines.append(f"Context: {context:,} of {window:,} tokens = {result['percent']}% [{result['level']}]{note}")
        lines.append(f"Room before auto-compaction: {result['tokens_to_autocompact']:,} tokens (compacts near {result['autocompact_at']:,}) [window {how_window}]")
    turns = forecast.phrase(result.get("turns_forecast"))
    if turns and context is not None:
        growth = result["turns_forecast"]
        lines.append(
            f"Turns before auto-compaction: {turns} (context growth per turn over the last {growth['basis']}: "
            f"mean {growth['growth_mean']:,}, 90th percentile {growth['growth_high']:,} tokens)"
        )
    cost = pricing.cost_line(result)
    if cost:
        lines.append(f"Cost: {cost}")
    if result.get("model") and context is not None:
        lines.append(f"Model: {line(result['model'])}; last response wrote {result['output_tokens']:,} output tokens")
    elif result.get("model"):
        lines.append(f"Model: {line(result['model'])}")
    totals = result["totals"]
    subs = sum(1 for sub in cursor.get("subagents", {}).values() if sub.get("kind") == "subagents")
    with_subs = f" incl. {subs} subagent transcript{'s' * (subs != 1)}" if subs else ""
    lines.append(
        f"Session totals{with_subs}: input {totals['input_tokens']:,}, output {totals['output_tokens']:,}, "
        f"cache write {totals['cache_creation_input_tokens']:,}, cache read {totals['cache_read_input_tokens']:,}"
    )
    if result.get("compactions"):
        lines.append(f"Compactions so far: {result['compactions']}")
    if result.get("error"):
        lines.append(f"Note: main transcript {line(result['transcript'])}: {line(result['error'])}")
    return "\n".join(lines)

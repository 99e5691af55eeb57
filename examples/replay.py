"""Replay a real Claude Code transcript through session-state's hooks, as Claude Code would run them.

The transcript is written out line by line into a scratch ~/.claude/projects layout (each line
stamped with the time it is written, as in a live session), and the
hooks run where Claude Code would run them: UserPromptSubmit at each typed prompt, Stop at
the end of each turn, PreCompact just before a compaction boundary and SessionStart(compact)
just after its summary, SubagentStop for each subagent (with its real last reply), SessionEnd
at the end. What is printed is what the user and the model would have seen: the budget line
per turn, the threshold crossings with the warning text the model receives, the exact text
injected after the compaction, then the subagents, files and decisions the plugin kept.

usage: python examples/replay.py [TRANSCRIPT.jsonl] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "tests/fixtures/transcripts/marot-spotter/258c7280-ae70-4798-800f-63464d01a85d.jsonl"
WIDTH = 100


def hook(event: str, payload: dict[str, Any], env: dict[str, str]) -> dict[str, Any] | str:
    """Run one hook exactly as hooks/hooks.json makes Claude Code run it; its parsed stdout."""
    command = ["sh", str(REPO / "bin" / "ss-hook"), event]
    proc = subprocess.run(command, input=json.dumps(payload).encode(), capture_output=True, env=env, timeout=60)
    if proc.returncode != 0 or proc.stderr:
        print(f"  ! {event} exit {proc.returncode}: {proc.stderr.decode().strip()}", file=sys.stderr)
    out = proc.stdout.decode()
    try:
        return json.loads(out) if out.strip() else {}
    except ValueError:
        return out  # PreCompact's plain text for the summariser


def cli(env: dict[str, str], *argv: str) -> str:
    """The `session-state` command, as a user runs it in this project."""
    proc = subprocess.run([sys.executable, "-m", "session_state.cli", *argv], capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(REPO / "src")}, cwd=env["CLAUDE_PROJECT_DIR"], timeout=120)
    return (proc.stdout or proc.stderr).rstrip()


def is_prompt(line: dict[str, Any]) -> bool:
    """A prompt the user typed (not a tool result, a command, a compaction summary or an interruption)."""
    if line.get("type") != "user" or line.get("isMeta") or line.get("isSidechain") or line.get("isCompactSummary"):
        return False
    text = prompt_text(line)
    return bool(text.strip()) and not text.startswith(("<", "[Request interrupted"))


def starts_turn(line: dict[str, Any]) -> bool:
    """A user line that begins a new turn: a prompt, an interruption or a task notification."""
    if line.get("type") != "user" or line.get("isMeta") or line.get("isSidechain") or line.get("isCompactSummary"):
        return False
    return bool(prompt_text(line).strip())


def prompt_text(line: dict[str, Any]) -> str:
    content = (line.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return ""
    return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


def last_reply(transcript: bytes) -> str:
    """The last assistant text in transcript lines: what Claude Code passes to Stop and
    SubagentStop as last_assistant_message."""
    reply = ""
    for raw in transcript.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        content = (line.get("message") or {}).get("content") if line.get("type") == "assistant" else None
        if isinstance(content, list):
            texts = [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and b.get("text")]
            if texts:
                reply = texts[-1]
    return reply


def budget_line(session_dir: Path) -> str:
    """The newest usage record, in words."""
    usage = session_dir / "usage.jsonl"
    if not usage.exists():
        return "context not measured yet"
    rec = json.loads(usage.read_text().splitlines()[-1])
    if rec.get("context_tokens") is None:
        return "context unknown (compacted, no response since)"
    crossed = f"   <- crossed {', '.join(rec['crossed'])}" if rec.get("crossed") else ""
    return f"context {rec['context_tokens']:,} of {rec['window']:,} tokens = {rec['percent']:.1f}% ({rec['level']}){crossed}"


def said(out: dict[str, Any] | str) -> tuple[str | None, str | None]:
    """(what the user sees, what the model is told) in one hook's output."""
    if not isinstance(out, dict):
        return None, None
    return out.get("systemMessage"), (out.get("hookSpecificOutput") or {}).get("additionalContext")


def section(title: str) -> None:
    print(f"\n== {title} ==")


def wrap(text: str, indent: str = "  ") -> str:
    return "\n".join(textwrap.fill(par, WIDTH, initial_indent=indent, subsequent_indent=indent) if par else ""
                     for par in text.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transcript", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--keep", type=Path, help="leave the replayed project and state here")
    args = parser.parse_args()
    source: Path = args.transcript
    lines = [json.loads(raw) for raw in source.read_text(encoding="utf-8").splitlines() if raw.strip()]
    session_id = source.stem
    work = Path(args.keep or tempfile.mkdtemp(prefix="session-state-demo-"))
    project = work / "project"
    project.mkdir(parents=True, exist_ok=True)
    tdir = work / "home" / ".claude" / "projects" / "demo"
    tdir.mkdir(parents=True, exist_ok=True)
    transcript = tdir / f"{session_id}.jsonl"
    transcript.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "SESSION_STATE_"))}
    env.update(CLAUDE_PROJECT_DIR=str(project), CLAUDE_PLUGIN_DATA=str(work / "plugin-data"),
               CLAUDE_CONFIG_DIR=str(work / "home" / ".claude"),  # where Claude Code keeps transcripts
               SESSION_STATE_USER_CONFIG=str(work / "no-user-config.json"))
    # the hooks find this interpreter (and its packages) first, as they would a provisioned env
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    base = {"session_id": session_id, "transcript_path": str(transcript), "cwd": str(project)}
    subagents = [p for p in sorted((source.with_suffix("") / "subagents").glob("agent-*.jsonl"))
                 if not p.name.startswith("agent-acompact")]  # a compaction's own agent is not a subagent
    version = next((l.get("version") for l in lines if l.get("version")), "?")
    prompts = sum(map(is_prompt, lines))
    compactions = sum(1 for l in lines if l.get("subtype") == "compact_boundary")

    print(f"session-state demo: a real Claude Code {version} session replayed through the plugin's hooks,")
    print(f"as Claude Code runs them ({source.name}: {len(lines):,} lines, {prompts} prompts, "
          f"{len(subagents)} subagent{'s' * (len(subagents) != 1)}, {compactions} compaction{'s' * (compactions != 1)}).")
    print(f"Scratch project: {project}")
    section("Budget, turn by turn (what `session-state statusline` would show)")
    hook("SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"}, env)
    told: list[tuple[str, str, str | None]] = []  # (when, to the model, to the user)
    injected = ""
    session_dir = Path(cli(env, "handoff", "create", "--session", session_id)).parent
    turns = 0
    replied = False
    with transcript.open("a", encoding="utf-8") as out:
        for line in lines:
            replied |= line.get("type") == "assistant"
            if starts_turn(line) and replied:
                replied = False
                out.flush()
                hook("Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False}, env)
                turns += 1
                print(f"  turn {turns:>2} ended (Stop)       {budget_line(session_dir)}")
            if line.get("subtype") == "compact_boundary":
                out.flush()
                trigger = (line.get("compactMetadata") or {}).get("trigger") or "auto"
                hook("PreCompact", {**base, "hook_event_name": "PreCompact", "trigger": trigger}, env)
                print(f"  compaction ({trigger}) begins {budget_line(session_dir)}")
            if "timestamp" in line:  # written now, as Claude Code writes a live session
                line["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            out.write(json.dumps(line) + "\n")
            if line.get("isCompactSummary"):
                out.flush()
                user, model = said(hook("SessionStart", {**base, "hook_event_name": "SessionStart", "source": "compact"}, env))
                injected = model or ""
                print(f"  compaction done            {budget_line(session_dir)}")
            elif is_prompt(line):
                out.flush()
                user, model = said(hook("UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit",
                                                             "prompt": prompt_text(line),
                                                             "prompt_id": line.get("promptId") or line.get("uuid")}, env))
                if model:
                    told.append((f"with prompt {turns + 1}", model, user))
    sub_dir = tdir / session_id / "subagents"
    for agent in subagents:
        sub_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(agent, sub_dir / agent.name)
        meta = agent.with_suffix(".meta.json")
        agent_type = json.loads(meta.read_text()).get("agentType", "general-purpose") if meta.exists() else "general-purpose"
        hook("SubagentStop", {**base, "hook_event_name": "SubagentStop", "agent_id": agent.stem.removeprefix("agent-"),
                              "agent_type": agent_type, "agent_transcript_path": str(sub_dir / agent.name),
                              "last_assistant_message": last_reply(agent.read_bytes())}, env)
    hook("Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False}, env)
    turns += 1
    print(f"  turn {turns:>2} ended (Stop)       {budget_line(session_dir)}")
    hook("SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "other"}, env)

    section("Budget now (`session-state budget`)")
    print(wrap(cli(env, "budget", "--session", session_id)))
    if injected and "session-state: context is at" in injected:
        warning = injected[injected.index("session-state: context is at"):]
        told.insert(0, ("after the compaction", warning, None))
    section("Threshold warnings the model received")
    for when, model, user in told:
        print(f"  {when}:")
        print(wrap(model, "    "))
        if user:
            print(f"    (the user saw: {user})")
    if not told:
        print("  none: this session never crossed a threshold")
    section(f"Injected after the compaction (SessionStart compact), {len(injected):,} characters, verbatim")
    print(injected.split("\n\nsession-state: context is at")[0] if injected else "  (no compaction in this transcript)")
    state = json.loads((session_dir / "state.json").read_text())
    section("Subagents (from SubagentStop and their transcripts)")
    for sub in state.get("subagents") or []:
        totals = sub.get("totals") or {}
        spent = sum(totals.get(k, 0) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        print(f"  {sub['agent_id']} ({sub.get('agent_type') or '?'}), {spent:,} input tokens, "
              f"{totals.get('output_tokens', 0):,} output:")
        print(wrap((sub.get("last_message") or "")[:600], "    "))
    section("Files in play (reads / edits)")
    for f in (state.get("files") or [])[:10]:
        print(f"  {f.get('reads', 0):>2} / {f.get('edits', 0):<2} {f['path']}")
    section("Decisions (`session-state decide`, as the warning asks the model to)")
    print("  " + cli(env, "decide", "Resume from the saved handoff after each compaction",
                     "--why", "recorded by this demo to show the decisions file the next context reads",
                     "--session", session_id))
    package = json.loads(cli(env, "handoff", "show", "--session", session_id, "--json"))
    print("  The handoff's decisions (what the next context reads):")
    for decision in package["context_snapshot"]["decisions"]:
        print(wrap(f"- {decision['choice']}, because {decision['why']}", "    "))
    print(f"\nEverything the plugin wrote: {session_dir}")
    if not args.keep:
        print("(a scratch folder; pass --keep DIR to choose where it goes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

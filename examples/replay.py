"""Replay a real Claude Code transcript through session-state's hooks, as Claude Code would run them.

The transcript is written out turn by turn into a scratch ~/.claude/projects layout; after
each prompt the UserPromptSubmit hook runs, after each turn the Stop hook, after each
subagent the SubagentStop hook, and at the end PreCompact, SessionStart(compact) and
SessionEnd. It prints the budget as it evolves, then the handoff the hooks produced and what
SessionStart would inject after a compaction.

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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "tests/fixtures/transcripts/-experiments-worktrees/ef958aa1-0e93-49f0-bb71-150f63befcd1.jsonl"


def hook(event: str, payload: dict, env: dict[str, str]) -> str:
    """Run one hook exactly as hooks/hooks.json makes Claude Code run it."""
    command = ["sh", str(REPO / "bin" / "ss-hook"), event]
    if not (REPO / "bin" / "ss-hook").exists():
        command = [sys.executable, "-I", "-X", "utf8", str(REPO / "bin" / "_run.py"), event]
    proc = subprocess.run(command, input=json.dumps(payload).encode(), capture_output=True, env=env, timeout=60)
    if proc.returncode != 0 or proc.stderr:
        print(f"  ! {event} exit {proc.returncode}: {proc.stderr.decode().strip()}", file=sys.stderr)
    return proc.stdout.decode()


def is_prompt(line: dict) -> bool:
    if line.get("type") != "user" or line.get("isMeta") or line.get("isSidechain"):
        return False
    content = (line.get("message") or {}).get("content")
    if isinstance(content, str):
        return not content.startswith("<")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "text" and not str(b.get("text", "")).startswith("<") for b in content
    )


def prompt_text(line: dict) -> str:
    content = line["message"]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


def budget_line(session_dir: Path) -> str:
    usage = session_dir / "usage.jsonl"
    if not usage.exists():
        return "budget: unknown"
    rec = json.loads(usage.read_text().splitlines()[-1])
    pct = "unknown" if rec.get("percent") is None else f"{rec['percent']:.1f}%"
    crossed = f"  ← crossed {', '.join(rec['crossed'])}" if rec.get("crossed") else ""
    return f"context {rec.get('context_tokens')} tokens = {pct} of {rec.get('window'):,} ({rec.get('level')}){crossed}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transcript", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--keep", type=Path, help="leave the replayed project and state here")
    args = parser.parse_args()
    source: Path = args.transcript
    lines = [l for l in source.read_text(encoding="utf-8").splitlines() if l.strip()]
    session_id = source.stem
    work = Path(args.keep or tempfile.mkdtemp(prefix="session-state-demo-"))
    project = work / "project"
    project.mkdir(parents=True, exist_ok=True)
    tdir = work / "home" / ".claude" / "projects" / "demo"
    tdir.mkdir(parents=True, exist_ok=True)
    transcript = tdir / f"{session_id}.jsonl"
    transcript.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env.update(CLAUDE_PROJECT_DIR=str(project), CLAUDE_PLUGIN_DATA=str(work / "plugin-data"))
    # the hooks find this interpreter (and its packages) first, as they would a provisioned env
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    base = {"session_id": session_id, "transcript_path": str(transcript), "cwd": str(project)}
    session_dir = project / ".claude" / "session-state" / "sessions" / session_id
    subagents = sorted((source.with_suffix("") / "subagents").glob("agent-*.jsonl"))

    print(f"Replaying {source.name} ({len(lines)} lines, {len(subagents)} subagent transcripts) into {work}\n")
    hook("SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"}, env)
    turns = 0
    replied = False
    with transcript.open("a", encoding="utf-8") as out:
        for raw in lines:
            line = json.loads(raw)
            replied |= line.get("type") == "assistant"
            if is_prompt(line) and replied:
                replied = False
                out.flush()
                hook("Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False}, env)
                turns += 1
                print(f"turn {turns:>2}: {budget_line(session_dir)}")
            out.write(raw + "\n")
            if is_prompt(line):
                out.flush()
                text = prompt_text(line)
                hook("UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit", "prompt": text, "prompt_id": line.get("promptId") or line.get("uuid")}, env)
    if subagents:
        sub_dir = tdir / session_id / "subagents"
        sub_dir.mkdir(parents=True, exist_ok=True)
        for agent in subagents:
            shutil.copyfile(agent, sub_dir / agent.name)
            meta = agent.with_suffix(".meta.json")
            agent_type = json.loads(meta.read_text()).get("agentType", "general-purpose") if meta.exists() else "general-purpose"
            hook("SubagentStop", {**base, "hook_event_name": "SubagentStop", "agent_id": agent.stem.removeprefix("agent-"),
                                  "agent_type": agent_type, "agent_transcript_path": str(sub_dir / agent.name),
                                  "last_assistant_message": "(replayed subagent)"}, env)
    hook("Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False}, env)
    turns += 1
    print(f"turn {turns:>2}: {budget_line(session_dir)}")
    summary = hook("PreCompact", {**base, "hook_event_name": "PreCompact", "trigger": "manual", "custom_instructions": None}, env)
    injected = hook("SessionStart", {**base, "hook_event_name": "SessionStart", "source": "compact"}, env)
    hook("SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "other"}, env)
    time.sleep(0.2)

    budget = subprocess.run(
        [sys.executable, "-m", "session_state.cli", "budget", str(transcript), "--json"],
        capture_output=True, text=True, env={**env, "PYTHONPATH": str(REPO / "src")},
    )
    print("\n== session-state budget --json ==")
    print(budget.stdout.strip() or budget.stderr.strip())
    print(f"\n== PreCompact told the summariser ==\n{summary.strip()}")
    print(f"\n== handoff.toon ({(session_dir / 'handoff.toon').stat().st_size} bytes) ==")
    print((session_dir / "handoff.toon").read_text())
    if injected:
        text = json.loads(injected)["hookSpecificOutput"]["additionalContext"]
        print(f"== SessionStart(compact) would inject {len(text)} characters (cap 9,000), ending with: ==\n{text.splitlines()[-1]}")
    print(f"\nState, checkpoints and handoffs: {session_dir}")
    if not args.keep:
        print("(scratch folder; pass --keep DIR to choose where it goes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

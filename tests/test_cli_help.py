"""Every command of this issue has --help with examples, and every example runs."""

from __future__ import annotations

import json
import re
import shlex
import subprocess

from test_cli_support import MAROT_ID, REPO, Project, cli_argv, fresh  # noqa: F401 - fixtures

COMMANDS = [
    ["status"],
    ["budget"],
    ["statusline"],
    ["checkpoints"],
    ["handoff"],
    ["handoff", "show"],
    ["handoff", "create"],
    ["decide"],
    ["export"],
    ["prune"],
    ["recover"],
    ["usage-log"],
    ["sessions"],
    ["fork"],
    ["config"],
    ["config", "show"],
    ["config", "set"],
    ["config", "path"],
    ["report"],
    ["doctor"],
    ["install-statusline"],
    ["uninstall-statusline"],
    ["install-cli"],
    ["migrate"],
    ["scrub"],
]
# Exit codes an example may have besides 0: doctor reports problems of the test machine with 1.
ALLOWED = {"doctor": {0, 1}, "migrate": {0, 2}}  # migrate: exit 2 says there is no old folder to move


def examples(help_text: str) -> list[str]:
    lines = help_text.split("examples:\n", 1)[1].splitlines() if "examples:\n" in help_text else []
    return [line.strip() for line in lines if line.strip().startswith("session-state ") or "| session-state " in line]


def test_the_list_covers_every_command() -> None:
    """A new command cannot go without examples: the list here is checked against the CLI's own."""
    import argparse

    from session_state import cli

    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {c[0] for c in COMMANDS}


def test_every_command_has_help_with_examples(fresh: Project) -> None:
    top = fresh.ok("--help")
    for name in ("status", "checkpoints", "handoff", "decide", "export", "prune", "recover", "usage-log", "sessions",
                 "fork", "config", "report", "doctor", "install-statusline", "uninstall-statusline"):
        assert name in top
    for command in COMMANDS:
        text = fresh.ok(*command, "--help")
        assert examples(text), f"{command}: no examples in --help"


def test_every_example_runs(fresh: Project, tmp_path) -> None:  # noqa: ANN001
    fresh.ok("decide", "seed", "--why", "so the decisions.toon example has a file")
    checkpoint = sorted((fresh.session_dir(MAROT_ID) / "checkpoints").glob("*.json"))[0].stem
    seen = set()
    ran = 0
    for command in COMMANDS:
        for example in examples(fresh.ok(*command, "--help")):
            if example in seen:
                continue
            seen.add(example)
            text = (
                example.replace("<CHECKPOINT-ID>", checkpoint)
                .replace("/tmp/", f"{tmp_path}/")  # before the repo path, which may itself be under /tmp
                .replace("tests/fixtures/", f"{REPO}/tests/fixtures/")
            )
            if "| session-state " in text:  # a pipeline: run it as a shell would, with this CLI
                feed, rest = text.split("| session-state ", 1)
                argv = shlex.split(rest)
                out = subprocess.run(["sh", "-c", f'{feed} | "$@"', "sh", *cli_argv(), *argv], cwd=fresh.dir,
                                     env={**fresh.env, "CLAUDE_CODE_SESSION_ID": MAROT_ID}, capture_output=True,
                                     text=True, timeout=120)
            else:
                argv = shlex.split(text)[1:]
                out = fresh.run(*argv, env={"CLAUDE_CODE_SESSION_ID": MAROT_ID})
            assert "Traceback" not in out.stderr, f"{example}: {out.stderr}"
            assert out.returncode in ALLOWED.get(argv[0], {0}), f"{example} exited {out.returncode}: {out.stderr}"
            if "--json" in argv:
                json.loads(out.stdout)
            ran += 1
    assert ran >= 35


SLASH = ["status", "checkpoints", "handoff", "decide"]


def frontmatter(text: str) -> dict[str, str]:
    assert text.startswith("---\n"), "a command file starts with YAML frontmatter"
    head = text.split("\n---\n", 1)[0][4:]
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in head.splitlines() if ":" in line)}


def test_slash_commands_run_the_cli(fresh: Project) -> None:
    """/session-state:<name> files: frontmatter, and every command they run or prescribe works."""
    for name in SLASH:
        text = (REPO / "commands" / f"{name}.md").read_text()
        meta = frontmatter(text)
        assert meta["description"] and meta["argument-hint"]
        assert meta["allowed-tools"] == "Bash(session-state:*)"
        body = text.split("\n---\n", 1)[1]
        assert "$ARGUMENTS" in body
        run_now = re.findall(r"^!`([^`]+)`", body, re.M)  # executed by Claude Code before the prompt
        prescribed = re.findall(r"`(session-state [^`]+)`", body)  # commands the model is told to run
        assert run_now or prescribed
        for command in run_now + prescribed:
            command = command.replace("$ARGUMENTS", "").replace("<choice>", "a slash choice")
            command = command.replace("<reason>", "a slash reason").replace("<id>", "x")
            if "recover --from" in command:
                continue  # destructive on request only; recover is tested in test_cli_recovery
            argv = shlex.split(command)
            assert argv[0] == "session-state", command
            out = fresh.run(*argv[1:], env={"CLAUDE_CODE_SESSION_ID": MAROT_ID})
            assert out.returncode == 0 and "Traceback" not in out.stderr, f"{name}.md: {command}: {out.stderr}"
    assert "a slash choice" in (fresh.root / "decisions.toon").read_text()

"""Entry file for a hook: `python -I -X utf8 bin/_run.py <Event>`, started by bin/ss-hook.

Python 3.8 syntax on purpose, so that an interpreter too old for the plugin reaches the
version check below and leaves quietly instead of dying on a SyntaxError.

The import path comes from this file's location (`<plugin root>/src`), never from
CLAUDE_PLUGIN_ROOT, the current directory or the plugin folder's name: a marketplace install
runs from a versioned cache copy, and `-I` drops PYTHONPATH and the user site on purpose.
Everything after that is the runner's job; only a failure to *reach* it is handled here,
and like every hook failure it exits 0 with empty stdout so the session goes on.
"""

import os
import sys


def _fail(message: str, exc: BaseException = None) -> None:
    """Log (when the package is importable), say one line on stderr, exit 0."""
    where = "the session-state log"
    try:
        from session_state.core import log

        where = log.write(message, exc)
    except Exception:
        pass
    try:
        sys.stderr.write("session-state: %s; see %s\n" % (message, where))
    except Exception:
        pass
    sys.exit(0)


def cli() -> None:
    """`bin/session-state` comes through ss-hook to find the same interpreter as the hooks."""
    if sys.version_info < (3, 10):
        sys.stderr.write("session-state: Python 3.10 or newer is needed (this is %d.%d)\n" % sys.version_info[:2])
        sys.exit(2)
    from session_state.cli import main as run_cli

    sys.exit(run_cli(sys.argv[1:]))


def main() -> None:
    event = sys.argv[1] if len(sys.argv) > 1 else ""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
    if os.environ.pop("SESSION_STATE_CLI", None) == "1":
        cli()
    if sys.version_info < (3, 10):
        _fail("hook %s skipped: Python %d.%d is too old (3.10 or newer needed)" % ((event,) + sys.version_info[:2]))
    try:
        from session_state.hooks.runner import main as run
    except (Exception, KeyboardInterrupt) as exc:
        _fail("hook %s skipped: cannot load the hook runner (%s)" % (event, type(exc).__name__), exc)
    run(event)


if __name__ == "__main__":
    main()

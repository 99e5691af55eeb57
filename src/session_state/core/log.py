"""The plugin's own log: a size-capped file, never stdout.

Stdlib only. Hook stdout is a channel to Claude Code (and on some events to the model),
so everything diagnostic goes here; the log path is what a failing hook names on stderr.
"""

from __future__ import annotations

import os
import time
import traceback

from session_state.core import paths

MAX_BYTES = 1_000_000


def write(message: str, exc: BaseException | None = None) -> str:
    """Append one entry (with traceback when given) and return the log path; never raises."""
    path = paths.log_file()
    try:
        paths.ensure_dir(path.parent)
        try:
            if path.stat().st_size > MAX_BYTES:
                os.replace(path, path.with_name(path.name + ".1"))
        except FileNotFoundError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        text = f"{stamp} pid={os.getpid()} {message}\n"
        if exc is not None:
            text += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        from session_state.core.fsutil import append_record

        append_record(path, text.encode("utf-8", "replace"))
    except Exception:
        pass
    return str(path)

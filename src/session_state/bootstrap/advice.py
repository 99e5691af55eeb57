"""Why the environment could not be built, and the one setting or command that fixes it.

Stdlib only, Python 3.8 syntax. Reads the failure record the provisioner keeps (phase and
the tail of the installer's output) and names the cause a user can act on: no package
index reachable (with the index pip looked in), a proxy in the way, a certificate problem,
no pip and no uv, a build killed by the system. Shared by the SessionStart notice and
`session-state doctor`, so both say the same thing.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Tuple

RETRY = "then retry now with `session-state doctor --retry-env`"
_INDEX = re.compile(r"Looking in indexes: (\S+)")
_UNREACHABLE = (
    "No matching distribution found", "from versions: none", "Failed to establish a new connection",
    "Connection refused", "Network is unreachable", "Temporary failure in name resolution",
    "Name or service not known", "No route to host", "Read timed out", "ConnectTimeoutError",
    "error sending request", "Could not connect", "Failed to fetch",
)
_PROXY = ("ProxyError", "Cannot connect to proxy", "proxy")
_CERT = ("CERTIFICATE_VERIFY_FAILED", "SSLError", "certificate verify failed", "invalid peer certificate")
_NO_PIP = ("no ensurepip", "No module named ensurepip", "No module named pip", "ensurepip is not available")


def explain(record: Optional[Dict[str, Any]], environ: Optional[Dict[str, str]] = None) -> Tuple[str, str]:
    """(why, fix) for a failure record from `backoff.load`; plain words, one line each."""
    import os

    env = os.environ if environ is None else environ
    record = record or {}
    tail = str(record.get("stderr_tail") or "")
    phase = str(record.get("phase") or "unknown")
    proxy = env.get("HTTPS_PROXY") or env.get("https_proxy") or env.get("HTTP_PROXY") or env.get("http_proxy")
    if record.get("signaled"):
        return (
            "the build was killed by the system during %s (often: out of memory)" % phase,
            "free some memory, " + RETRY,
        )
    if any(word in tail for word in _NO_PIP):
        return (
            "this Python cannot create an environment with pip (no ensurepip)",
            "install uv (https://docs.astral.sh/uv/) or your system's python3-venv package, " + RETRY,
        )
    if any(word in tail for word in _CERT):
        return (
            "the package index's certificate was not accepted",
            "point PIP_CERT (or `cert` in pip.conf) at your organisation's CA bundle, " + RETRY,
        )
    if proxy and any(word in tail for word in _PROXY):
        return (
            "the proxy %s refused or failed the connection to the package index" % proxy,
            "fix HTTPS_PROXY (or unset it), " + RETRY,
        )
    if any(word in tail for word in _UNREACHABLE):
        found = _INDEX.search(tail)
        index = found.group(1) if found else "https://pypi.org/simple"
        via = " through the proxy %s" % proxy if proxy else ""
        return (
            "no package index could be reached%s (pip looked in %s)" % (via, index),
            "set PIP_INDEX_URL (or `index-url` in pip.conf) to an index this machine can reach, or HTTPS_PROXY "
            "for your proxy, or install uv with its own index settings; " + RETRY,
        )
    last = [line.strip() for line in tail.splitlines() if line.strip()]
    return (
        "the %s step failed%s" % (phase, ": " + last[-1][:160] if last else ""),
        "see the provision log; " + RETRY,
    )

"""The one redactor measured: detect-secrets' import cost, cost per MB, and false positives.

Run by hand: `.venv/bin/python benchmarks/bench_redaction.py [--corpus DIR] [--starts N]`.

1. Import cost (median of N fresh `python -I` processes, minus a bare `python -I -c pass`):
   the whole detect_secrets package, one plugin module alone (it loads the package through
   `detect_secrets/__init__`), and session_state.state.detector / session_state.state.redactor.
2. Cost per MB on the real corpus text: every string of every transcript line, through the
   built-in rules alone (`redact.redact_text`), the detector alone and the whole redactor.
3. False positives: every redaction the whole redactor makes in that text, with the value it
   replaced, classified. The four kinds that must never be redacted (git SHAs and hex digests,
   UUIDs, file paths, lock-file integrity hashes) are counted separately; everything else is
   listed by rule (`[REDACTED:<kind>]`) with a sample, for a person to judge (a real secret in
   the corpus is not a false positive). Exit status 1 when any of the four kinds was redacted.

The corpus defaults to ../shared/fixtures/transcripts (105 real Claude Code transcripts).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
CORPUS = REPO.parent / "shared" / "fixtures" / "transcripts"
MARK = re.compile(r"\[REDACTED:([a-z0-9_\-]+)\]")

NEVER = {
    "git_sha_or_hex_digest": re.compile(r"[0-9a-fA-F]{7,128}"),
    "uuid": re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    "lock_file_hash": re.compile(r"(?:sha1|sha256|sha384|sha512|md5)-[A-Za-z0-9+/]{16,}={0,2}"),
    "file_path": re.compile(r"~?\.{0,2}/?(?:[\w.@+\-]+/)+[\w.@+\-]*"),
}


def import_ms(statement: str, starts: int) -> float:
    times = []
    for _ in range(starts):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", statement], check=True, env={"PYTHONPATH": str(REPO / "src")})
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def strings_of(corpus: Path) -> list[str]:
    out: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, str):
            out.append(obj)
        elif isinstance(obj, dict):
            for value in obj.values():
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    for path in sorted(corpus.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                walk(json.loads(line))
            except ValueError:
                continue
    return out


def replaced(original: str, redacted: str) -> list[tuple[str, str]]:
    """(kind, original value) for each mark in `redacted`, aligned on the text between marks."""
    parts = MARK.split(redacted)  # text, kind, text, kind, ..., text
    hits: list[tuple[str, str]] = []
    pos = len(parts[0]) if original.startswith(parts[0]) else 0
    for i in range(1, len(parts), 2):
        kind, after = parts[i], parts[i + 1]
        end = original.find(after[:40], pos) if after else len(original)
        if end < 0:
            end = pos
        hits.append((kind, original[pos:end]))
        pos = end + len(after)
    return hits


def classify(value: str) -> str | None:
    value = value.strip("'\"` ,;")
    for name, shape in NEVER.items():
        if shape.fullmatch(value):
            return name
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--starts", type=int, default=15)
    args = ap.parse_args()

    bare = import_ms("pass", args.starts)
    print(f"import cost (median of {args.starts} starts, minus bare python {bare:.1f} ms):")
    for label, statement in (
        ("detect_secrets (whole package)", "import detect_secrets"),
        ("detect_secrets.plugins.github_token only", "import detect_secrets.plugins.github_token"),
        ("session_state.state.detector", "import session_state.state.detector"),
        ("session_state.state.redactor", "import session_state.state.redactor"),
        ("session_state.core.redact (built-in rules)", "import session_state.core.redact"),
    ):
        print(f"  {label:44s} {import_ms(statement, args.starts) - bare:7.1f} ms")

    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}: skipping the per-MB and false-positive figures")
        return 0
    from session_state.state import detector, redactor
    from session_state.core import redact

    texts = strings_of(args.corpus)
    megabytes = sum(map(len, texts)) / 1e6
    lines = sum(t.count("\n") + 1 for t in texts)
    print(f"\ncorpus: {len(list(args.corpus.rglob('*.jsonl')))} files, {len(texts):,} strings, {lines:,} lines, {megabytes:.1f} M chars")
    for label, fn in (("built-in rules", redact.redact_text), ("detector alone", detector.redact), ("whole redactor", redactor.redact_text)):
        t0 = time.perf_counter()
        outs = [fn(t) for t in texts]
        dt = time.perf_counter() - t0
        print(f"  {label:16s} {dt:6.2f} s = {dt / megabytes * 1000:6.0f} ms per MB ({dt / lines * 1e6:5.1f} µs per line)")

    by_kind: collections.Counter[str] = collections.Counter()
    never: collections.Counter[str] = collections.Counter()
    samples: dict[str, list[str]] = collections.defaultdict(list)
    for original, out in zip(texts, outs):
        if out == original:
            continue
        for kind, value in replaced(original, out):
            by_kind[kind] += 1
            shape = classify(value)
            if shape:
                never[shape] += 1
                samples[f"NEVER {shape}"].append(value[:80])
            elif len(samples[kind]) < 5:
                samples[kind].append(value[:80])
    print(f"\nredactions in the corpus text: {sum(by_kind.values())}")
    for kind, count in by_kind.most_common():
        print(f"  {kind:24s} {count:5d}   e.g. {samples[kind][:3]}")
    print("never-redacted kinds (git SHA / hex digest, UUID, file path, lock-file hash): "
          + ", ".join(f"{name} {never[name]}" for name in NEVER))
    for name in NEVER:
        for value in samples.get(f"NEVER {name}", [])[:5]:
            print(f"  REDACTED {name}: {value!r}")
    return 1 if sum(never.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

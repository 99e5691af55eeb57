"""The report in a real headless Chromium: it loads without errors, the chart is in the DOM, and
the screenshot shows it (the line and compaction colours are really painted).

Chromium comes from $SESSION_STATE_CHROMIUM (scripts/setup installs Debian's `chromium` when a
test mentions that variable) or from PATH. The screenshot stays in the test's temp folder.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from test_cli_support import MAROT, MAROT_ID, REPO, Project, bare, fresh  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow  # a real headless Chromium: seconds per page

CORPUS = REPO.parent / "shared" / "fixtures" / "transcripts" / "projects" / "marot-spotter" / MAROT.name
LINE_BLUE = (0x15, 0x65, 0xC0)
COMPACTION_PURPLE = (0x6A, 0x1B, 0x9A)


def chromium() -> str:
    found = os.environ.get("SESSION_STATE_CHROMIUM") or next(
        (shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None
    )
    if not found:
        pytest.skip("no Chromium: install Debian's `chromium` (scripts/setup does it in CI when apt-get is usable)")
    return found


def browse(page: Path, workdir: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={workdir / 'profile'}",
        "--window-size=1200,1600",
        *mode,
        page.resolve().as_uri(),
    ]
    env = {**os.environ, "HOME": str(workdir)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, stdin=subprocess.DEVNULL, cwd=workdir)


def console_problems(stderr: str) -> list[str]:
    """Console messages and script errors Chromium logged for the page (the page has no scripts)."""
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line or "net::ERR" in line
    ]


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    if bpp == 4:
        rows = [bytes(b for i, b in enumerate(r) if i % 4 != 3) for r in rows]
    return width, height, rows


def count_colour(rows: list[bytes], rgb: tuple[int, int, int], tolerance: int = 10) -> int:
    n = 0
    for row in rows:
        for i in range(0, len(row), 3):
            if all(abs(row[i + k] - rgb[k]) <= tolerance for k in range(3)):
                n += 1
    return n


def check_page(page: Path, workdir: Path, *, checkpoints: int | None) -> Path:
    dom = browse(page, workdir, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not console_problems(dom.stderr), console_problems(dom.stderr)
    html = dom.stdout
    assert re.search(r'<svg[^>]*id="context-chart"', html), "the chart is not in the rendered DOM"
    assert len(re.findall(r'class="compaction-marker"', html)) == 1
    assert re.search(r'<polyline class="context-line"', html)
    if checkpoints is not None:
        assert len(re.findall(r'class="checkpoint-marker"', html)) == checkpoints
    shot = workdir / "shot.png"
    run = browse(page, workdir, f"--screenshot={shot}")
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    assert not console_problems(run.stderr), console_problems(run.stderr)
    assert shot.stat().st_size > 30_000, "the screenshot is nearly blank"
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1200, 1600)
    assert count_colour(rows, LINE_BLUE) > 300, "the context line is not painted"
    assert count_colour(rows, COMPACTION_PURPLE) > 200, "the compaction marker / auto-compaction line is not painted"
    return shot


def test_session_report_in_chromium(fresh: Project, tmp_path: Path) -> None:
    page = tmp_path / "session.html"
    fresh.ok("report", "--session", MAROT_ID, "--out", str(page))
    shot = check_page(page, tmp_path, checkpoints=len(list((fresh.session_dir(MAROT_ID) / "checkpoints").glob("*.json"))))
    assert str(shot).startswith(str(tmp_path)) and not str(shot).startswith(str(REPO))


def test_corpus_transcript_report_in_chromium(bare: Project, tmp_path: Path) -> None:
    source = CORPUS if CORPUS.is_file() else MAROT
    page = tmp_path / "corpus.html"
    bare.ok("report", "--transcript", str(source), "--out", str(page), cwd=tmp_path)
    check_page(page, tmp_path, checkpoints=None)

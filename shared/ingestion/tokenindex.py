"""Token positions of a whole document from one encoding pass.

Chunking asks "how many tokens in this span?" thousands of times; encoding every candidate
span again would tokenize the text several times over. Instead the document is encoded once
and each token's start is mapped to a character offset, so a span's count is two binary
searches. Counts of spans that begin mid-token may differ from a fresh encoding by one token.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import tiktoken

IntArray = npt.NDArray[np.int64]


@lru_cache(maxsize=4)
def _token_lengths(encoding: tiktoken.Encoding) -> IntArray:
    """Byte length of every token id of ``encoding`` (built once per process)."""
    lengths = np.zeros(encoding.n_vocab, dtype=np.int64)
    for token in range(encoding.n_vocab):
        try:
            lengths[token] = len(encoding.decode_single_token_bytes(token))
        except KeyError:  # unused ids between the ordinary and special tokens
            continue
    return lengths


class TokenIndex:
    """Answers token counts and token-aligned cut points for spans of ``text``."""

    def __init__(self, text: str, encoding: tiktoken.Encoding) -> None:
        tokens = np.asarray(encoding.encode_ordinary(text), dtype=np.int64)
        lengths = _token_lengths(encoding)[tokens]
        self.total = int(tokens.size)
        self.length = len(text)
        self._starts: IntArray = np.cumsum(lengths) - lengths  # byte offset where each token starts
        self._char_bytes: IntArray | None = None  # char offset -> byte offset, None for ASCII text
        if not text.isascii():
            codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            widths = 1 + (codepoints >= 0x80) + (codepoints >= 0x800) + (codepoints >= 0x10000)
            self._char_bytes = np.concatenate([[0], np.cumsum(widths, dtype=np.int64)])
        # Scalar lookups are far cheaper with bisect on lists than with numpy calls.
        self._start_list: list[int] = self._starts.tolist()
        self._char_list: list[int] | None = None if self._char_bytes is None else self._char_bytes.tolist()

    def _byte(self, char: int) -> int:
        return char if self._char_list is None else self._char_list[char]

    def _char(self, byte: int) -> int:
        if self._char_list is None:
            return byte
        return bisect_left(self._char_list, byte)

    def token_at(self, char: int) -> int:
        """Index of the first token starting at or after ``char``."""
        return bisect_left(self._start_list, self._byte(char))

    def char_of(self, token: int) -> int:
        """Character offset where token number ``token`` starts (end of text past the last)."""
        if token >= self.total:
            return self.length
        return self._char(self._start_list[token])

    def count(self, start: int, end: int) -> int:
        """Tokens in ``text[start:end]``."""
        return self.token_at(end) - self.token_at(start)

    def split(self, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
        """Cut a span without word breaks (one enormous "word") every ``limit`` tokens."""
        first, last = self.token_at(start), self.token_at(end)
        cut = start
        for token in range(first + limit, last, limit):
            position = max(self.char_of(token), cut + 1)
            yield cut, position
            cut = position
        if cut < end:
            yield cut, end

"""Extractive answers: the context sentences that best match the question, with their [n].

It reads the same prompt a real model would get (see :mod:`shared.llm.grounding`), so the
answering pipeline is identical whichever provider is configured. Sentences are scored by
shared question words, plus half a point per word shared with the heading they sit under,
so a fact stated under "## Rate limits" counts as being about rate limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from shared.llm.grounding import NO_ANSWER, parse_prompt
from shared.llm.offline.embedder import content_words
from shared.llm.types import Message

_SENTENCE = re.compile(r"(?<=[.!])\s+")
_MARKUP = re.compile(r"\*\*|__|`|^\s*[-*+]\s+|^\s*\d+\.\s+")
_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in content_words(text)}


def _sentences(text: str) -> list[tuple[str, str]]:
    """(heading, sentence) pairs; headings, questions, table rows and code are not answers."""
    heading, out, in_code = "", [], False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line or line.startswith("|"):
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            continue
        for sentence in _SENTENCE.split(_MARKUP.sub("", line)):
            sentence = sentence.strip()
            if len(sentence) > 15 and not sentence.endswith(("?", ":")):
                out.append((heading, sentence))
    return out


def answer(messages: Sequence[Message], max_sentences: int = 3) -> str:
    """Pick up to ``max_sentences`` sentences sharing the most question words; cite each."""
    question, blocks = parse_prompt(messages)
    q = _words(question)
    if not q or not blocks:
        return NO_ANSWER
    scored: list[tuple[float, int, int, str]] = []
    for n, text in blocks:
        for pos, (heading, sentence) in enumerate(_sentences(text)):
            words = _words(sentence)
            overlap = len(q & words)
            if overlap:
                score = (overlap + 0.5 * len(q & _words(heading))) / math.sqrt(len(words) + 1)
                scored.append((score, n, pos, sentence))
    if not scored:
        return NO_ANSWER
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    best = scored[0][0]
    picked = [s for s in scored[:max_sentences] if s[0] >= best * 0.6]
    picked.sort(key=lambda item: (item[1], item[2]))
    return " ".join(f"{sentence.rstrip()} [{n}]" for _, n, _, sentence in picked)

"""Extractive answers: the context sentences that best match the question, with their [n].

It reads the same prompt a real model would get (see :mod:`shared.llm.grounding`), so the
answering pipeline is identical whichever provider is configured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from shared.llm.grounding import NO_ANSWER, parse_prompt
from shared.llm.offline.embedder import content_words
from shared.llm.types import Message

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def answer(messages: Sequence[Message], max_sentences: int = 3) -> str:
    """Pick up to ``max_sentences`` sentences sharing the most question words; cite each."""
    question, blocks = parse_prompt(messages)
    q = {_stem(w) for w in content_words(question)}
    if not q or not blocks:
        return NO_ANSWER
    scored: list[tuple[float, int, int, str]] = []
    for n, text in blocks:
        for pos, sentence in enumerate(s.strip(" -*#|") for s in _SENTENCE.split(text)):
            words = {_stem(w) for w in content_words(sentence)}
            overlap = len(q & words)
            if overlap and len(sentence) > 15:
                scored.append((overlap / math.sqrt(len(words) + 1), n, pos, sentence))
    if not scored:
        return NO_ANSWER
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    best = scored[0][0]
    picked = [s for s in scored[:max_sentences] if s[0] >= best * 0.6]
    picked.sort(key=lambda item: (item[1], item[2]))
    return " ".join(f"{sentence.rstrip()} [{n}]" for _, n, _, sentence in picked)

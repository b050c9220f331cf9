"""The grounded prompt's context: retrieved chunks as numbered blocks, packed to a token budget.

Blocks use :mod:`shared.llm.grounding`'s format (the offline answerer parses it back). Chunk
text is data from documents anyone could upload, so anything in it that could pass for our own
delimiters is defused before it reaches the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.llm import grounding
from shared.retrieval.search import Hit
from shared.tokens import count_text, encoding_for

_FAKE_BLOCK = re.compile(r"^(\[\d+\] source:)", re.M)
_DELIMITER = re.compile(r"</?\s*context\s*>", re.I)


@dataclass(frozen=True)
class ContextBlock:
    """A chunk as the model sees it, numbered ``n``."""

    n: int
    hit: Hit
    text: str
    tokens: int


def defuse(text: str) -> str:
    """Chunk text that cannot close the context element or start a block of its own."""
    text = _DELIMITER.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    return _FAKE_BLOCK.sub(r" \1", text)


def source_label(hit: Hit) -> str:
    """One line naming the document (and section) a block comes from."""
    label = hit.document
    if hit.heading_path:
        label += " § " + " > ".join(hit.heading_path)
    return " ".join(label.split())


def _truncate(text: str, tokens: int, model: str) -> str:
    encoding = encoding_for(model)
    return encoding.decode(encoding.encode(text, disallowed_special=())[:tokens])


def pack(hits: Sequence[Hit], *, budget: int, model: str, first_n: int = 1) -> list[ContextBlock]:
    """Blocks numbered from ``first_n`` in rank order while they fit in ``budget`` tokens.

    A block that does not fit is skipped (a smaller one further down may); the first block is
    truncated rather than dropped, so a single long chunk still yields an answer.
    """
    blocks: list[ContextBlock] = []
    used = 0
    for hit in hits:
        n = first_n + len(blocks)
        content = defuse(hit.content)
        text = grounding.block(n, source_label(hit), hit.page, content)
        tokens = count_text(text, model)
        if used + tokens > budget:
            if blocks:
                continue
            header = count_text(grounding.block(n, source_label(hit), hit.page, ""), model)
            if budget - header < 16:
                break
            text = grounding.block(n, source_label(hit), hit.page, _truncate(content, budget - header - 1, model))
            tokens = count_text(text, model)
        blocks.append(ContextBlock(n=n, hit=hit, text=text, tokens=tokens))
        used += tokens
    return blocks

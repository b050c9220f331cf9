"""Citation checking: every ``[n]`` in an answer must name a block the model was given.

A model can cite a number it invented or one from an earlier turn; such a marker is removed
from the text and reported, so a client never shows a source that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.retrieval.context import ContextBlock
from shared.retrieval.models import Citation

# "[3]", "[1, 2]", "[1][2]" — one marker group per bracket.
_MARKER = re.compile(r"\s?\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class CheckedAnswer:
    text: str
    citations: list[Citation]
    removed: list[int]


def markers(text: str) -> list[int]:
    """Every cited number, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in _MARKER.finditer(text):
        for part in match.group(1).split(","):
            seen.setdefault(int(part), None)
    return list(seen)


def check(text: str, blocks: Iterable[ContextBlock]) -> CheckedAnswer:
    """Keep markers that point at a given block, drop the rest; list the cited blocks."""
    by_n: Mapping[int, ContextBlock] = {b.n: b for b in blocks}
    removed: dict[int, None] = {}

    def keep_known(match: re.Match[str]) -> str:
        numbers = [int(p) for p in match.group(1).split(",")]
        known = [n for n in numbers if n in by_n]
        for n in numbers:
            if n not in by_n:
                removed.setdefault(n, None)
        if not known:
            return ""
        lead = match.group(0)[0] if match.group(0)[0].isspace() else ""
        return lead + "[" + ", ".join(str(n) for n in known) + "]"

    cleaned = _MARKER.sub(keep_known, text)
    citations = [_citation(by_n[n]) for n in markers(cleaned)]
    return CheckedAnswer(text=cleaned, citations=citations, removed=list(removed))


def _citation(block: ContextBlock) -> Citation:
    hit = block.hit
    return Citation(n=block.n, document=hit.document, page=hit.page, blob_path=hit.blob_path, chunk_id=hit.chunk_id)

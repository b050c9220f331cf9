"""What every format extractor returns: ordered blocks that keep the document's structure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shared.errors import PermanentError

_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
BlockKind = Literal["heading", "paragraph", "table", "code"]


@dataclass(frozen=True, slots=True)
class Block:
    """One structural piece of a document; the chunker never splits a heading from its level."""

    kind: BlockKind
    text: str
    level: int = 0  # heading depth, 1 = top (0 = document title); unused for other kinds
    page: int | None = None  # 1-based page for paginated formats


class UnsupportedFormatError(PermanentError):
    """No extractor for this kind of file: recorded as ``unsupported``, never retried."""

    code = "unsupported"


class CorruptDocumentError(PermanentError):
    """The parser rejected the file: recorded as ``failed`` with the parser's reason."""

    code = "corrupt"


def paragraphs(text: str, *, page: int | None = None) -> list[Block]:
    """Split plain text on blank lines; whitespace-only pieces are dropped."""
    blocks = []
    for piece in _BLANK_LINES.split(text):
        piece = piece.strip()
        if piece:
            blocks.append(Block("paragraph", piece, page=page))
    return blocks

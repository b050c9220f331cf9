"""PDF through pypdf: text per page, so every chunk can cite the page it came from."""

from __future__ import annotations

import logging
from typing import IO

from shared.ingestion.extract.base import Block, CorruptDocumentError, paragraphs

logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed-but-readable files warn per object


def extract_pdf(stream: IO[bytes]) -> list[Block]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            raise CorruptDocumentError("the PDF is encrypted")
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").replace("\r\n", "\n")
            blocks.extend(paragraphs(_reflow(text), page=number))
    except CorruptDocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        raise CorruptDocumentError(f"pypdf could not read the PDF: {type(exc).__name__}: {exc}") from exc
    if not blocks:
        raise CorruptDocumentError("the PDF has no extractable text (scanned images need OCR)")
    return blocks


def _reflow(text: str) -> str:
    """pypdf separates lines, rarely paragraphs: a line ending a sentence closes a paragraph."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.endswith((".", "!", "?", ":")) and len(line) < 60:
            out.append("")
    return "\n".join(out)

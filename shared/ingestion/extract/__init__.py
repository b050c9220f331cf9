"""Format extractors behind one call: file name in, structural blocks out."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import IO

from shared.ingestion.extract.base import Block, CorruptDocumentError, UnsupportedFormatError

__all__ = ["Block", "CorruptDocumentError", "UnsupportedFormatError", "extract", "format_of"]

_FORMATS = {".txt": "text", ".text": "text", ".log": "text", ".md": "markdown", ".markdown": "markdown",
            ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}


def format_of(name: str) -> str | None:
    """The extractor for a blob name, or None when the format is not supported."""
    return _FORMATS.get(PurePosixPath(name).suffix.lower())


def extract(stream: IO[bytes], name: str) -> list[Block]:
    """Blocks of the document; UnsupportedFormatError or CorruptDocumentError when it has none."""
    kind = format_of(name)
    if kind == "pdf":
        from shared.ingestion.extract.pdf import extract_pdf

        return extract_pdf(stream)
    if kind == "docx":
        from shared.ingestion.extract.docx import extract_docx

        return extract_docx(stream)
    if kind is None:
        raise UnsupportedFormatError(f"no extractor for {PurePosixPath(name).suffix or 'files without extension'}")
    data = stream.read()
    if kind == "html":
        from shared.ingestion.extract.html import extract_html

        return extract_html(data)
    from shared.ingestion.extract.text import extract_markdown, extract_text

    return extract_markdown(data) if kind == "markdown" else extract_text(data)

"""Word documents through python-docx: paragraphs and tables in body order, headings kept."""

from __future__ import annotations

import re
import zipfile
from typing import IO

from shared.ingestion.extract.base import Block, CorruptDocumentError

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def extract_docx(stream: IO[bytes]) -> list[Block]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(stream)
        blocks: list[Block] = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                block = _paragraph(item)
                if block is not None:
                    blocks.append(block)
            elif isinstance(item, Table):
                rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in item.rows]
                table = "\n".join(r for r in rows if r.strip(" |"))
                if table:
                    blocks.append(Block("table", table))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, AttributeError) as exc:
        raise CorruptDocumentError(f"python-docx could not read the document: {type(exc).__name__}: {exc}") \
            from exc
    return blocks


def _paragraph(paragraph: object) -> Block | None:
    text = getattr(paragraph, "text", "").strip()
    if not text:
        return None
    style = getattr(getattr(paragraph, "style", None), "name", "") or ""
    if style.lower() == "title":
        return Block("heading", text, level=0)
    match = _HEADING_STYLE.match(style)
    if match:
        return Block("heading", text, level=int(match.group(1)))
    return Block("paragraph", text)

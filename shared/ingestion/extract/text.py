"""Plain text and Markdown: encoding detection, then paragraphs, headings, tables and code fences.

Markdown is scanned line by line rather than with a full CommonMark parser: chunking needs
only block boundaries (headings, fences, tables, paragraphs), and a line scanner keeps
extraction several times faster than the tokenizer that follows it.
"""

from __future__ import annotations

import re

from charset_normalizer import from_bytes

from shared.ingestion.extract.base import Block, CorruptDocumentError, paragraphs

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) directly; anything else through charset-normalizer."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise CorruptDocumentError("the text encoding could not be detected (binary content?)")
    return str(best)


def extract_text(data: bytes) -> list[Block]:
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        raise CorruptDocumentError("the text contains NUL bytes (binary content?)")
    return paragraphs(text)


def extract_markdown(data: bytes) -> list[Block]:
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n")
    return parse_markdown(text)


def parse_markdown(text: str) -> list[Block]:
    """Block structure of Markdown: ATX/setext headings, fenced code, pipe tables, paragraphs."""
    blocks: list[Block] = []
    para: list[str] = []
    lines = text.split("\n")

    def flush() -> None:
        if para:
            body = "\n".join(para).strip()
            table = all(p.lstrip().startswith("|") for p in para if p.strip())
            if body:
                blocks.append(Block("table" if table else "paragraph", body))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker, end = fence.group(1), i + 1
            while end < len(lines) and not lines[end].lstrip().startswith(marker):
                end += 1
            code = "\n".join(lines[i : end + 1]).strip()
            blocks.append(Block("code", code))
            i = end + 1
            continue
        heading = _ATX.match(line)
        if heading:
            flush()
            blocks.append(Block("heading", line.strip(), level=len(heading.group(1))))
        elif para and len(para) == 1 and _SETEXT.match(line) and not para[0].lstrip().startswith("|"):
            title = para.pop()
            blocks.append(Block("heading", f"{title.strip()}\n{line.strip()}", level=1 if "=" in line else 2))
        elif not line.strip():
            flush()
        else:
            if para and (line.lstrip().startswith("|") != para[-1].lstrip().startswith("|")):
                flush()  # a table directly after a paragraph line is its own block
            para.append(line)
        i += 1
    flush()
    return blocks


def heading_title(block: Block) -> str:
    """A heading's text without Markdown markers, for the heading path."""
    first = block.text.split("\n", 1)[0]
    return first.lstrip().lstrip("#").strip()

"""HTML: visible text only, with the title and headings kept as structure."""

from __future__ import annotations

from bs4 import BeautifulSoup
from bs4.element import Comment, Doctype, NavigableString, ProcessingInstruction, Tag

from shared.ingestion.extract.base import Block
from shared.ingestion.extract.text import decode

_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "svg", "canvas", "iframe", "object"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_PARAGRAPHS = frozenset({"p", "li", "dt", "dd", "blockquote", "figcaption", "caption", "address", "summary"})
_CONTAINERS = frozenset({"div", "section", "article", "main", "body", "html", "header", "footer", "nav", "aside",
                         "ul", "ol", "dl", "form", "fieldset", "details", "figure", "center"})
_SKIPPED_STRINGS = (Comment, Doctype, ProcessingInstruction)


def extract_html(data: bytes) -> list[Block]:
    soup = BeautifulSoup(decode(data), "lxml")
    blocks: list[Block] = []
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if title:
        blocks.append(Block("heading", title, level=0))
    root = soup.body or soup
    _walk(root, blocks)
    return blocks


def _walk(node: Tag, blocks: list[Block]) -> None:
    """Depth-first over block elements; loose inline text between them becomes a paragraph."""
    inline: list[str] = []

    def flush() -> None:
        text = " ".join(" ".join(inline).split())
        if text:
            blocks.append(Block("paragraph", text))
        inline.clear()

    for child in node.children:
        if isinstance(child, _SKIPPED_STRINGS):
            continue
        if isinstance(child, NavigableString):
            inline.append(str(child))
            continue
        if not isinstance(child, Tag) or child.name in _INVISIBLE or child.get("hidden") is not None:
            continue
        name = child.name
        if name in _HEADINGS:
            flush()
            text = _text(child)
            if text:
                blocks.append(Block("heading", text, level=_HEADINGS[name]))
        elif name == "pre":
            flush()
            code = child.get_text().strip("\n")
            if code.strip():
                blocks.append(Block("code", code))
        elif name == "table":
            flush()
            rows = [" | ".join(_text(cell) for cell in row.find_all(["th", "td"])) for row in child.find_all("tr")]
            table = "\n".join(r for r in rows if r.strip(" |"))
            if table:
                blocks.append(Block("table", table))
        elif name in _PARAGRAPHS and not child.find([*_HEADINGS, "table", "pre", "p"]):
            flush()
            text = _text(child)
            if text:
                blocks.append(Block("paragraph", text))
        elif name in _CONTAINERS or name in _PARAGRAPHS:
            flush()
            _walk(child, blocks)
        elif name == "br":
            inline.append("\n")
        else:
            inline.append(child.get_text(" "))
    flush()


def _text(tag: Tag) -> str:
    for hidden in tag.find_all(list(_INVISIBLE)):
        hidden.decompose()
    return " ".join(tag.get_text(" ").split())

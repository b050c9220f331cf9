"""Structure-aware chunks measured in the embedding model's tokens.

Blocks become units (a heading, a paragraph, or the sentences / lines / word groups of a
block too big to keep whole); units are packed into chunks that end at page breaks and
prefer to end at headings (tiny sections are merged with the next). Inside long sections,
boundaries are content-defined: a chunk ends after an "anchor" unit (chosen by a hash of
its opening words) once it is half full, and a full chunk is cut after the unit with the
highest such hash. Boundaries then depend on the text, not on positions, so editing one
paragraph changes about one chunk instead of every chunk after it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import tiktoken

from shared.ingestion.extract.base import Block
from shared.ingestion.tokenindex import TokenIndex

_SEPARATOR = "\n\n"
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"')\]]*\s+|\n+")
_WORD = re.compile(r"\S+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    char_start: int
    char_end: int
    token_count: int


@dataclass(frozen=True, slots=True)
class ChunkingPolicy:
    target_tokens: int
    overlap_tokens: int
    max_input_tokens: int = 8191

    @property
    def limit(self) -> int:
        """Tokens of a chunk's own units: the overlap on top must still fit the model's input limit."""
        return max(16, min(self.target_tokens, self.max_input_tokens - self.overlap_tokens - 8))


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    tokens: int
    page: int | None
    path: tuple[str, ...]
    heading: bool = False
    mark: int = 0  # content hash: decides content-defined boundaries

    @property
    def anchor(self) -> bool:
        return not self.heading and self.mark & 1 == 0


def chunk_document(blocks: Sequence[Block], encoding: tiktoken.Encoding, policy: ChunkingPolicy) -> list[Chunk]:
    """Chunks of the document whose extracted text is the blocks joined by blank lines."""
    text, spans = _assemble(blocks)
    index = TokenIndex(text, encoding)
    return _pack(text, list(_units(text, spans, index, policy.limit)), index, policy)


def _assemble(blocks: Sequence[Block]) -> tuple[str, list[tuple[Block, int, int]]]:
    spans, position = [], 0
    for block in blocks:
        spans.append((block, position, position + len(block.text)))
        position += len(block.text) + len(_SEPARATOR)
    return _SEPARATOR.join(b.text for b in blocks), spans


def heading_title(block: Block) -> str:
    return block.text.split("\n", 1)[0].strip().lstrip("#").strip()


def _units(text: str, spans: list[tuple[Block, int, int]], index: TokenIndex, limit: int) -> Iterator[_Unit]:
    path: list[tuple[int, str]] = []
    for block, start, end in spans:
        if block.kind == "heading":
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, heading_title(block)))
        names = tuple(title for _, title in path)
        tokens = index.count(start, end)
        if tokens <= limit:
            yield _Unit(start, end, tokens, block.page, names, block.kind == "heading", _mark(text, start, end))
            continue
        splitter = _SENTENCE_END if block.kind in ("paragraph", "heading") else _LINE
        for piece_start, piece_end in _pieces(text, start, end, splitter):
            for s, e in _fit(text, piece_start, piece_end, index, limit):
                yield _Unit(s, e, index.count(s, e), block.page, names, mark=_mark(text, s, e))


_LINE = re.compile(r"\n+")


def _mark(text: str, start: int, end: int) -> int:
    """Hash of the unit's opening words: an edit later in a paragraph keeps its boundary role."""
    return zlib.crc32(text[start:min(end, start + 40)].encode("utf-8", "surrogatepass"))


def _pieces(text: str, start: int, end: int, splitter: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """Sentences (or lines) of ``text[start:end]``, trailing whitespace excluded."""
    cut = start
    for match in splitter.finditer(text, start, end):
        stop = match.start() + len(match.group().rstrip())
        if stop > cut:
            yield cut, stop
        cut = match.end()
    if cut < end:
        yield cut, end


def _fit(text: str, start: int, end: int, index: TokenIndex, limit: int) -> Iterator[tuple[int, int]]:
    """The span itself when it fits, else groups of whole words, else token cuts of one huge word."""
    if index.count(start, end) <= limit:
        yield start, end
        return
    group: int | None = None
    last = start
    for match in _WORD.finditer(text, start, end):
        word_start, word_end = match.span()
        if group is not None and index.count(group, word_end) > limit:
            yield group, last
            group = None
        if index.count(word_start, word_end) > limit:
            yield from index.split(word_start, word_end, limit)
            continue
        group = word_start if group is None else group
        last = word_end
    if group is not None:
        yield group, last


def _pack(text: str, units: list[_Unit], index: TokenIndex, policy: ChunkingPolicy) -> list[Chunk]:
    chunks: list[Chunk] = []
    limit = policy.limit
    soft_min, anchor_min = limit // 2, limit // 2
    own: list[_Unit] = []
    start = 0  # where the current chunk begins (it may reach back into the previous one)
    carried: int | None = None  # overlap start for the chunk after the last one emitted

    def emit(members: list[_Unit], overlap: bool) -> None:
        nonlocal carried
        end = members[-1].end
        path = next((u.path for u in members if not u.heading), members[-1].path)  # section of its body text
        chunks.append(Chunk(len(chunks), text[start:end], path, members[0].page, start, end, index.count(start, end)))
        carried = _overlap_start(text, index, start, end, policy.overlap_tokens) if overlap else None

    for unit in units:
        if own and (unit.page != own[-1].page or (unit.heading and index.count(start, own[-1].end) >= soft_min)):
            emit(own, overlap=False)  # a page is the unit of citation: never mix two in a chunk
            own = []
        while own and index.count(start, own[-1].end) + unit.tokens > limit:
            keep = _best_cut(own, start, index, anchor_min)
            emit(own[:keep], overlap=True)
            own = own[keep:]
            if own:
                start = carried if carried is not None else own[0].start
        if not own:
            start = carried if carried is not None and not unit.heading else unit.start
        own.append(unit)
        if unit.anchor and index.count(start, unit.end) >= anchor_min:
            emit(own, overlap=True)
            own = []
    if own:
        emit(own, overlap=False)
    return chunks


def _best_cut(own: list[_Unit], start: int, index: TokenIndex, minimum: int) -> int:
    """How many units to keep when the chunk is full: end after the unit with the highest content
    hash among those past ``minimum`` tokens, so forced cuts are content-defined too."""
    best, best_mark = len(own), -1
    for k, unit in enumerate(own, start=1):
        if unit.heading or index.count(start, unit.end) < minimum:
            continue
        if unit.mark > best_mark:
            best, best_mark = k, unit.mark
    return best


def _overlap_start(text: str, index: TokenIndex, start: int, end: int, overlap: int) -> int | None:
    """Where the next chunk starts so it repeats about ``overlap`` tokens, at a word start."""
    if overlap <= 0:
        return None
    position = index.char_of(max(index.token_at(start), index.token_at(end) - overlap))
    if position > start and not text[position - 1].isspace():
        gap = _SPACE.search(text, position, end)
        if gap is None:
            return None
        position = gap.end()
    return position if start < position < end else None

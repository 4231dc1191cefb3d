"""Split a cleaned document into sentence-aligned chunks that fit the embedding model.

Pure: a Document and a token counter in, Chunks out. Chunks are made of whole sentences
(a sentence longer than the budget is cut with LangChain's recursive splitter), never
exceed the model's input limit (the model silently truncates beyond it), repeat whole
trailing sentences as overlap, and carry their exact character span and section heading.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.sentences import split_sentences
from rag.types import Chunk, Document, DocumentMeta

TokenCounter = Callable[[str], int]

# Bump when the algorithm changes: the manifest records it and old indexes are rebuilt.
CHUNKER_VERSION = 3
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


class HeaderTooLongError(ValueError):
    """A document's chunk header leaves too little of the budget for its text."""


@dataclass(frozen=True)
class ChunkerConfig:
    chunk_tokens: int
    overlap_tokens: int
    model_max_tokens: int  # hard limit including the model's two special tokens

    @property
    def budget(self) -> int:
        """Content word pieces allowed in one chunk."""
        return min(self.chunk_tokens, self.model_max_tokens - 2)

    def as_dict(self) -> dict[str, int]:
        return {
            "version": CHUNKER_VERSION,
            "chunk_tokens": self.chunk_tokens,
            "overlap_tokens": self.overlap_tokens,
            "model_max_tokens": self.model_max_tokens,
        }


def context_header(meta: DocumentMeta) -> str:
    """A line naming the document, indexed (embedded and BM25) with each of its chunks.

    Passages rarely repeat who wrote them or where; questions often say "in Melvin's
    paper" or "the E-IR piece". The header lets both retrievers see that context. It is
    not part of the chunk text, so spans and quotes stay exact."""
    fields = ((meta.title, _TITLE_CHARS), (meta.author, _NAME_CHARS), (meta.outlet, _NAME_CHARS))
    return " — ".join(_shorten(value, limit) for value, limit in fields if value)


# Header fields are cut to these lengths (the document keeps them whole): the header's
# word pieces come out of every chunk's budget, and an unbounded title left none (a
# 700-word-piece title: "chunk budget -669"). 150 characters keep real titles whole.
_TITLE_CHARS = 150
_NAME_CHARS = 60


def _shorten(value: str, limit: int) -> str:
    """`value`, or its first words within `limit` characters and an ellipsis."""
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:–—-") + "…"


def indexed_text(chunk_text: str, meta: DocumentMeta) -> str:
    """What the retrievers (dense and BM25) and the answer scorers see for a chunk (or a
    piece of one): its document's header line, then the text. The one place this rule lives."""
    header = context_header(meta)
    return f"{header}\n{chunk_text}" if header else chunk_text


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    starts_section: bool  # a heading: a good place to begin a new chunk


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a whole document; a paragraph break always ends a sentence."""
    spans = []
    for p_start, p_end in _paragraph_spans(text):
        for s_start, s_end in split_sentences(text[p_start:p_end]):
            spans.append((p_start + s_start, p_start + s_end))
    return spans


def _units(
    text: str, count: TokenCounter, config: ChunkerConfig, heading_starts: set[int]
) -> list[_Unit]:
    """Sentences, with over-long sentences cut into budget-sized pieces."""
    units: list[_Unit] = []
    splitter: RecursiveCharacterTextSplitter | None = None
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        tokens = count(sentence) - 2
        if tokens <= config.budget:
            units.append(_Unit(start, end, tokens, start in heading_starts))
            continue
        if splitter is None:
            splitter = RecursiveCharacterTextSplitter(
                chunk_size=config.budget,
                chunk_overlap=0,
                length_function=lambda piece: count(piece) - 2,
                separators=["; ", ", ", " "],
                keep_separator="end",
            )
        cursor = start
        for split in splitter.split_text(sentence):
            for piece in _cut_run(split, count, config.budget):
                piece_start = text.index(piece, cursor)
                cursor = piece_start + len(piece)
                units.append(_Unit(piece_start, cursor, count(piece) - 2, False))
    return units


def _cut_run(piece: str, count: TokenCounter, budget: int) -> list[str]:
    """`piece` if it fits the budget, else parts that do, cut between characters (a run
    with no space to split at). Each cut is found by galloping then bisection, so a run of
    n characters costs O(log n) counts per part; the splitter's own character-level
    fallback counted every character, which took minutes on a 100 KB run."""
    if count(piece) - 2 <= budget:
        return [piece]

    def fits(start: int, end: int) -> bool:
        return count(piece[start:end]) - 2 <= budget

    parts: list[str] = []
    start, n = 0, len(piece)
    while start < n:
        lo, step = start, max(1, budget)
        while start + step < n and fits(start, start + step):
            lo, step = start + step, step * 2
        hi = min(start + step, n)
        if hi == n and fits(start, n):
            parts.append(piece[start:])
            break
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(start, mid) else (lo, mid)
        end = max(lo, start + 1)
        parts.append(piece[start:end])
        start = end
    return parts


def _overlap_start(units: list[_Unit], first: int, last: int, overlap_tokens: int) -> int:
    """Index of the first unit of the next chunk: trailing whole units within the overlap."""
    taken, index = 0, last + 1
    while index - 1 > first and taken + units[index - 1].tokens <= overlap_tokens:
        index -= 1
        taken += units[index].tokens
    return index


def _nearest_heading(headings: tuple[tuple[int, str], ...], start: int, end: int) -> str | None:
    """The heading a chunk starts under or, before any heading, one that opens inside it."""
    offsets = [offset for offset, _ in headings]
    position = bisect.bisect_right(offsets, start) - 1
    if position >= 0:
        return headings[position][1]
    if headings and offsets[0] < end:
        return headings[0][1]
    return None


def chunk_document(
    document: Document, count_tokens: TokenCounter, config: ChunkerConfig
) -> list[Chunk]:
    """Chunks whose indexed text (`indexed_text`: header + chunk) fits the model's limit."""
    header = context_header(document.meta)
    reserved = count_tokens(header) - 1 if header else 0  # its word pieces and a newline
    budget = config.budget - reserved
    if budget < 32:
        raise HeaderTooLongError(
            f"its title, author and outlet make a chunk header of {reserved} word pieces, "
            f"which leaves {budget} of the {config.budget} for text (32 needed); shorten them "
            "in the catalog"
        )
    config = ChunkerConfig(budget, config.overlap_tokens, config.model_max_tokens)
    text = document.text
    heading_starts = {offset for offset, _ in document.headings}
    units = _units(text, count_tokens, config, heading_starts)
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last, used = first, units[first].tokens
        at_heading = False
        while last + 1 < len(units):
            nxt = units[last + 1]
            if nxt.starts_section:  # a section heading always opens a fresh chunk
                at_heading = True
                break
            # +1 per join: the separating whitespace can add a word piece at a boundary.
            if used + nxt.tokens + 1 > config.budget:
                break
            last += 1
            used += nxt.tokens + 1
        start, end = units[first].start, units[last].end
        while (
            last > first
            and count_tokens(indexed_text(text[start:end], document.meta)) > config.model_max_tokens
        ):
            last -= 1
            end = units[last].end
            at_heading = False
        chunks.append(
            Chunk(
                chunk_id=f"{document.doc_id}#{len(chunks)}",
                doc_id=document.doc_id,
                index=len(chunks),
                text=text[start:end],
                start=start,
                end=end,
                heading=_nearest_heading(document.headings, start, end),
            )
        )
        if last + 1 >= len(units):
            break
        # No overlap across a section boundary: the next section starts clean.
        first = (
            last + 1
            if at_heading
            else max(first + 1, _overlap_start(units, first, last, config.overlap_tokens))
        )
    return chunks

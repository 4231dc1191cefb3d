"""The typed records that flow one way through the system.

document -> chunk -> passage (a scored chunk) -> answer. Every record is frozen so a
value seen in one stage cannot be changed behind another stage's back.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DocumentMeta:
    """What we know about a source document, from the catalog or extracted from the file."""

    doc_id: str
    source: str  # the file path as given to ingest, for messages and re-ingest
    content_hash: str  # sha256 of the raw file bytes: unchanged hash means no re-ingest
    title: str | None = None
    author: str | None = None
    outlet: str | None = None
    date: str | None = None  # ISO 8601 (YYYY-MM-DD) where known
    url: str | None = None


@dataclass(frozen=True)
class Document:
    """A cleaned document: `text` is what chunk spans and quotes point into."""

    meta: DocumentMeta
    text: str
    headings: tuple[tuple[int, str], ...] = ()  # (offset in text, heading text), ascending

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `text == document.text[start:end]`."""

    chunk_id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int
    heading: str | None = None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the metadata of its document and its rank for one query."""

    chunk: Chunk
    meta: DocumentMeta
    score: float
    rank: int


@dataclass(frozen=True)
class Citation:
    """Citation `[n]` in an answer: the passage it points at and the sentence it supports."""

    n: int
    passage: Passage
    quote: str | None = None  # the cited sentence, verbatim in passage.chunk.text


@dataclass(frozen=True)
class Answer:
    """The outcome of answering one question; `refused` is an explicit cannot-answer outcome."""

    question: str
    standalone_question: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    refused: bool
    backend: str
    notice: str | None = None  # e.g. why the LLM was not used
    related: tuple[Passage, ...] = ()  # closest passages shown beside a refusal
    diagnostics: tuple[str, ...] = field(default=())
    refusal_reason: str | None = None  # why the documents do not answer, in plain words


@dataclass(frozen=True)
class Quote:
    """A verbatim quote: `text == document.text[start:end]` of the document `doc_id`."""

    text: str
    chunk_id: str
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Perspective:
    """What one author (or one document, where the author is unknown) says on a question."""

    doc_id: str
    author: str | None
    meta: DocumentMeta
    addressed: bool  # False: "does not address this question", with no quotes
    summary: str
    quotes: tuple[Quote, ...]
    stance: str | None = None  # only with an LLM: supports / opposes / mixed / describes
    relevance: float = 0.0


@dataclass(frozen=True)
class Point:
    """A point of agreement or divergence, with the authors on each side and their quotes."""

    point: str
    authors: tuple[str, ...]
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class Comparison:
    question: str
    perspectives: tuple[Perspective, ...]
    agreements: tuple[Point, ...]
    divergences: tuple[Point, ...]
    backend: str = "extractive"
    notice: str | None = None

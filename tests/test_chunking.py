"""Chunking: sentence-aligned, within the model's limit, exact spans, overlap, headings."""

from __future__ import annotations

import itertools

import pytest

from rag.chunking import (
    ChunkerConfig,
    HeaderTooLongError,
    chunk_document,
    context_header,
    indexed_text,
)
from rag.embeddings import Embedder
from rag.types import Document, DocumentMeta

PARAGRAPH = (
    "Russia has lost its position of pre-eminence in the South Caucasus. "
    "Azerbaijan has become the strongest actor in the region after the 2020 war. "
    "Armenia has frozen its participation in the CSTO and looks to the European Union. "
    "Georgia's ruling party has slowed its path towards NATO membership. "
)


def _document(text: str, headings: tuple[tuple[int, str], ...] = ()) -> Document:
    return Document(DocumentMeta("doc", "doc.txt", "0"), text, headings)


def test_chunks_fit_the_model_and_point_exactly_into_the_text(embedder: Embedder) -> None:
    text = "\n\n".join(PARAGRAPH * 3 for _ in range(6))
    config = ChunkerConfig(
        chunk_tokens=120, overlap_tokens=30, model_max_tokens=embedder.max_tokens
    )
    chunks = chunk_document(_document(text), embedder.count_tokens, config)
    assert len(chunks) > 5
    for number, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.start : chunk.end]
        assert embedder.count_tokens(chunk.text) <= embedder.max_tokens
        assert embedder.count_tokens(chunk.text) - 2 <= 120
        assert chunk.chunk_id == f"doc#{number}" and chunk.index == number
        # Sentence-aligned: a chunk starts at a sentence start and ends after a full stop.
        assert chunk.text[0].isupper() and chunk.text.endswith(".")


def test_consecutive_chunks_overlap_by_whole_sentences(embedder: Embedder) -> None:
    text = PARAGRAPH * 8
    config = ChunkerConfig(
        chunk_tokens=100, overlap_tokens=40, model_max_tokens=embedder.max_tokens
    )
    chunks = chunk_document(_document(text), embedder.count_tokens, config)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "no overlap"
        assert after.start > before.start
    no_overlap = chunk_document(
        _document(text), embedder.count_tokens, ChunkerConfig(100, 0, embedder.max_tokens)
    )
    for before, after in itertools.pairwise(no_overlap):
        assert after.start >= before.end


def test_a_sentence_longer_than_the_model_limit_is_cut_not_truncated(embedder: Embedder) -> None:
    run_on = (
        "The delegation discussed " + ", ".join(f"corridor number {i}" for i in range(300)) + "."
    )
    config = ChunkerConfig(chunk_tokens=512, overlap_tokens=0, model_max_tokens=embedder.max_tokens)
    chunks = chunk_document(_document(run_on), embedder.count_tokens, config)
    assert len(chunks) > 1
    assert all(embedder.count_tokens(c.text) <= embedder.max_tokens for c in chunks)
    covered = "".join(run_on[c.start : c.end] for c in chunks)
    assert covered.replace(" ", "") == run_on.replace(" ", "")


def test_chunks_record_their_section_heading(embedder: Embedder) -> None:
    first = "INTRODUCTION\n\n" + PARAGRAPH * 2
    second = "THE ROLE OF TURKEY\n\n" + PARAGRAPH * 2
    text = first + "\n\n" + second
    headings = ((0, "INTRODUCTION"), (len(first) + 2, "THE ROLE OF TURKEY"))
    config = ChunkerConfig(chunk_tokens=120, overlap_tokens=0, model_max_tokens=embedder.max_tokens)
    chunks = chunk_document(_document(text, headings), embedder.count_tokens, config)
    assert chunks[0].heading == "INTRODUCTION"
    turkey = [c for c in chunks if c.start >= headings[1][0]]
    assert turkey and all(c.heading == "THE ROLE OF TURKEY" for c in turkey)
    # A heading opens a new chunk rather than trailing the previous one.
    assert any(c.start == headings[1][0] for c in chunks)


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_empty_text_gives_no_chunks(embedder: Embedder, text: str) -> None:
    assert chunk_document(_document(text), embedder.count_tokens, ChunkerConfig(100, 20, 256)) == []


def test_huge_title_author_and_outlet_are_shortened_in_the_header_only(
    embedder: Embedder,
) -> None:
    long = " ".join(f"word{i}" for i in range(400))  # far over 129 word pieces each
    meta = DocumentMeta("doc", "doc.txt", "0", title=long, author=long, outlet=long)
    document = Document(meta, PARAGRAPH * 4)
    config = ChunkerConfig(160, 40, embedder.max_tokens)

    chunks = chunk_document(document, embedder.count_tokens, config)

    header = context_header(meta)
    title, author, outlet = header.split(" — ")
    assert title.endswith("…") and len(title) <= 150 and long.startswith(title[:-1])
    assert len(author) <= 60 and len(outlet) <= 60
    assert document.meta.title == long  # the document keeps the whole value
    assert chunks and "".join(c.text for c in chunks).startswith(PARAGRAPH[:50])
    for chunk in chunks:
        assert embedder.count_tokens(indexed_text(chunk.text, meta)) <= embedder.max_tokens


def test_a_header_of_symbols_leaves_too_little_room_and_says_so(embedder: Embedder) -> None:
    meta = DocumentMeta("doc", "doc.txt", "0", title="!" * 150, author="?" * 60)
    with pytest.raises(HeaderTooLongError, match="shorten them in the catalog"):
        chunk_document(
            Document(meta, PARAGRAPH), embedder.count_tokens, ChunkerConfig(160, 40, 256)
        )


def test_a_run_without_spaces_is_cut_in_few_counts(embedder: Embedder) -> None:
    run = "ab.cd@ef-gh/12," * 2_000  # 30,000 characters, no space to split at
    counted = []

    def count(text: str) -> int:
        counted.append(len(text))
        return embedder.count_tokens(text)

    chunks = chunk_document(_document(run), count, ChunkerConfig(160, 40, embedder.max_tokens))
    assert "".join(c.text for c in chunks) == run  # pieces without overlap cover the run
    assert all(embedder.count_tokens(c.text) - 2 <= 160 for c in chunks)
    assert len(counted) < len(run) / 10  # the splitter's fallback counted each character

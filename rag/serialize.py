"""Plain-dict views of the typed records: the JSON contract of the CLI (other tools read it)
and the data the UI renders. One place, so the CLI and UI cannot drift apart."""

from __future__ import annotations

from typing import Any

from rag.types import Answer, Document, Passage


def passage_dict(passage: Passage) -> dict[str, Any]:
    chunk, meta = passage.chunk, passage.meta
    return {
        "rank": passage.rank,
        "score": round(passage.score, 6),
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": meta.title,
        "author": meta.author,
        "url": meta.url,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
    }


def document_dict(document: Document, chunks: int) -> dict[str, Any]:
    meta = document.meta
    return {
        "doc_id": meta.doc_id,
        "title": meta.title,
        "author": meta.author,
        "outlet": meta.outlet,
        "date": meta.date,
        "url": meta.url,
        "chunks": chunks,
    }


def citation_dicts(answer: Answer) -> list[dict[str, Any]]:
    """One entry per cited passage number, with the sentences cited from it."""
    by_number: dict[int, dict[str, Any]] = {}
    for citation in answer.citations:
        entry = by_number.get(citation.n)
        if entry is None:
            chunk, meta = citation.passage.chunk, citation.passage.meta
            entry = by_number[citation.n] = {
                "n": citation.n,
                "chunk_id": chunk.chunk_id,
                "doc_id": chunk.doc_id,
                "title": meta.title,
                "author": meta.author,
                "url": meta.url,
                "text": chunk.text,
                "quotes": [],
            }
        if citation.quote and citation.quote not in entry["quotes"]:
            entry["quotes"].append(citation.quote)
    return [by_number[n] for n in sorted(by_number)]


def answer_dict(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "standalone_question": answer.standalone_question,
        "answer": answer.text,
        "refused": answer.refused,
        "backend": answer.backend,
        "notice": answer.notice,
        "citations": citation_dicts(answer),
        "passages": [passage_dict(p) for p in answer.passages],
        "related": [passage_dict(p) for p in answer.related],
        "diagnostics": list(answer.diagnostics),
    }

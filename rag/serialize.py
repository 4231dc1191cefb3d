"""Plain-dict views of the typed records: the JSON contract of the CLI (other tools read it)
and the data the UI renders. One place, so the CLI and UI cannot drift apart."""

from __future__ import annotations

from typing import Any

from rag.types import Document, Passage


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

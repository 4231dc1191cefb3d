"""Plain-dict views of the typed records: the JSON contract of the CLI (other tools read it)
and the data the UI renders. One place, so the CLI and UI cannot drift apart. Light to
import (`rag docs` uses it): rag.perspectives, which loads the answering stack, is imported
by the functions that need it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.injection import passage_flag
from rag.types import Answer, Comparison, Document, Passage, Perspective, Point, Quote

if TYPE_CHECKING:
    from rag.evaluation.records import EvalRun
    from rag.index_files import DocumentEntry


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
        "injection": passage_flag(chunk.text),  # why it instructs a reader or a model
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


def documents_dict(entries: Iterable[DocumentEntry]) -> dict[str, Any]:
    """The JSON contract of `rag docs --json` and the app's `documents` endpoint."""
    return {"documents": [document_dict(e.document, e.chunks) for e in entries]}


def search_dict(query: str, passages: Sequence[Passage]) -> dict[str, Any]:
    """The JSON contract of `rag search --json` (one per query) and the `search` endpoint."""
    return {"query": query, "passages": [passage_dict(p) for p in passages]}


def eval_dict(run: EvalRun, run_dir: Path | str | None = None) -> dict[str, Any]:
    """The JSON contract of `rag eval --json` and the `evaluate` endpoint: summary.json's
    object with the rows under "questions" and, when the run was saved, its folder."""
    payload = run.summary.to_json()
    payload["questions"] = [row.to_json() for row in run.rows]
    if run_dir is not None:
        payload["run_dir"] = str(run_dir)
    return payload


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
        "refusal_reason": answer.refusal_reason,
        "backend": answer.backend,
        "notice": answer.notice,
        "citations": citation_dicts(answer),
        "passages": [passage_dict(p) for p in answer.passages],
        "related": [passage_dict(p) for p in answer.related],
        "diagnostics": list(answer.diagnostics),
    }


# --- author perspectives (rag compare) ------------------------------------------------------


def quote_dict(quote: Quote) -> dict[str, Any]:
    return {
        "text": quote.text,
        "chunk_id": quote.chunk_id,
        "doc_id": quote.doc_id,
        "start": quote.start,
        "end": quote.end,
    }


def perspective_dict(perspective: Perspective) -> dict[str, Any]:
    from rag.perspectives import perspective_label

    meta = perspective.meta
    return {
        "doc_id": perspective.doc_id,
        "author": perspective.author,
        "label": perspective_label(perspective),
        "title": meta.title,
        "outlet": meta.outlet,
        "date": meta.date,
        "url": meta.url,
        "addressed": perspective.addressed,
        "stance": perspective.stance,
        "summary": perspective.summary,
        "relevance": perspective.relevance,
        "quotes": [quote_dict(q) for q in perspective.quotes],
    }


def point_dict(point: Point) -> dict[str, Any]:
    return {
        "point": point.point,
        "authors": list(point.authors),
        "quotes": [quote_dict(q) for q in point.quotes],
    }


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    """The JSON contract of `rag compare --json`."""
    return {
        "question": comparison.question,
        "backend": comparison.backend,
        "notice": comparison.notice,
        "perspectives": [perspective_dict(p) for p in comparison.perspectives],
        "agreements": [point_dict(p) for p in comparison.agreements],
        "divergences": [point_dict(p) for p in comparison.divergences],
    }


_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>"})


def _md(text: str) -> str:
    """Text as literal Markdown (one line; markup characters escaped)."""
    return " ".join(text.split()).translate(_MARKDOWN_SPECIAL)


def _source_line(perspective: Perspective) -> str:
    meta = perspective.meta
    title = _md(meta.title or perspective.doc_id)
    linked = f"[{title}]({meta.url})" if meta.url else f"*{title}*"
    details = [_md(v) for v in (meta.outlet, meta.date) if v]
    return linked + (f" — {', '.join(details)}" if details else "")


def comparison_markdown(comparison: Comparison) -> str:
    """The comparison as Markdown for a report: each author's position with verbatim quotes
    and a link to the source, then the points of agreement and divergence."""
    from rag.perspectives import perspective_label

    lines = [f"## How the authors answer: {_md(comparison.question)}", ""]
    if comparison.notice:
        lines += [f"*Note: {_md(comparison.notice)}*", ""]
    for p in comparison.perspectives:
        lines += [f"### {_md(perspective_label(p))}", "", _source_line(p), ""]
        if not p.addressed:
            lines += ["*Does not address this question.*", ""]
            continue
        stance = f"**Stance:** {p.stance}. " if p.stance else ""
        lines += [f"{stance}**Position:** {_md(p.summary)}", ""]
        for q in p.quotes:
            lines += [f"> “{_md(q.text)}”", ""]
    authors_of_documents = {
        doc_id: perspective_label(p)
        for p in comparison.perspectives
        for doc_id in (p.doc_id, *(q.doc_id for q in p.quotes))
    }
    for heading, points in (
        ("Points of agreement", comparison.agreements),
        ("Points of divergence", comparison.divergences),
    ):
        lines += [f"### {heading}", ""]
        if not points:
            lines += ["*None found.*", ""]
        for point in points:
            lines.append(f"- {_md(point.point)}")
            for q in point.quotes:
                who = authors_of_documents.get(q.doc_id)
                lines.append(f"  - {_md(who) + ': ' if who else ''}“{_md(q.text)}”")
        lines.append("")
    lines.append(f"*Compared with the {comparison.backend} backend; quotes are verbatim.*")
    return "\n".join(lines) + "\n"

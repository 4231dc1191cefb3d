"""Run an eval set through the same facade users call, and score it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

from rich.table import Table

from rag.errors import EvalSetError
from rag.evaluation.metrics import (
    Retrieved,
    locate,
    ndcg,
    passage_hits,
    quote_found,
    reciprocal_rank,
)
from rag.evaluation.schema import EvalQuestion, load_eval_set

if TYPE_CHECKING:
    from rag.assistant import Assistant

NDCG_AT = 10


def evidence_spans(question: EvalQuestion, documents: dict[str, str]) -> list[tuple[str, int, int]]:
    """Where each evidence quote stands in the indexed (cleaned) documents.

    Gold documents default to those whose text holds a quote. A quote found nowhere is an
    error: either the eval set is wrong or cleaning removed article text."""
    spans = []
    candidates = question.gold_docs or tuple(documents)
    for quote in question.evidence:
        for doc_id in candidates:
            if doc_id not in documents:
                raise EvalSetError(
                    f"question {question.id}: gold document {doc_id!r} is not in the index"
                )
            span = locate(quote, documents[doc_id])
            if span:
                spans.append((doc_id, *span))
                break
        else:
            raise EvalSetError(
                f"question {question.id}: evidence quote {quote[:60]!r}... occurs in no indexed "
                "document (fix the quote, or check that cleaning kept that text)"
            )
    return spans


def score_retrieval(
    question: EvalQuestion,
    retrieved: Sequence[Retrieved],
    documents: dict[str, str],
    k: int,
) -> dict[str, float]:
    spans = evidence_spans(question, documents)
    top = list(retrieved[:k])
    found = [quote_found(q, top, documents) for q in question.evidence]
    hits = passage_hits(spans, retrieved)
    gold_docs = {doc_id for doc_id, _, _ in spans}
    return {
        "recall": sum(found) / len(found),
        "mrr": reciprocal_rank(hits),
        f"ndcg@{NDCG_AT}": ndcg(hits, len(spans), NDCG_AT),
        "doc_coverage": len(gold_docs & {p.doc_id for p in top}) / len(gold_docs),
    }


# Comparative questions quote one example passage per author among many that would do, so
# their evidence recall understates retrieval; for them the figure that matters is whether
# each author's document is among the passages (doc_coverage). They are reported by type but
# kept out of the overall evidence figures.
OVERALL_TYPES = ("factual", "paraphrase", "multi_doc")


def _aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    metrics = ["recall", "mrr", f"ndcg@{NDCG_AT}", "doc_coverage"]
    return {"n": len(rows), **{m: round(mean(r["metrics"][m] for r in rows), 4) for m in metrics}}


def run_retrieval_eval(assistant: Assistant, eval_set: Path, *, k: int) -> dict[str, Any]:
    questions = load_eval_set(eval_set)
    index = assistant.index
    documents = {doc_id: doc.text for doc_id, doc in index.documents.items()}
    rows: list[dict[str, Any]] = []
    latencies = []
    for question in questions:
        if not question.answerable:
            continue
        started = time.perf_counter()
        passages = assistant.search(question.question, k=max(k, NDCG_AT))
        latencies.append(time.perf_counter() - started)
        retrieved = [
            Retrieved(p.chunk.doc_id, p.chunk.index, p.chunk.text, p.chunk.start, p.chunk.end)
            for p in passages
        ]
        rows.append(
            {
                "id": question.id,
                "type": question.type,
                "question": question.question,
                "metrics": score_retrieval(question, retrieved, documents, k),
                "retrieved": [p.chunk.chunk_id for p in passages[:k]],
            }
        )
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row)
    return {
        "set": str(eval_set),
        "k": k,
        "overall": _aggregate([r for r in rows if r["type"] in OVERALL_TYPES]),
        "by_type": {t: _aggregate(r) for t, r in sorted(by_type.items())},
        "search_ms_mean": round(1000 * mean(latencies), 2) if latencies else None,
        "questions": rows,
    }


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(
        "type",
        "n",
        f"recall@{summary['k']}",
        "MRR",
        f"nDCG@{NDCG_AT}",
        f"doc coverage@{summary['k']}",
        title=f"Retrieval on {summary['set']}",
        caption=f"overall = {' + '.join(OVERALL_TYPES)} (comparative: see doc coverage)",
    )
    for name, figures in [*summary["by_type"].items(), ("overall", summary["overall"])]:
        table.add_row(
            name,
            str(figures["n"]),
            f"{figures['recall']:.3f}",
            f"{figures['mrr']:.3f}",
            f"{figures[f'ndcg@{NDCG_AT}']:.3f}",
            f"{figures['doc_coverage']:.3f}",
            style="bold" if name == "overall" else None,
        )
    return table

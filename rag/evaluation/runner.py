"""Run an eval set through the same facade users call, and score it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

from rich.table import Table

from rag.errors import EvalSetError
from rag.evaluation.answers import citation_validity, keys_hit
from rag.evaluation.metrics import (
    Retrieved,
    locate,
    ndcg,
    passage_hits,
    quote_found,
    reciprocal_rank,
)
from rag.evaluation.perspectives import (
    evaluate_comparison,
    perspectives_line,
    summarise_perspectives,
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
# Questions on which `rag eval` also compares the authors (rag.evaluation.perspectives):
# comparative ones for coverage and attribution, unanswerable ones for false addresses.
PERSPECTIVE_TYPES = ("comparative", "unanswerable")


def _aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    metrics = ["recall", "mrr", f"ndcg@{NDCG_AT}", "doc_coverage"]
    return {"n": len(rows), **{m: round(mean(r["metrics"][m] for r in rows), 4) for m in metrics}}


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _answer_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Answer figures over all questions: hit rate on keyed answerable questions, refusals."""
    keyed = [r for r in rows if r["answer"] and r["answer"]["keys_hit"] is not None]
    answerable = [r for r in rows if r["answer"] and r["type"] != "unanswerable"]
    unanswerable = [r for r in rows if r["answer"] and r["type"] == "unanswerable"]
    answered = [r for r in rows if r["answer"]]

    def share(items: Sequence[dict[str, Any]], key: str) -> float | None:
        return round(mean(1.0 if r["answer"][key] else 0.0 for r in items), 4) if items else None

    return {
        "answer_key_hit_rate": share(keyed, "keys_hit"),
        "refusal_rate_unanswerable": share(unanswerable, "refused"),
        "false_refusal_rate": share(answerable, "refused"),
        "citation_validity": round(mean(r["answer"]["citation_validity"] for r in answered), 4)
        if answered
        else None,
        "n_keyed": len(keyed),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
    }


def run_eval(
    assistant: Assistant,
    eval_set: Path,
    *,
    k: int,
    backend: str | None = None,
    answers: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Retrieval metrics for answerable questions; answer metrics for all of them."""
    questions = load_eval_set(eval_set)
    index = assistant.index
    documents = {doc_id: doc.text for doc_id, doc in index.documents.items()}
    rows: list[dict[str, Any]] = []
    search_times: list[float] = []
    answer_times: list[float] = []
    for number, question in enumerate(questions, 1):
        started = time.perf_counter()
        passages = assistant.search(question.question, k=max(k, NDCG_AT))
        search_times.append(time.perf_counter() - started)
        row: dict[str, Any] = {
            "id": question.id,
            "type": question.type,
            "question": question.question,
            "metrics": None,
            "retrieved": [p.chunk.chunk_id for p in passages[:k]],
            "answer": None,
        }
        if question.answerable:
            retrieved = [
                Retrieved(p.chunk.doc_id, p.chunk.index, p.chunk.text, p.chunk.start, p.chunk.end)
                for p in passages
            ]
            row["metrics"] = score_retrieval(question, retrieved, documents, k)
        if answers:
            started = time.perf_counter()
            answer = assistant.answer(question.question, passages[:k], backend=backend)
            answer_times.append(time.perf_counter() - started)
            row["answer"] = {
                "text": answer.text,
                "refused": answer.refused,
                "backend": answer.backend,
                "notice": answer.notice,
                "keys_hit": keys_hit(answer, question)
                if question.answerable and question.answer_keys
                else None,
                "citation_validity": citation_validity(answer),
                "citations": [c.n for c in answer.citations],
            }
        if answers and question.type in PERSPECTIVE_TYPES:
            gold = {d for d, _, _ in evidence_spans(question, documents)}
            row["perspectives"] = evaluate_comparison(assistant, question, gold, backend)
        rows.append(row)
        if progress:
            progress(number, len(questions))
    scored = [r for r in rows if r["metrics"] is not None]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in scored:
        by_type.setdefault(row["type"], []).append(row)
    return {
        "set": str(eval_set),
        "k": k,
        "backend": backend or assistant.settings.backend,
        "overall": _aggregate([r for r in scored if r["type"] in OVERALL_TYPES]),
        "by_type": {t: _aggregate(r) for t, r in sorted(by_type.items())},
        "answers": _answer_summary(rows) if answers else None,
        "perspectives": summarise_perspectives(rows) if answers else None,
        "latency_ms": {
            "search_p50": _ms(_percentile(search_times, 0.5)),
            "search_p95": _ms(_percentile(search_times, 0.95)),
            "answer_p50": _ms(_percentile(answer_times, 0.5)),
            "answer_p95": _ms(_percentile(answer_times, 0.95)),
        },
        "questions": rows,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000 * seconds, 2)


def run_retrieval_eval(assistant: Assistant, eval_set: Path, *, k: int) -> dict[str, Any]:
    return run_eval(assistant, eval_set, k=k, answers=False)


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
    answers = summary.get("answers")
    if answers:
        table.caption = (table.caption or "") + "\n" + answers_line(summary)
    if summary.get("perspectives"):
        table.caption = (table.caption or "") + "\n" + perspectives_line(summary)
    return table


def answers_line(summary: dict[str, Any]) -> str:
    a, lat = summary["answers"], summary["latency_ms"]

    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    return (
        f"answers ({summary['backend']}): key hit {fmt(a['answer_key_hit_rate'])} "
        f"(n={a['n_keyed']}), refusal on unanswerable {fmt(a['refusal_rate_unanswerable'])} "
        f"(n={a['n_unanswerable']}), false refusals {fmt(a['false_refusal_rate'])}, "
        f"citation validity {fmt(a['citation_validity'])}; search p50 {lat['search_p50']} ms, "
        f"answer p50 {lat['answer_p50']} ms"
    )

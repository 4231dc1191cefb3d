"""Run an eval set through the same facade users call, and score every question.

The gold data is the hand-written eval set and the indexed documents; no metric takes the
system's own output as ground truth. Each question becomes one row (see `question_row`)
whose `scores` follow `rag.evaluation.scores`; the summary is their means by type.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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
from rag.evaluation.schema import EvalQuestion, numbered_eval_set
from rag.evaluation.scores import METRICS, aggregate, format_number, percentile, values
from rag.evaluation.support import CitationScores, citation_scores, quote_verbatim
from rag.llm import TokenUsage
from rag.perspectives import author_label
from rag.types import Answer, Document, Passage

if TYPE_CHECKING:
    from rag.assistant import Assistant

NDCG_AT = 10
RETRIEVAL_COLUMNS = ("recall", "mrr", f"ndcg@{NDCG_AT}", "doc_coverage")

# Comparative questions quote one example passage per author among many that would do, so
# their evidence recall understates retrieval; for them the figure that matters is whether
# each author's document is among the passages (doc and author coverage). They are reported
# by type but kept out of the overall evidence figures. Why questions quote one passage per
# reason and need them all, like multi_doc ones.
OVERALL_TYPES = ("factual", "paraphrase", "multi_doc", "why")
EVIDENCE_METRICS = ("recall", "mrr", f"ndcg@{NDCG_AT}")
# Questions on which `rag eval` also compares the authors (rag.evaluation.perspectives):
# comparative ones for coverage and attribution, unanswerable ones for false addresses.
PERSPECTIVE_TYPES = ("comparative", "unanswerable")


@dataclass(frozen=True)
class EvidenceSpan:
    quote: str
    doc_id: str
    start: int
    end: int


class AnswerJudge(Protocol):
    """What the runner needs of `rag.evaluation.judge.Judge` (faked in tests)."""

    def judge(self, question: str, answer: Answer) -> Any: ...


# --- gold evidence ------------------------------------------------------------------------


def evidence_spans(question: EvalQuestion, documents: Mapping[str, str]) -> list[EvidenceSpan]:
    """Where each evidence quote stands in the indexed (cleaned) documents.

    Gold documents default to those whose text holds a quote. A quote found nowhere is an
    error: either the eval set is wrong or cleaning removed article text."""
    spans = []
    candidates = question.gold_docs or tuple(documents)
    for number, quote in enumerate(question.evidence):
        for doc_id in candidates:
            if doc_id not in documents:
                raise EvalSetError(
                    f"field 'gold_docs': document {doc_id!r} is not in the index "
                    f"(see `rag docs` for the ids)"
                )
            span = locate(quote, documents[doc_id])
            if span:
                spans.append(EvidenceSpan(quote, doc_id, *span))
                break
        else:
            where = "the gold documents" if question.gold_docs else "any indexed document"
            raise EvalSetError(
                f"field 'evidence[{number}]': quote {quote[:60]!r} occurs in {where} "
                "(fix the quote, or check that cleaning kept that text)"
            )
    return spans


def locate_all_evidence(
    numbered: Sequence[tuple[int, EvalQuestion]], documents: Mapping[str, str], path: Path
) -> dict[str, list[EvidenceSpan]]:
    """Every question's evidence located before anything runs; all faults in one error."""
    located: dict[str, list[EvidenceSpan]] = {}
    faults = []
    for line, question in numbered:
        try:
            located[question.id] = evidence_spans(question, documents)
        except EvalSetError as error:
            faults.append(f"{path}:{line} (question {question.id}): {error}")
    if faults:
        shown = "\n".join(faults[:10])
        more = f"\n... and {len(faults) - 10} more" if len(faults) > 10 else ""
        raise EvalSetError(f"{len(faults)} evidence problem(s):\n{shown}{more}")
    return located


# --- per-question scoring -----------------------------------------------------------------


def _as_retrieved(passages: Sequence[Passage]) -> list[Retrieved]:
    return [
        Retrieved(p.chunk.doc_id, p.chunk.index, p.chunk.text, p.chunk.start, p.chunk.end)
        for p in passages
    ]


def score_retrieval(
    question: EvalQuestion,
    passages: Sequence[Passage],
    spans: Sequence[EvidenceSpan],
    documents: Mapping[str, Document],
    k: int,
) -> dict[str, float | None]:
    retrieved = _as_retrieved(passages)
    texts = {doc_id: doc.text for doc_id, doc in documents.items()}
    top = retrieved[:k]
    found = [quote_found(q, top, texts) for q in question.evidence]
    hits = passage_hits([(s.doc_id, s.start, s.end) for s in spans], retrieved)
    gold_docs = {s.doc_id for s in spans}
    top_docs = {p.doc_id for p in top}
    scores: dict[str, float | None] = {
        "recall": sum(found) / len(found),
        "mrr": reciprocal_rank(hits),
        f"ndcg@{NDCG_AT}": ndcg(hits, len(spans), NDCG_AT),
        "doc_coverage": len(gold_docs & top_docs) / len(gold_docs),
        "author_coverage": None,
    }
    if question.type == "comparative":
        gold_authors = {author_label(documents[d].meta) for d in gold_docs}
        top_authors = {author_label(documents[d].meta) for d in top_docs if d in documents}
        scores["author_coverage"] = len(gold_authors & top_authors) / len(gold_authors)
    return scores


def score_answer(
    answer: Answer, question: EvalQuestion, checked: CitationScores | None
) -> dict[str, float | None]:
    """Answer metrics against the hand-written keys and the passages the answer was given;
    `checked` is the citation support of a non-refused answer."""
    return {
        "key_hit": float(keys_hit(answer, question))
        if question.answerable and question.answer_keys
        else None,
        "citation_validity": citation_validity(answer),
        "citation_recall": checked.recall if checked else None,
        "citation_precision": checked.precision if checked else None,
        "quote_verbatim": quote_verbatim(answer) if not answer.refused else None,
        "abstained": None if question.answerable else float(answer.refused),
        "false_refusal": float(answer.refused) if question.answerable else None,
    }


def _gold_offsets(passage: Passage, spans: Sequence[EvidenceSpan]) -> list[list[int]]:
    """Evidence overlapping the passage, as offsets into its text (for highlighting)."""
    chunk = passage.chunk
    found = []
    for span in spans:
        if span.doc_id == chunk.doc_id and span.start < chunk.end and span.end > chunk.start:
            found.append(
                [max(span.start, chunk.start) - chunk.start, min(span.end, chunk.end) - chunk.start]
            )
    return found


def retrieved_dicts(
    passages: Sequence[Passage], spans: Sequence[EvidenceSpan]
) -> list[dict[str, Any]]:
    return [
        {
            "rank": rank,
            "chunk_id": p.chunk.chunk_id,
            "doc_id": p.chunk.doc_id,
            "title": p.meta.title,
            "author": p.meta.author,
            "url": p.meta.url,
            "score": round(p.score, 4),
            "start": p.chunk.start,
            "end": p.chunk.end,
            "text": p.chunk.text,
            "gold": _gold_offsets(p, spans),
        }
        for rank, p in enumerate(passages, 1)
    ]


def answer_dict(answer: Answer, checked: CitationScores | None) -> dict[str, Any]:
    return {
        "text": answer.text,
        "refused": answer.refused,
        "backend": answer.backend,
        "notice": answer.notice,
        "citations": [
            {"n": c.n, "chunk_id": c.passage.chunk.chunk_id, "quote": c.quote}
            for c in answer.citations
        ],
        "claims": [asdict(claim) for claim in checked.claims] if checked else [],
    }


# --- the run ------------------------------------------------------------------------------


def _usage(assistant: Assistant, backend: str) -> TokenUsage | None:
    """Tokens the LLM server has reported so far; None when no LLM is in use."""
    if backend != "openai":
        return None
    usage = getattr(assistant.llm, "usage", None)
    return usage if isinstance(usage, TokenUsage) else None


def question_row(
    assistant: Assistant,
    question: EvalQuestion,
    spans: Sequence[EvidenceSpan],
    *,
    k: int,
    backend: str,
    answers: bool,
    judge: AnswerJudge | None,
    verdicts: list[Any] | None = None,
) -> dict[str, Any]:
    """One question, retrieved, answered and scored; everything the report shows of it.
    The judge's verdicts are also appended to `verdicts`, for the run's judge summary."""
    documents = assistant.index.documents
    started = time.perf_counter()
    passages = assistant.search(question.question, k=max(k, NDCG_AT))
    retrieval_ms = 1000 * (time.perf_counter() - started)
    scores: dict[str, float | None] = {m.name: None for m in METRICS}
    scores["retrieval_ms"] = round(retrieval_ms, 2)
    row: dict[str, Any] = {
        "id": question.id,
        "type": question.type,
        "question": question.question,
        "answer_keys": list(question.answer_keys),
        "evidence": [vars(s) for s in spans],
        "retrieved": retrieved_dicts(passages, spans),
        "scores": scores,
        "answer": None,
        "perspectives": None,
        "judge": None,
        "errors": [],
    }
    if question.answerable:
        scores.update(score_retrieval(question, passages, spans, documents, k))
    if not answers:
        return row
    before = _usage(assistant, backend)
    started = time.perf_counter()
    answer = assistant.answer(question.question, passages[:k], backend=backend)
    scores["answer_ms"] = round(1000 * (time.perf_counter() - started), 2)
    spent = TokenUsage.between(before, _usage(assistant, backend))
    if spent is not None:
        scores["prompt_tokens"] = spent.prompt_tokens
        scores["completion_tokens"] = spent.completion_tokens
    checked = citation_scores(answer) if not answer.refused else None
    scores.update(score_answer(answer, question, checked))
    row["answer"] = answer_dict(answer, checked)
    if answer.notice:
        row["errors"].append(answer.notice)
    if question.type in PERSPECTIVE_TYPES:
        gold = {s.doc_id for s in spans}
        perspectives = evaluate_comparison(assistant, question, gold, backend)
        row["perspectives"] = perspectives
        if question.type == "comparative":
            scores["perspective_coverage"] = perspectives["coverage"]
        scores["attribution"] = perspectives["attribution"]
    if judge is not None:
        verdict = judge.judge(question.question, answer)
        if verdicts is not None:
            verdicts.append(verdict)
        row["judge"] = verdict.as_dict()
        scores["faithfulness"] = verdict.faithfulness
        scores["answer_relevance"] = verdict.answer_relevance
        row["errors"].extend(verdict.errors)
    return row


def overall_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over all questions, except the evidence metrics: those over OVERALL_TYPES."""
    figures = aggregate(rows)
    evidence = aggregate([r for r in rows if r["type"] in OVERALL_TYPES])
    for name in EVIDENCE_METRICS:
        for key in (name, f"n_{name}"):
            figures.pop(key, None)
            if key in evidence:
                figures[key] = evidence[key]
    return figures


def _percentile(found: Sequence[float], q: float) -> float | None:
    value = percentile(found, q)
    return None if value is None else round(value, 2)


def _answer_summary(rows: Sequence[Mapping[str, Any]], backend: str) -> dict[str, Any]:
    """The headline answer figures over all questions (shown under the table and in the UI)."""
    answered = [r for r in rows if r["answer"]]

    def mean_of(name: str) -> float | None:
        found = values(answered, name)
        return round(sum(found) / len(found), 4) if found else None

    return {
        "answer_key_hit_rate": mean_of("key_hit"),
        "refusal_rate_unanswerable": mean_of("abstained"),
        "false_refusal_rate": mean_of("false_refusal"),
        "citation_validity": mean_of("citation_validity"),
        "citation_recall": mean_of("citation_recall"),
        "citation_precision": mean_of("citation_precision"),
        "quote_verbatim": mean_of("quote_verbatim"),
        # answers the chosen backend did not give (an LLM fault: the extractive answer)
        "fallbacks": sum(1 for r in answered if r["answer"]["backend"] != backend),
        "n_keyed": len(values(answered, "key_hit")),
        "n_answerable": len(values(answered, "false_refusal")),
        "n_unanswerable": len(values(answered, "abstained")),
    }


def settings_snapshot(assistant: Assistant, backend: str) -> dict[str, Any]:
    """The settings that decide the figures, so two runs can be told apart."""
    s = assistant.settings
    snapshot: dict[str, Any] = {
        "embedding_model": s.embedding_model,
        "chunk_tokens": s.chunk_tokens,
        "chunk_overlap_tokens": s.chunk_overlap_tokens,
        "fusion": s.fusion,
        "dense_weight": s.dense_weight,
        "sentence_weight": s.sentence_weight,
        "lexical_weight": s.lexical_weight,
        "candidates": s.candidates,
        "max_per_doc": s.max_per_doc,
        "expand_place_names": s.expand_place_names,
    }
    if backend == "openai":
        snapshot["llm_model"] = s.llm_model
        snapshot["llm_base_url"] = s.llm_base_url
    return snapshot


def run_eval(
    assistant: Assistant,
    eval_set: Path,
    *,
    k: int,
    backend: str | None = None,
    answers: bool = True,
    judge: AnswerJudge | None = None,
    judge_model: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The run's summary, with its rows under "questions" (`runs.save_run` splits them)."""
    began, started = datetime.now(), time.perf_counter()
    numbered = numbered_eval_set(eval_set)
    chosen = backend or assistant.settings.backend
    if chosen == "openai" and answers:
        assistant.llm  # noqa: B018 -- a missing endpoint fails here, not as 71 fallbacks
    texts = {doc_id: doc.text for doc_id, doc in assistant.index.documents.items()}
    located = locate_all_evidence(numbered, texts, eval_set)
    assistant.search(numbered[0][1].question, k=1)  # load the model before the clock runs
    rows: list[dict[str, Any]] = []
    verdicts: list[Any] = []
    for number, (_, question) in enumerate(numbered, 1):
        row = question_row(
            assistant,
            question,
            located[question.id],
            k=k,
            backend=chosen,
            answers=answers,
            judge=judge if answers else None,
            verdicts=verdicts,
        )
        rows.append(row)
        if progress:
            progress(number, len(numbered))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row)
    retrieval_ms = values(rows, "retrieval_ms")
    answer_ms = values(rows, "answer_ms")
    prompt_tokens, completion_tokens = (
        values(rows, "prompt_tokens"),
        values(rows, "completion_tokens"),
    )
    return {
        "set": str(eval_set),
        "k": k,
        "backend": chosen,
        "created": began.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 2),
        "n_questions": len(rows),
        "settings": settings_snapshot(assistant, chosen),
        "index": {"documents": len(texts), "chunks": len(assistant.index.chunks)},
        "overall": overall_figures(rows),
        "by_type": {t: aggregate(r) for t, r in sorted(by_type.items())},
        "answers": _answer_summary(rows, chosen) if answers else None,
        "perspectives": summarise_perspectives(rows) if answers else None,
        "judge": _judge_summary(verdicts, judge_model) if judge is not None and answers else None,
        "latency_ms": {
            "search_p50": _percentile(retrieval_ms, 0.5),
            "search_p95": _percentile(retrieval_ms, 0.95),
            "answer_p50": _percentile(answer_ms, 0.5),
            "answer_p95": _percentile(answer_ms, 0.95),
        },
        "tokens": {
            "prompt": int(sum(prompt_tokens)),
            "completion": int(sum(completion_tokens)),
            "questions_counted": len(prompt_tokens),
        }
        if prompt_tokens
        else None,
        "questions": rows,
    }


def _judge_summary(verdicts: Sequence[Any], model: str | None) -> dict[str, Any]:
    from rag.evaluation.judge import summarise_judge

    return {"model": model, **summarise_judge(verdicts)}


def run_retrieval_eval(assistant: Assistant, eval_set: Path, *, k: int) -> dict[str, Any]:
    return run_eval(assistant, eval_set, k=k, answers=False)


# --- presentation -------------------------------------------------------------------------


def _fmt(share: float | None) -> str:
    return format_number(share)


SHORT_LABELS = {
    "recall": "recall@k",
    "mrr": "MRR",
    "ndcg@10": "nDCG@10",
    "doc_coverage": "doc coverage@k",
    "author_coverage": "author coverage@k",
    "key_hit": "key hit",
    "citation_validity": "citation validity",
    "citation_recall": "citation recall",
    "citation_precision": "citation precision",
    "quote_verbatim": "verbatim quotes",
    "abstained": "abstained",
    "false_refusal": "false refusal",
    "perspective_coverage": "perspective cov",
    "attribution": "attribution",
    "faithfulness": "faithfulness (judge)",
    "answer_relevance": "relevance (judge)",
}


def summary_table(summary: Mapping[str, Any]) -> Table:
    """Metrics down, question types across: every figure the run measured, by type."""
    k = summary["k"]
    scopes = [*summary["by_type"].items(), ("overall", summary["overall"])]
    table = Table(
        "metric",
        *(name for name, _ in scopes),
        title=f"{Path(str(summary['set'])).name} · k={k} · {summary['backend']}",
    )
    table.add_row("questions", *(str(f["n"]) for _, f in scopes))
    group = None
    for m in METRICS:
        if m.group == "cost" or not any(m.name in f for _, f in scopes):
            continue
        if m.group != group:
            table.add_section()
            group = m.group
        label = SHORT_LABELS.get(m.name, m.name).replace("@k", f"@{k}")
        table.add_row(label, *(m.format(f.get(m.name)) for _, f in scopes))
    notes = [f"overall recall, MRR, nDCG = {' + '.join(OVERALL_TYPES)}; other figures: all types"]
    if summary.get("answers"):
        notes.append(answers_line(summary))
    if summary.get("perspectives"):
        notes.append(perspectives_line(summary))
    if summary.get("judge"):
        notes.append(judge_line(summary))
    table.caption = "\n".join(notes)
    return table


def answers_line(summary: Mapping[str, Any]) -> str:
    a, lat = summary["answers"], summary["latency_ms"]
    tokens = summary.get("tokens")
    spent = (
        f"; tokens {tokens['prompt']} prompt + {tokens['completion']} completion" if tokens else ""
    )
    return (
        f"answers ({summary['backend']}): key hit {_fmt(a['answer_key_hit_rate'])} "
        f"(n={a['n_keyed']}), refusal on unanswerable {_fmt(a['refusal_rate_unanswerable'])} "
        f"(n={a['n_unanswerable']}), false refusals {_fmt(a['false_refusal_rate'])}, "
        f"citation validity {_fmt(a['citation_validity'])}, citation recall "
        f"{_fmt(a['citation_recall'])}, precision {_fmt(a['citation_precision'])}; "
        f"search p50 {lat['search_p50']} ms, answer p50 {lat['answer_p50']} ms{spent}"
        + (f"; {a['fallbacks']} answer(s) fell back to extractive" if a.get("fallbacks") else "")
    )


def judge_line(summary: Mapping[str, Any]) -> str:
    j = summary["judge"]
    failed = j.get("parse_failures") or {}
    failures = ", ".join(f"{name} {count}" for name, count in failed.items()) or "none"
    return (
        f"judge ({j.get('model')}): faithfulness {_fmt(j.get('faithfulness'))} "
        f"(n={j.get('n_faithfulness')}), answer relevance {_fmt(j.get('answer_relevance'))} "
        f"(n={j.get('n_answer_relevance')}); parse failures: {failures} (left out of the "
        f"means); {j.get('requests')} requests, {j.get('cached')} from cache; informational, "
        "not pass/fail"
    )

"""Run an eval set through the same facade users call, and score every question.

The gold data is the hand-written eval set and the indexed documents; no metric takes the
system's own output as ground truth. Each question becomes one `QuestionResult` (see
`question_result`) whose `scores` the registry in `rag.evaluation.scores` computes from
what was observed; the `RunSummary` holds their means by type.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rag import answerers
from rag.conversation import Conversation
from rag.errors import EvalSetError
from rag.evaluation.metrics import locate
from rag.evaluation.perspectives import evaluate_comparison, summarise_perspectives
from rag.evaluation.records import (
    AnswerRecord,
    AnswersSummary,
    CitationRecord,
    ClaimRecord,
    EvalRun,
    EvidenceSpan,
    Figures,
    IndexCounts,
    JudgeRecord,
    JudgeSummary,
    Latency,
    QuestionResult,
    RetrievedRecord,
    RunSummary,
    SettingValue,
    Tokens,
    rows_by_type,
)
from rag.evaluation.schema import (
    CONVERSATION_TYPE,
    KNOWN_TYPES,
    EvalConversation,
    EvalQuestion,
    numbered_conversations,
    numbered_eval_set,
)
from rag.evaluation.scores import (
    METRICS,
    NDCG_AT,
    Observed,
    aggregate,
    metric,
    percentile,
    score,
    values,
)
from rag.evaluation.support import CitationScores, citation_scores
from rag.evaluation.system import System
from rag.llm import TokenUsage
from rag.perspectives import author_label
from rag.types import Answer, Passage

# Comparative questions quote one example passage per author among many that would do, so
# their evidence recall understates retrieval; for them the figure that matters is whether
# each author's document is among the passages (doc and author coverage). They are reported
# by type but kept out of the overall evidence figures. Why questions quote one passage per
# reason and need them all, like multi_doc ones.
OVERALL_TYPES = ("factual", "paraphrase", "multi_doc")


def in_overall_evidence(kind: str) -> bool:
    """Whether a question type's evidence figures count in the overall ones: the
    OVERALL_TYPES, and a set's own labels (scored as answerable questions)."""
    return kind in OVERALL_TYPES or kind not in (*KNOWN_TYPES, CONVERSATION_TYPE)


EVIDENCE_METRICS = ("recall", "mrr", f"ndcg@{NDCG_AT}")
# Questions on which `rag eval` also compares the authors (rag.evaluation.perspectives):
# comparative ones for coverage and attribution, unanswerable ones for false addresses.
PERSPECTIVE_TYPES = ("comparative", "unanswerable")


class AnswerJudge(Protocol):
    """What the runner needs of `rag.evaluation.judge.Judge` (faked in tests)."""

    def judge(self, question: str, answer: Answer) -> JudgeRecord: ...


# --- gold evidence ------------------------------------------------------------------------


def evidence_spans(question: EvalQuestion, documents: Mapping[str, str]) -> list[EvidenceSpan]:
    """Where each evidence quote stands in the indexed (cleaned) documents; EvalSetError
    naming the first quote (or gold document) that is not there."""
    spans, problems = locate_evidence(question, documents)
    if problems:
        raise EvalSetError(problems[0])
    return spans


def locate_evidence(
    question: EvalQuestion, documents: Mapping[str, str]
) -> tuple[list[EvidenceSpan], list[str]]:
    """The evidence quotes located in the indexed (cleaned) documents, and what could not
    be: a gold document not in the index, a quote in none of the documents searched.

    Gold documents default to those whose text holds a quote. A quote found nowhere means
    the eval set is wrong (a typo, a paraphrase) or cleaning removed that article text."""
    spans: list[EvidenceSpan] = []
    problems = [
        f"field 'gold_docs': document {doc_id!r} is not in the index (see `rag docs` for the ids)"
        for doc_id in question.gold_docs
        if doc_id not in documents
    ]
    candidates = [d for d in question.gold_docs if d in documents] or (
        () if question.gold_docs else tuple(documents)
    )
    for number, quote in enumerate(question.evidence):
        for doc_id in candidates:
            span = locate(quote, documents[doc_id])
            if span:
                spans.append(EvidenceSpan(quote, doc_id, *span))
                break
        else:
            where = "its gold documents" if question.gold_docs else "any indexed document"
            problems.append(
                f"field 'evidence[{number}]': quote {quote[:60]!r} was not found in {where} "
                "(fix the quote to match the document word for word, or check that cleaning "
                "kept that text)"
            )
    return spans, problems


@dataclass(frozen=True)
class LocatedEvidence:
    """Each question's located evidence, and why some questions' evidence is missing."""

    spans: dict[str, list[EvidenceSpan]]
    missing: dict[str, str]  # question id -> why (one line): run, left out of recall


def locate_all_evidence(
    numbered: Sequence[tuple[int, EvalQuestion]],
    documents: Mapping[str, str],
    path: Path,
    *,
    strict: bool = True,
) -> LocatedEvidence:
    """Every question's evidence located before anything runs. `strict`: any quote not
    found stops the run, all faults named in one error; else those questions are noted."""
    located = LocatedEvidence({}, {})
    faults: list[str] = []
    for line, question in numbered:
        spans, problems = locate_evidence(question, documents)
        located.spans[question.id] = spans
        if problems:
            located.missing[question.id] = "; ".join(problems)
            faults.extend(f"{path}:{line} (question {question.id}): {p}" for p in problems)
    if faults and strict:
        shown = "\n".join(faults[:10])
        more = f"\n... and {len(faults) - 10} more" if len(faults) > 10 else ""
        raise EvalSetError(
            f"--strict: {len(faults)} evidence quote(s) or gold document(s) not found in the "
            f"index, so recall cannot be scored for those questions:\n{shown}{more}"
        )
    return located


# --- one question -------------------------------------------------------------------------


def _gold_offsets(passage: Passage, spans: Sequence[EvidenceSpan]) -> tuple[tuple[int, int], ...]:
    """Evidence overlapping the passage, as offsets into its text (for highlighting)."""
    chunk = passage.chunk
    return tuple(
        (max(span.start, chunk.start) - chunk.start, min(span.end, chunk.end) - chunk.start)
        for span in spans
        if span.doc_id == chunk.doc_id and span.start < chunk.end and span.end > chunk.start
    )


def retrieved_records(
    passages: Sequence[Passage], spans: Sequence[EvidenceSpan]
) -> tuple[RetrievedRecord, ...]:
    return tuple(
        RetrievedRecord(
            rank=rank,
            chunk_id=p.chunk.chunk_id,
            doc_id=p.chunk.doc_id,
            title=p.meta.title,
            author=p.meta.author,
            url=p.meta.url,
            score=round(p.score, 4),
            start=p.chunk.start,
            end=p.chunk.end,
            text=p.chunk.text,
            gold=_gold_offsets(p, spans),
        )
        for rank, p in enumerate(passages, 1)
    )


def answer_record(answer: Answer, checked: CitationScores | None) -> AnswerRecord:
    return AnswerRecord(
        text=answer.text,
        refused=answer.refused,
        backend=answer.backend,
        notice=answer.notice,
        citations=tuple(
            CitationRecord(c.n, c.passage.chunk.chunk_id, c.quote) for c in answer.citations
        ),
        claims=tuple(
            ClaimRecord(c.text, c.cited, c.supported, c.score, c.irrelevant)
            for c in (checked.claims if checked else ())
        ),
    )


def _usage(assistant: System, backend: str) -> TokenUsage | None:
    """Tokens the LLM server has reported so far; None when no LLM is in use."""
    if not answerers.uses_llm(backend):
        return None
    usage = getattr(assistant.llm, "usage", None)
    return usage if isinstance(usage, TokenUsage) else None


def question_result(
    assistant: System,
    question: EvalQuestion,
    spans: Sequence[EvidenceSpan],
    *,
    k: int,
    backend: str,
    answers: bool,
    judge: AnswerJudge | None,
    verdicts: list[JudgeRecord] | None = None,
    conversation: EvalConversation | None = None,
    evidence_missing: str | None = None,
) -> QuestionResult:
    """One question, retrieved, answered and scored; everything the report shows of it.
    The judge's verdicts are also appended to `verdicts`, for the run's judge summary.
    For a `conversation`'s last turn, the earlier turns are asked first and the turn is
    retrieved and answered as rewritten against them."""
    documents = assistant.index.documents
    asked = question.question
    if conversation is not None:
        asked = _rewrite_last_turn(assistant, conversation, backend)
    started = time.perf_counter()
    passages = assistant.search(asked, k=max(k, NDCG_AT))
    observed = Observed(
        question=question,
        spans=tuple(spans),
        passages=tuple(passages),
        k=k,
        texts={doc_id: doc.text for doc_id, doc in documents.items()},
        authors={doc_id: author_label(doc.meta) for doc_id, doc in documents.items()},
        retrieval_ms=round(1000 * (time.perf_counter() - started), 2),
        conversation=conversation,
        rewrite=asked if conversation is not None else None,
        evidence_missing=evidence_missing,
    )
    errors: list[str] = []
    if answers:
        before = _usage(assistant, backend)
        started = time.perf_counter()
        answer = assistant.answer(asked, passages[:k], backend=backend)
        answer_ms = round(1000 * (time.perf_counter() - started), 2)
        spent = TokenUsage.between(before, _usage(assistant, backend))
        if answer.notice:
            errors.append(answer.notice)
        perspectives = None
        if question.type in PERSPECTIVE_TYPES:
            gold = {s.doc_id for s in spans}
            perspectives = evaluate_comparison(assistant, question, gold, backend)
        judged = judge.judge(question.question, answer) if judge is not None else None
        if judged is not None:
            if verdicts is not None:
                verdicts.append(judged)
            errors.extend(judged.errors)
        observed = replace(
            observed,
            answer=answer,
            answer_ms=answer_ms,
            prompt_tokens=spent.prompt_tokens if spent else None,
            completion_tokens=spent.completion_tokens if spent else None,
            citations=citation_scores(answer) if not answer.refused else None,
            perspectives=perspectives,
            judge=judged,
        )
    return QuestionResult(
        id=question.id,
        type=question.type,
        question=question.question,
        rewrite=observed.rewrite,
        scores=score(observed),
        answer_keys=question.answer_keys,
        evidence=tuple(spans),
        retrieved=retrieved_records(passages, spans),
        answer=answer_record(observed.answer, observed.citations) if observed.answer else None,
        perspectives=observed.perspectives,
        judge=observed.judge,
        errors=tuple(errors),
        evidence_missing=evidence_missing,
    )


def _rewrite_last_turn(assistant: System, item: EvalConversation, backend: str) -> str:
    """Ask the turns before the last one in one conversation, as a user would, and return
    the last turn rewritten against them."""
    conversation = Conversation()
    for turn in item.turns[:-1]:
        assistant.ask(turn, conversation=conversation, backend=backend)
    return assistant.condense(item.question, conversation, backend)


# --- the run ------------------------------------------------------------------------------


def overall_figures(rows: Sequence[QuestionResult]) -> Figures:
    """Means over all questions, except the evidence metrics: those over OVERALL_TYPES."""
    everything = aggregate(rows)
    evidence = aggregate([r for r in rows if in_overall_evidence(r.type)])
    source = {m.name: evidence if m.name in EVIDENCE_METRICS else everything for m in METRICS}
    means = {name: f.means[name] for name, f in source.items() if name in f.means}
    counts = {name: f.counts[name] for name, f in source.items() if name in f.counts}
    return Figures(everything.n, means, counts)


def _percentile(found: Sequence[float], q: float) -> float | None:
    value = percentile(found, q)
    return None if value is None else round(value, 2)


def _answer_summary(rows: Sequence[QuestionResult], backend: str) -> AnswersSummary:
    """The headline answer figures over all questions (shown under the table and in the UI)."""
    answered = [r for r in rows if r.answer]

    def mean_of(name: str) -> float | None:
        found = values(answered, name)
        return round(sum(found) / len(found), 4) if found else None

    return AnswersSummary(
        answer_key_hit_rate=mean_of("key_hit"),
        refusal_rate_unanswerable=mean_of("abstained"),
        false_refusal_rate=mean_of("false_refusal"),
        citation_validity=mean_of("citation_validity"),
        citation_recall=mean_of("citation_recall"),
        citation_precision=mean_of("citation_precision"),
        quote_verbatim=mean_of("quote_verbatim"),
        fallbacks=sum(1 for r in answered if r.answer and r.answer.backend != backend),
        n_keyed=len(values(answered, "key_hit")),
        n_answerable=len(values(answered, "false_refusal")),
        n_unanswerable=len(values(answered, "abstained")),
    )


def settings_snapshot(assistant: System, backend: str) -> dict[str, SettingValue]:
    """The settings that decide the figures, so two runs can be told apart."""
    s = assistant.settings
    snapshot: dict[str, SettingValue] = {
        "embedding_model": s.embedding_model,
        "chunk_tokens": s.chunk_tokens,
        "chunk_overlap_tokens": s.chunk_overlap_tokens,
        "fusion": s.fusion,
        "dense_weight": s.dense_weight,
        "sentence_weight": s.sentence_weight,
        "lexical_weight": s.lexical_weight,
        "word_weight": s.word_weight,
        "word_threshold": s.word_threshold,
        "candidates": s.candidates,
        "max_per_doc": s.max_per_doc,
        "expand_place_names": s.expand_place_names,
        "reranker": s.reranker,
    }
    if answerers.uses_llm(backend):
        snapshot["llm_model"] = s.llm_model
        snapshot["llm_base_url"] = s.llm_base_url
    return snapshot


def run_eval(
    assistant: System,
    eval_set: Path,
    *,
    k: int,
    backend: str | None = None,
    answers: bool = True,
    judge: AnswerJudge | None = None,
    judge_model: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    conversations: Path | None = None,
    strict: bool = False,
) -> EvalRun:
    """Every question of the eval set, scored, and the run's summary (`runs.save_run`
    writes them to a run folder). With `conversations` (and answers), each conversation's
    last turn is a row of type "conversation" too. A question whose evidence is not in the
    index is run and marked (`QuestionResult.evidence_missing`), out of the evidence
    figures; `strict` stops the run instead."""
    began, started = datetime.now(), time.perf_counter()
    numbered = numbered_eval_set(eval_set)
    played: dict[str, tuple[int, EvalConversation]] = {}
    if conversations is not None and answers:
        played = _conversations(conversations, numbered, eval_set)
    talks = [(line, item.as_question()) for line, item in played.values()]
    chosen = backend or assistant.settings.backend
    if answers:  # a missing endpoint fails here, not as 71 fallback notices
        answerers.require(chosen, assistant)
    else:
        answerers.kind(chosen)
    texts = {doc_id: doc.text for doc_id, doc in assistant.index.documents.items()}
    located = locate_all_evidence(numbered, texts, eval_set, strict=strict)
    if conversations is not None and talks:
        more = locate_all_evidence(talks, texts, conversations, strict=strict)
        located = LocatedEvidence(located.spans | more.spans, located.missing | more.missing)
    numbered = [*numbered, *talks]
    assistant.search(numbered[0][1].question, k=1)  # load the model before the clock runs
    rows: list[QuestionResult] = []
    verdicts: list[JudgeRecord] = []
    for number, (_, question) in enumerate(numbered, 1):
        rows.append(
            question_result(
                assistant,
                question,
                located.spans[question.id],
                k=k,
                backend=chosen,
                answers=answers,
                judge=judge if answers else None,
                verdicts=verdicts,
                conversation=played[question.id][1] if question.type == "conversation" else None,
                evidence_missing=located.missing.get(question.id),
            )
        )
        if progress:
            progress(number, len(numbered))
    summary = RunSummary(
        eval_set=str(eval_set),
        k=k,
        backend=chosen,
        created=began.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - started, 2),
        n_questions=len(rows),
        settings=settings_snapshot(assistant, chosen),
        index=IndexCounts(len(texts), len(assistant.index.chunks)),
        overall=overall_figures(rows),
        by_type={kind: aggregate(members) for kind, members in rows_by_type(rows).items()},
        answers=_answer_summary(rows, chosen) if answers else None,
        perspectives=summarise_perspectives(rows) if answers else None,
        judge=_judge_summary(verdicts, judge_model) if judge is not None and answers else None,
        latency=_latency(rows),
        tokens=_tokens(rows),
    )
    return EvalRun(summary, tuple(rows))


def _conversations(
    path: Path, numbered: Sequence[tuple[int, EvalQuestion]], eval_set: Path
) -> dict[str, tuple[int, EvalConversation]]:
    """The conversations to play by id, with their line; their ids must not be questions'."""
    listed = numbered_conversations(path)
    ids = [q.id for _, q in numbered] + [item.id for _, item in listed]
    if len(set(ids)) != len(ids):
        clash = sorted({i for i in ids if ids.count(i) > 1})
        raise EvalSetError(
            f"{path}: conversation id(s) {', '.join(clash)} also used by a "
            f"question of {eval_set}; give them distinct ids"
        )
    return {item.id: (line, item) for line, item in listed}


def _latency(rows: Sequence[QuestionResult]) -> Latency:
    retrieval_ms, answer_ms = values(rows, "retrieval_ms"), values(rows, "answer_ms")
    return Latency(
        search_p50=_percentile(retrieval_ms, 0.5),
        search_p95=_percentile(retrieval_ms, 0.95),
        answer_p50=_percentile(answer_ms, 0.5),
        answer_p95=_percentile(answer_ms, 0.95),
    )


def _tokens(rows: Sequence[QuestionResult]) -> Tokens | None:
    prompt, completion = values(rows, "prompt_tokens"), values(rows, "completion_tokens")
    if not prompt:
        return None
    return Tokens(int(sum(prompt)), int(sum(completion)), len(prompt))


def _judge_summary(verdicts: Sequence[JudgeRecord], model: str | None) -> JudgeSummary:
    from rag.evaluation.judge import summarise_judge  # the LLM client: only --judge needs it

    return summarise_judge(verdicts, model)


def run_retrieval_eval(assistant: System, eval_set: Path, *, k: int) -> EvalRun:
    return run_eval(assistant, eval_set, k=k, answers=False)


# --- one-line summaries (the terminal table's caption, the Evaluate tab) --------------------


def answers_line(summary: RunSummary) -> str:
    a, lat, tokens = summary.answers, summary.latency, summary.tokens
    if a is None:
        return ""

    def share(name: str, value: float | None) -> str:
        return metric(name).format(value)

    spent = f"; tokens {tokens.prompt} prompt + {tokens.completion} completion" if tokens else ""
    return (
        f"answers ({summary.backend}): key hit {share('key_hit', a.answer_key_hit_rate)} "
        f"(n={a.n_keyed}), refusal on unanswerable "
        f"{share('abstained', a.refusal_rate_unanswerable)} (n={a.n_unanswerable}), false "
        f"refusals {share('false_refusal', a.false_refusal_rate)}, citation validity "
        f"{share('citation_validity', a.citation_validity)}, citation recall "
        f"{share('citation_recall', a.citation_recall)}, precision "
        f"{share('citation_precision', a.citation_precision)}; search p50 {lat.search_p50} ms, "
        f"answer p50 {lat.answer_p50} ms{spent}"
        + (f"; {a.fallbacks} answer(s) fell back to extractive" if a.fallbacks else "")
    )


def judge_line(summary: RunSummary) -> str:
    j = summary.judge
    if j is None:
        return ""
    failures = ", ".join(f"{name} {count}" for name, count in j.parse_failures.items()) or "none"
    return (
        f"judge ({j.model}): faithfulness {metric('faithfulness').format(j.faithfulness)} "
        f"(n={j.n_faithfulness}), answer relevance "
        f"{metric('answer_relevance').format(j.answer_relevance)} (n={j.n_answer_relevance}); "
        f"parse failures: {failures} (left out of the means); {j.requests} requests, "
        f"{j.cached} from cache; informational, not pass/fail"
    )

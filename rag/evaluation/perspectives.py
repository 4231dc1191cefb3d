"""Perspective metrics: pure functions over a `Comparison` and the indexed documents.

* author coverage: of the gold authors of a comparative question (the authors whose
  documents hold one of its evidence quotes), the share reported as addressing it;
* attribution: the share of quotes (in perspectives and in points) that are verbatim at
  their span (`document.text[start:end] == text`) in a document of the author they are
  attributed to; every point must also quote each author it names. Anything below 1.0 is
  a bug;
* false addresses: authors reported as addressing a question with only irrelevant quotes.
  A quote is irrelevant when it shares no content term with the question (the question's
  stemmed terms less the asking words, `rag.extractive.question_terms`) and its cosine
  similarity with the question is below `IRRELEVANT_SIMILARITY`. An author reported as
  addressing with no quote at all counts as a false address too;
* on unanswerable questions (asked about the corpus's topics, but answered by no
  document) the share of authors reported as addressing them, reported beside: the
  comparison should mostly say "does not address this question" there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from statistics import mean

from rag.evaluation.records import (
    PerspectivesRecord,
    PerspectivesSummary,
    QuestionResult,
    RunSummary,
)
from rag.evaluation.schema import EvalQuestion
from rag.evaluation.scores import metric
from rag.evaluation.system import System
from rag.extractive import question_terms
from rag.lexical import terms
from rag.perspectives import author_label, perspective_label
from rag.types import Comparison, Document, Quote

# Below this cosine with the question, a quote sharing no content term with it is irrelevant.
# Off-topic questions ("What is the recipe for khachapuri?") reach at most ~0.22 with any
# sentence of the demo corpus; sentences that answer a comparative question, 0.5 and more.
IRRELEVANT_SIMILARITY = 0.3

Similarities = Callable[[Sequence[str]], Sequence[float]]


def quote_verbatim(quote: Quote, documents: Mapping[str, Document]) -> bool:
    document = documents.get(quote.doc_id)
    return (
        document is not None
        and 0 <= quote.start < quote.end <= len(document.text)
        and document.text[quote.start : quote.end] == quote.text
    )


def _author_of(quote: Quote, documents: Mapping[str, Document]) -> str | None:
    document = documents.get(quote.doc_id)
    return author_label(document.meta).casefold() if document else None


def attribution_checks(comparison: Comparison, documents: Mapping[str, Document]) -> list[bool]:
    """One check per quote (verbatim, and by the author it is given to), and one per author
    named in a point (that author is quoted in it)."""
    checks: list[bool] = []
    for p in comparison.perspectives:
        label = perspective_label(p).casefold()
        checks += [
            quote_verbatim(q, documents) and _author_of(q, documents) == label for q in p.quotes
        ]
    for point in (*comparison.agreements, *comparison.divergences):
        named = {a.casefold() for a in point.authors}
        quoted = {_author_of(q, documents) for q in point.quotes}
        checks += [
            quote_verbatim(q, documents) and _author_of(q, documents) in named for q in point.quotes
        ]
        checks += [a in quoted for a in named]
    return checks


def irrelevant_quotes(
    question: str, quotes: Sequence[Quote], similarities: Similarities
) -> list[bool]:
    """For each quote: no content term of the question, and little similarity to it."""
    asked = set(question_terms(question))
    scores = similarities([q.text for q in quotes]) if quotes else []
    return [
        not (asked & set(terms(q.text))) and score < IRRELEVANT_SIMILARITY
        for q, score in zip(quotes, scores, strict=True)
    ]


def score_comparison(
    comparison: Comparison,
    documents: Mapping[str, Document],
    gold_doc_ids: Collection[str],
    similarities: Similarities,
) -> PerspectivesRecord:
    """The perspective metrics of one comparison (`gold_doc_ids` empty: no gold authors)."""
    gold = sorted({author_label(documents[d].meta) for d in gold_doc_ids if d in documents})
    addressed = [p for p in comparison.perspectives if p.addressed]
    addressed_labels = {perspective_label(p).casefold() for p in addressed}
    covered = [g for g in gold if g.casefold() in addressed_labels]
    checks = attribution_checks(comparison, documents)
    false = [
        perspective_label(p)
        for p in addressed
        if not p.quotes or all(irrelevant_quotes(comparison.question, p.quotes, similarities))
    ]
    return PerspectivesRecord(
        gold_authors=tuple(gold),
        addressed=tuple(perspective_label(p) for p in addressed),
        n_authors=len(comparison.perspectives),
        coverage=round(len(covered) / len(gold), 4) if gold else None,
        n_gold=len(gold),
        n_covered=len(covered),
        n_checks=len(checks),
        n_attributed=sum(checks),
        attribution=round(sum(checks) / len(checks), 4) if checks else 1.0,
        false_addresses=tuple(false),
        agreements=len(comparison.agreements),
        divergences=len(comparison.divergences),
        backend=comparison.backend,
        notice=comparison.notice,
    )


def embedding_similarities(assistant: System, question: str) -> Similarities:
    """Cosine of each text with the question, with the assistant's embedding model."""
    question_vector = assistant.embedder.embed([question])[0]

    def similarities(texts: Sequence[str]) -> list[float]:
        return [float(v @ question_vector) for v in assistant.embedder.embed(list(texts))]

    return similarities


def evaluate_comparison(
    assistant: System,
    question: EvalQuestion,
    gold_doc_ids: Collection[str],
    backend: str | None = None,
) -> PerspectivesRecord:
    """Compare the authors on one eval question and score the comparison."""
    started = time.perf_counter()
    comparison = assistant.compare(question.question, backend=backend)
    elapsed = time.perf_counter() - started
    scores = score_comparison(
        comparison,
        assistant.index.documents,
        gold_doc_ids,
        embedding_similarities(assistant, question.question),
    )
    return replace(scores, ms=round(1000 * elapsed, 2))


def summarise_perspectives(rows: Sequence[QuestionResult]) -> PerspectivesSummary | None:
    """Totals over the eval rows that carry a comparison's scores."""
    scored = [(r.type, r.perspectives) for r in rows if r.perspectives]
    if not scored:
        return None
    comparative = [p for kind, p in scored if kind == "comparative"]
    unanswerable = [p for kind, p in scored if kind == "unanswerable"]
    everything = [p for _, p in scored]
    n_gold = sum(s.n_gold for s in comparative)
    n_checks = sum(s.n_checks for s in everything)
    n_addressed = sum(len(s.addressed) for s in comparative)
    n_false = sum(len(s.false_addresses) for s in comparative)
    pairs_unanswerable = sum(s.n_authors for s in unanswerable)
    timed = [s.ms for s in everything if s.ms is not None]

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return PerspectivesSummary(
        n_comparative=len(comparative),
        author_coverage=share(sum(s.n_covered for s in comparative), n_gold),
        n_gold_authors=n_gold,
        attribution=share(sum(s.n_attributed for s in everything), n_checks) if n_checks else 1.0,
        n_attribution_checks=n_checks,
        false_addresses=n_false,
        false_address_rate=share(n_false, n_addressed),
        n_addressed=n_addressed,
        n_unanswerable=len(unanswerable),
        addressed_rate_unanswerable=share(
            sum(len(s.addressed) for s in unanswerable), pairs_unanswerable
        ),
        with_agreements=share(sum(1 for s in comparative if s.agreements), len(comparative)),
        with_divergences=share(sum(1 for s in comparative if s.divergences), len(comparative)),
        compare_p50_ms=sorted(timed)[len(timed) // 2] if len(timed) == len(everything) else None,
        mean_authors_addressing=round(mean(len(s.addressed) for s in comparative), 3)
        if comparative
        else None,
    )


def perspectives_line(summary: RunSummary) -> str:
    """One line on the comparisons of a run, for `rag eval` and the Evaluate tab."""
    p = summary.perspectives
    if p is None:
        return ""
    share = metric("attribution").format  # a share, to three decimals
    return (
        f"perspectives ({summary.backend}): author coverage {share(p.author_coverage)} "
        f"(n={p.n_gold_authors} gold authors, {p.n_comparative} questions), attribution "
        f"{share(p.attribution)}, false addresses {p.false_addresses} of "
        f"{p.n_addressed}, addressed on unanswerable {share(p.addressed_rate_unanswerable)} "
        f"(n={p.n_unanswerable}); compare p50 {p.compare_p50_ms} ms"
    )

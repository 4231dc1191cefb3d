"""The metric registry: every per-question score of an eval run is computed, named,
labelled, formatted and judged here, in one `Metric` entry that the runner, the report,
`rag eval compare`, the `--require` gate, the sweep, the terminal tables and the Evaluate
tab all read. Nothing else in the code base names a metric's label or direction.

Every row of a run (`rag.evaluation.records.QuestionResult`) carries `scores`: the names
below mapped to a number, or None where the metric does not apply to that question
(retrieval metrics on an unanswerable question, key hit without answer keys, judge
metrics without `--judge`). A summary figure is the mean of the non-None values; None
values are never averaged in as zeros.

How to add a metric
-------------------

1. Write its compute function in this module, above `METRICS`: `(Observed) -> float |
   None`, pure, returning None where the metric does not apply to the question (never 0
   for "does not apply"). `Observed` holds everything the runner saw of one question: the
   eval-set question (`o.question`, with its type and answer keys), the located evidence,
   the retrieved passages, the answer, its citation check, the comparison of the authors,
   the judge's verdicts, timings and tokens. If the metric needs something not observed
   yet (a conversation's turns, say), add a field to `Observed` and fill it in
   `rag.evaluation.runner.question_result`. The report, `compare` and the UI import this
   module but never compute, so import a heavy helper inside the compute function.
2. Add one `Metric(...)` to `METRICS`, where the tables should show it (entries are
   grouped: retrieval, answers, perspectives, judge, cost): its `name` (the key in
   results.jsonl and summary.json, and what `--require`, `--metric` and `rag eval
   compare` take), `label` (the report), `short` (terminal and UI tables, badges; `@k`
   becomes the run's k), `higher_is_better`, `fraction` (a share in [0, 1], else ms or
   tokens), `description` (the report's tooltip) and the compute function.
3. Add its sabotage to `MUST_DROP` in tests/test_eval_runner.py: which deliberately wrong
   system (`liar`, `coward`, or a new mode of `Sabotaged`) must make it worse. That test
   fails until every offline quality metric has one.

That is all: the runner stores it in every row, the summary averages it by type and
overall, the report adds a column, a chart and a per-question score, the CLI table a row,
`compare`/`--require`/`sweep` accept its name, and old runs without it show "–". A
metric that should be averaged overall over factual, paraphrase and multi-doc questions
only, as evidence recall is, is also listed in `runner.EVIDENCE_METRICS`.

Run folder (written by `rag.evaluation.runs.save_run`)::

    <run>/summary.json     # rag.evaluation.records.RunSummary
    <run>/results.jsonl    # one rag.evaluation.records.QuestionResult per line
    <run>/report.html      # self-contained report (`rag.evaluation.report`)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import mean
from typing import TYPE_CHECKING, Literal

from rag.evaluation.answers import citation_validity, keys_hit
from rag.evaluation.metrics import (
    Retrieved,
    ndcg,
    normalise,
    passage_hits,
    quote_found,
    reciprocal_rank,
)
from rag.evaluation.records import (
    EvidenceSpan,
    Figures,
    JudgeRecord,
    PerspectivesRecord,
    QuestionResult,
)
from rag.types import Answer, Passage

if TYPE_CHECKING:
    from rag.evaluation.schema import EvalConversation, EvalQuestion
    from rag.evaluation.support import CitationScores


def format_number(value: float | None, digits: int = 3, *, signed: bool = False) -> str:
    """How every figure is printed: `0.894`, `+0.050`, `19.6`; `–` for None; never `-0.000`."""
    if value is None:
        return "–"
    value = round(value, digits) + 0.0
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


Group = Literal["retrieval", "answers", "perspectives", "judge", "cost"]
# The judgement of a value: red-amber-green on its own, good/bad against a floor;
# "neutral" where there is nothing to judge (no value, or ms and tokens on their own).
Verdict = Literal["good", "mid", "bad", "neutral"]

NDCG_AT = 10
EPSILON = 1e-9  # differences below this are float noise, not a change
GOOD_FROM, MID_FROM = 0.75, 0.4  # goodness at which a share turns green, amber


# --- what the runner observed of one question ---------------------------------------------


@dataclass(frozen=True)
class Observed:
    """Everything the runner saw of one question: what the compute functions score."""

    question: EvalQuestion
    spans: tuple[EvidenceSpan, ...]  # the gold evidence, located in the documents
    passages: tuple[Passage, ...]  # retrieved, best first (max(k, NDCG_AT) of them)
    k: int
    texts: Mapping[str, str]  # doc_id -> cleaned document text
    authors: Mapping[str, str]  # doc_id -> author label (`rag.perspectives.author_label`)
    retrieval_ms: float
    answer: Answer | None = None  # None: a retrieval-only run
    answer_ms: float | None = None
    prompt_tokens: int | None = None  # as the LLM server reported them; None: no LLM
    completion_tokens: int | None = None
    citations: CitationScores | None = None  # claim support of a non-refused answer
    perspectives: PerspectivesRecord | None = None  # comparative and unanswerable questions
    judge: JudgeRecord | None = None  # with --judge
    conversation: EvalConversation | None = None  # the conversation whose last turn this is
    rewrite: str | None = None  # that turn rewritten against the others: what was asked
    evidence_missing: str | None = None  # why some evidence is not in the index: no recall

    @property
    def evidence_scored(self) -> bool:
        """An answerable question with all its evidence located: the evidence metrics apply."""
        return self.question.answerable and self.evidence_missing is None

    @property
    def retrieved(self) -> list[Retrieved]:
        return [
            Retrieved(p.chunk.doc_id, p.chunk.index, p.chunk.text, p.chunk.start, p.chunk.end)
            for p in self.passages
        ]

    @property
    def gold_docs(self) -> set[str]:
        return {s.doc_id for s in self.spans}

    @property
    def top_docs(self) -> set[str]:
        return {p.chunk.doc_id for p in self.passages[: self.k]}

    def hits(self) -> list[int | None]:
        """For each retrieved passage, the evidence item it newly covers, or None."""
        return passage_hits([(s.doc_id, s.start, s.end) for s in self.spans], self.retrieved)


# --- compute functions: (Observed) -> value, or None where the metric does not apply ------


def evidence_recall(o: Observed) -> float | None:
    if not o.evidence_scored:
        return None
    top = o.retrieved[: o.k]
    found = [quote_found(quote, top, o.texts) for quote in o.question.evidence]
    return sum(found) / len(found)


def mrr(o: Observed) -> float | None:
    return reciprocal_rank(o.hits()) if o.evidence_scored else None


def ndcg_at_10(o: Observed) -> float | None:
    return ndcg(o.hits(), len(o.spans), NDCG_AT) if o.evidence_scored else None


def doc_coverage(o: Observed) -> float | None:
    if not o.evidence_scored:
        return None
    return len(o.gold_docs & o.top_docs) / len(o.gold_docs)


def author_coverage(o: Observed) -> float | None:
    if o.question.type != "comparative" or not o.evidence_scored:
        return None
    gold = {o.authors[d] for d in o.gold_docs}
    top = {o.authors[d] for d in o.top_docs if d in o.authors}
    return len(gold & top) / len(gold)


def key_hit(o: Observed) -> float | None:
    if o.answer is None or not o.question.answerable or not o.question.answer_keys:
        return None
    return float(keys_hit(o.answer, o.question))


def answer_citation_validity(o: Observed) -> float | None:
    return citation_validity(o.answer) if o.answer is not None else None


def citation_recall(o: Observed) -> float | None:
    return o.citations.recall if o.citations else None


def citation_precision(o: Observed) -> float | None:
    return o.citations.precision if o.citations else None


def answer_quote_verbatim(o: Observed) -> float | None:
    # imported here: bm25s and scipy (~0.4 s), which the report and `compare` never need
    from rag.evaluation.support import quote_verbatim

    return quote_verbatim(o.answer) if o.answer is not None and not o.answer.refused else None


def abstained(o: Observed) -> float | None:
    if o.answer is None or o.question.answerable:
        return None
    return float(o.answer.refused)


def false_refusal(o: Observed) -> float | None:
    if o.answer is None or not o.question.answerable:
        return None
    return float(o.answer.refused)


def abstained_near_miss(o: Observed) -> float | None:
    return abstained(o) if o.question.subtype == "near_miss" else None


def abstained_off_topic(o: Observed) -> float | None:
    return abstained(o) if o.question.subtype == "off_topic" else None


def reason_share(o: Observed) -> float | None:
    """Share of the key reasons the answer gives (0 for a refusal)."""
    if o.answer is None or not o.question.reasons:
        return None
    if o.answer.refused:
        return 0.0
    text = normalise(o.answer.text)
    found = [any(normalise(alt) in text for alt in reason) for reason in o.question.reasons]
    return sum(found) / len(found)


def rewrite_correct(o: Observed) -> float | None:
    if o.conversation is None or o.rewrite is None:
        return None
    from rag.evaluation.conversations import rewrite_correct as correct

    return float(correct(o.rewrite, o.conversation))


def perspective_coverage(o: Observed) -> float | None:
    if o.perspectives is None or o.question.type != "comparative":
        return None
    return o.perspectives.coverage


def attribution(o: Observed) -> float | None:
    return o.perspectives.attribution if o.perspectives else None


def faithfulness(o: Observed) -> float | None:
    return o.judge.faithfulness if o.judge else None


def answer_relevance(o: Observed) -> float | None:
    return o.judge.answer_relevance if o.judge else None


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # the report's column and score label
    group: Group
    compute: Callable[[Observed], float | None] = field(repr=False, compare=False)
    short: str = ""  # terminal and UI tables, badges ("@k" becomes the run's k); else label
    higher_is_better: bool = True
    fraction: bool = True  # a share in [0, 1] (shown to 3 decimals); else ms or tokens
    description: str = ""

    def short_label(self, k: int | None = None) -> str:
        text = self.short or self.label
        return text.replace("@k", f"@{k}") if k is not None else text

    def format(self, value: float | None, *, signed: bool = False, missing: str = "–") -> str:
        """`0.894` for a share, `19.6` for ms or tokens, `missing` for None; never `-0.000`."""
        if value is None:
            return missing
        return format_number(value, 3 if self.fraction else 1, signed=signed)

    @property
    def best(self) -> float | None:
        """Full marks for one question (None for ms and tokens: no best value)."""
        if not self.fraction:
            return None
        return 1.0 if self.higher_is_better else 0.0

    def goodness(self, value: float | None) -> float | None:
        """0 (worst) .. 1 (best) for a share, the direction applied; None for no value, and
        for ms and tokens (no good or bad on their own)."""
        if value is None or not self.fraction:
            return None
        value = min(1.0, max(0.0, value))
        return value if self.higher_is_better else 1.0 - value

    def verdict(self, value: float | None, floor: float | None = None) -> Verdict:
        """The one judgement of a value of this metric, used by the report, the Evaluate
        tab, the gate and `compare`.

        Against a `floor` (a `--require` bound, the baseline run's value, or `best` for one
        question): "good" when the value is the floor or better in the metric's direction
        (a lower-is-better metric takes it as a ceiling), else "bad". On its own: a share
        is "good" from a goodness of 0.75, "mid" from 0.4, else "bad"; ms and tokens are
        "neutral". No value is "neutral"."""
        if value is None:
            return "neutral"
        if floor is not None:
            margin = value - floor if self.higher_is_better else floor - value
            return "good" if margin >= -EPSILON else "bad"
        goodness = self.goodness(value)
        if goodness is None:
            return "neutral"
        return "good" if goodness >= GOOD_FROM else "mid" if goodness >= MID_FROM else "bad"

    def passed(self, value: float | None) -> bool | None:
        """Full marks on one question (all evidence found, the key hit, no false refusal);
        None where the metric does not apply or has no full marks."""
        best = self.best
        if value is None or best is None:
            return None
        return self.verdict(value, floor=best) == "good"


METRICS: tuple[Metric, ...] = (
    Metric(
        "recall",
        "evidence recall@k",
        "retrieval",
        evidence_recall,
        short="recall@k",
        description="Share of the gold evidence quotes contained in the top-k passages.",
    ),
    Metric(
        "mrr",
        "MRR",
        "retrieval",
        mrr,
        description="1 / rank of the first passage holding evidence.",
    ),
    Metric(
        f"ndcg@{NDCG_AT}",
        f"nDCG@{NDCG_AT}",
        "retrieval",
        ndcg_at_10,
        description="Binary-gain nDCG over the first 10 passages, each evidence item once.",
    ),
    Metric(
        "doc_coverage",
        "gold-document coverage@k",
        "retrieval",
        doc_coverage,
        short="doc coverage@k",
        description="Share of the gold documents with a passage in the top k.",
    ),
    Metric(
        "author_coverage",
        "author coverage@k",
        "retrieval",
        author_coverage,
        description="Share of the gold authors with a passage in the top k "
        "(comparative questions only).",
    ),
    Metric(
        "key_hit",
        "answer-key hit",
        "answers",
        key_hit,
        short="key hit",
        description="The answer contains every answer key (answerable questions with keys).",
    ),
    Metric(
        "citation_validity",
        "citation validity",
        "answers",
        answer_citation_validity,
        description="Share of citations that point at a given passage and quote it verbatim.",
    ),
    Metric(
        "citation_recall",
        "citation recall",
        "answers",
        citation_recall,
        description="ALCE: share of claims supported by the union of their cited passages "
        "(lexical support test).",
    ),
    Metric(
        "citation_precision",
        "citation precision",
        "answers",
        citation_precision,
        description="ALCE: share of citations that are not irrelevant to their claim.",
    ),
    Metric(
        "quote_verbatim",
        "verbatim quotes",
        "answers",
        answer_quote_verbatim,
        description="Share of quoted spans in the answer found word for word in a cited passage.",
    ),
    Metric(
        "abstained",
        "abstention (unanswerable)",
        "answers",
        abstained,
        short="abstained",
        description="The answer says the documents do not answer (unanswerable questions).",
    ),
    Metric(
        "false_refusal",
        "false refusal (answerable)",
        "answers",
        false_refusal,
        short="false refusal",
        higher_is_better=False,
        description="The answer refuses although the documents answer (answerable questions).",
    ),
    Metric(
        "abstained_near_miss",
        "abstention, near misses",
        "answers",
        abstained_near_miss,
        short="abstained (near)",
        description="Abstention on unanswerable questions whose topic the documents cover but "
        "not the fact asked (another country's figure, another year).",
    ),
    Metric(
        "abstained_off_topic",
        "abstention, off topic",
        "answers",
        abstained_off_topic,
        short="abstained (off)",
        description="Abstention on questions about things the documents do not cover at all.",
    ),
    Metric(
        "reason_share",
        "reasons given",
        "answers",
        reason_share,
        short="reasons",
        description="Share of the hand-listed reasons a why/how answer gives (each reason: "
        "any of its key strings in the answer; 0 for a refusal).",
    ),
    Metric(
        "rewrite_correct",
        "follow-up rewrite correct",
        "answers",
        rewrite_correct,
        short="rewrite ok",
        description="Conversations: the last turn's standalone rewrite holds one alternative "
        "of each rewrite key and none of the forbidden strings.",
    ),
    Metric(
        "perspective_coverage",
        "perspective coverage",
        "perspectives",
        perspective_coverage,
        short="perspective cov",
        description="Share of gold authors the comparison reports as addressing the question.",
    ),
    Metric(
        "attribution",
        "attribution accuracy",
        "perspectives",
        attribution,
        short="attribution",
        description="Share of comparison quotes verbatim at their span, by the author named.",
    ),
    Metric(
        "faithfulness",
        "faithfulness (judge)",
        "judge",
        faithfulness,
        description="RAGAS: share of the answer's claims the judge finds inferable from the "
        "passages.",
    ),
    Metric(
        "answer_relevance",
        "answer relevance (judge)",
        "judge",
        answer_relevance,
        short="relevance (judge)",
        description="RAGAS: mean cosine between the question and questions the judge "
        "generates from the answer.",
    ),
    Metric(
        "retrieval_ms",
        "retrieval ms",
        "cost",
        lambda o: o.retrieval_ms,
        higher_is_better=False,
        fraction=False,
        description="Wall time of retrieval for the question.",
    ),
    Metric(
        "answer_ms",
        "answer ms",
        "cost",
        lambda o: o.answer_ms,
        higher_is_better=False,
        fraction=False,
        description="Wall time of answering, retrieval excluded.",
    ),
    Metric(
        "prompt_tokens",
        "prompt tokens",
        "cost",
        lambda o: o.prompt_tokens,
        higher_is_better=False,
        fraction=False,
        description="Prompt tokens reported by the LLM server (None when no LLM was used).",
    ),
    Metric(
        "completion_tokens",
        "completion tokens",
        "cost",
        lambda o: o.completion_tokens,
        higher_is_better=False,
        fraction=False,
        description="Completion tokens reported by the LLM server.",
    ),
)
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


def metric(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(BY_NAME)
        raise KeyError(f"unknown metric {name!r}; known: {known}") from None


def score(observed: Observed) -> dict[str, float | None]:
    """Every registered metric of one question, in registry order."""
    return {m.name: m.compute(observed) for m in METRICS}


# --- figures over many questions ----------------------------------------------------------


def values(rows: Iterable[QuestionResult], name: str) -> list[float]:
    """The non-None values of one metric over some rows."""
    return [float(value) for row in rows if (value := row.score(name)) is not None]


def aggregate(rows: Sequence[QuestionResult]) -> Figures:
    """`n` and the mean of every metric that applies to at least one of the rows."""
    means: dict[str, float] = {}
    counts: dict[str, int] = {}
    for m in METRICS:
        found = values(rows, m.name)
        if found:
            means[m.name] = round(mean(found), 4 if m.fraction else 2)
            counts[m.name] = len(found)
    return Figures(len(rows), means, counts)


def percentile(found: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (a value that occurred), None for no values."""
    if not found:
        return None
    ordered = sorted(found)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- one question: did it go right? -------------------------------------------------------


def evidence_metric(question_type: str) -> Metric:
    """The retrieval figure a question is judged by. A comparative question quotes one
    example passage per author among many that would do, so it needs every gold author
    retrieved (author coverage), not every example quote (evidence recall)."""
    return metric("author_coverage" if question_type == "comparative" else "recall")


@dataclass(frozen=True)
class QuestionVerdict:
    """Whether one question went right, as the report and the Evaluate tab both show it.

    `retrieval`: full marks on its evidence metric (`evidence_metric`). `answer`: False
    for a false refusal, an answer to an unanswerable question or a missed answer key;
    True for a correct refusal or every key hit; None where neither is known (a
    retrieval-only run, or an answerable question without keys that was not refused)."""

    retrieval: bool | None
    answer: bool | None

    @property
    def weak(self) -> bool:
        """Worse than it should be: flagged in the report, ✗ in the Evaluate tab."""
        return self.retrieval is False or self.answer is False

    @property
    def passed(self) -> bool | None:
        """True when everything known went right, False when anything went wrong."""
        known = [v for v in (self.retrieval, self.answer) if v is not None]
        return all(known) if known else None


def question_verdict(result: QuestionResult) -> QuestionVerdict:
    evidence = evidence_metric(result.type)
    refusal, wrong_refusal, keys = (
        metric(name).passed(result.score(name))
        for name in ("abstained", "false_refusal", "key_hit")
    )
    answer: bool | None = None
    if False in (refusal, wrong_refusal, keys):
        answer = False
    elif refusal or keys:
        answer = True
    return QuestionVerdict(evidence.passed(result.score(evidence.name)), answer)

"""The question-level scores of an eval run: one registry that the runner, the report,
`rag eval compare` and the UI read, so a metric is named and oriented in one place.

Every row of a run's `results.jsonl` carries `scores`: a flat mapping from the names
below to a number, or None where the metric does not apply to that question (retrieval
metrics on an unanswerable question, key hit without answer keys, judge metrics without
`--judge`). A summary figure is the mean of the non-None values; None values are never
averaged in as zeros.

Run folder (written by `rag.evaluation.runs.save_run`)::

    <run>/summary.json     # set, k, backend, settings, created, duration_s, by_type, overall, ...
    <run>/results.jsonl    # one row per question (see `rag.evaluation.runner.question_row`)
    <run>/report.html      # self-contained report (`rag.evaluation.report`)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any, Literal


def format_number(value: float | None, digits: int = 3, *, signed: bool = False) -> str:
    """How every figure is printed: `0.894`, `+0.050`, `19.6`; `–` for None; never `-0.000`."""
    if value is None:
        return "–"
    value = round(value, digits) + 0.0
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


Group = Literal["retrieval", "answers", "perspectives", "judge", "cost"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    group: Group
    higher_is_better: bool = True
    fraction: bool = True  # a share in [0, 1] (shown to 3 decimals); else ms or tokens
    description: str = ""

    def format(self, value: float | None, *, signed: bool = False) -> str:
        """`0.894` for a share, `19.6` for ms or tokens, `–` for None; never `-0.000`."""
        return format_number(value, 3 if self.fraction else 1, signed=signed)


METRICS: tuple[Metric, ...] = (
    Metric(
        "recall",
        "evidence recall@k",
        "retrieval",
        description="Share of the gold evidence quotes contained in the top-k passages.",
    ),
    Metric(
        "mrr", "MRR", "retrieval", description="1 / rank of the first passage holding evidence."
    ),
    Metric(
        "ndcg@10",
        "nDCG@10",
        "retrieval",
        description="Binary-gain nDCG over the first 10 passages, each evidence item once.",
    ),
    Metric(
        "doc_coverage",
        "gold-document coverage@k",
        "retrieval",
        description="Share of the gold documents with a passage in the top k.",
    ),
    Metric(
        "author_coverage",
        "author coverage@k",
        "retrieval",
        description="Share of the gold authors with a passage in the top k "
        "(comparative questions only).",
    ),
    Metric(
        "key_hit",
        "answer-key hit",
        "answers",
        description="The answer contains every answer key (answerable questions with keys).",
    ),
    Metric(
        "citation_validity",
        "citation validity",
        "answers",
        description="Share of citations that point at a given passage and quote it verbatim.",
    ),
    Metric(
        "citation_recall",
        "citation recall",
        "answers",
        description="ALCE: share of claims supported by the union of their cited passages "
        "(lexical support test).",
    ),
    Metric(
        "citation_precision",
        "citation precision",
        "answers",
        description="ALCE: share of citations that are not irrelevant to their claim.",
    ),
    Metric(
        "quote_verbatim",
        "verbatim quotes",
        "answers",
        description="Share of quoted spans in the answer found word for word in a cited passage.",
    ),
    Metric(
        "abstained",
        "abstention (unanswerable)",
        "answers",
        description="The answer says the documents do not answer (unanswerable questions).",
    ),
    Metric(
        "false_refusal",
        "false refusal (answerable)",
        "answers",
        higher_is_better=False,
        description="The answer refuses although the documents answer (answerable questions).",
    ),
    Metric(
        "perspective_coverage",
        "perspective coverage",
        "perspectives",
        description="Share of gold authors the comparison reports as addressing the question.",
    ),
    Metric(
        "attribution",
        "attribution accuracy",
        "perspectives",
        description="Share of comparison quotes verbatim at their span, by the author named.",
    ),
    Metric(
        "faithfulness",
        "faithfulness (judge)",
        "judge",
        description="RAGAS: share of the answer's claims the judge finds inferable from the "
        "passages.",
    ),
    Metric(
        "answer_relevance",
        "answer relevance (judge)",
        "judge",
        description="RAGAS: mean cosine between the question and questions the judge "
        "generates from the answer.",
    ),
    Metric(
        "retrieval_ms",
        "retrieval ms",
        "cost",
        higher_is_better=False,
        fraction=False,
        description="Wall time of retrieval for the question.",
    ),
    Metric(
        "answer_ms",
        "answer ms",
        "cost",
        higher_is_better=False,
        fraction=False,
        description="Wall time of answering, retrieval excluded.",
    ),
    Metric(
        "prompt_tokens",
        "prompt tokens",
        "cost",
        higher_is_better=False,
        fraction=False,
        description="Prompt tokens reported by the LLM server (None when no LLM was used).",
    ),
    Metric(
        "completion_tokens",
        "completion tokens",
        "cost",
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


def values(rows: Iterable[Mapping[str, Any]], name: str) -> list[float]:
    """The non-None values of one metric over some rows."""
    found = []
    for row in rows:
        value = (row.get("scores") or {}).get(name)
        if value is not None:
            found.append(float(value))
    return found


def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`n` and the mean of every metric that applies to at least one of the rows."""
    figures: dict[str, Any] = {"n": len(rows)}
    for m in METRICS:
        found = values(rows, m.name)
        if found:
            figures[m.name] = round(mean(found), 4 if m.fraction else 2)
            figures[f"n_{m.name}"] = len(found)
    return figures


def percentile(found: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (a value that occurred), None for no values."""
    if not found:
        return None
    ordered = sorted(found)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

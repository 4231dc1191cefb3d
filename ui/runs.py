"""The tables the Evaluate tab shows of saved runs (metrics by type, deltas between two).

The figures come from rag.evaluation.runner and the run folders from
rag.evaluation.runs; this module only lays them out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rag.evaluation.compare import RunComparison
from rag.evaluation.runner import SHORT_LABELS
from rag.evaluation.scores import BY_NAME

# The columns of the Evaluate tab's table (the run's report.html has every metric).
TABLE_METRICS = ("recall", "mrr", "key_hit", "citation_recall", "abstained", "false_refusal")
DELTA_HEADERS = ["scope", "metric", "n", "A", "B", "B − A", "95% interval", "verdict"]


def metric_headers(k: int) -> list[str]:
    return ["type", "n", *(SHORT_LABELS[m].replace("@k", f"@{k}") for m in TABLE_METRICS)]


def metric_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    """One row per question type, then `overall` (figures to three decimals, – if absent)."""
    rows = []
    for name, figures in [*summary["by_type"].items(), ("overall", summary["overall"])]:
        if not figures.get("n"):
            continue
        shown = [BY_NAME[m].format(figures.get(m)) for m in TABLE_METRICS]
        rows.append([name, figures["n"], *shown])
    return rows


def recall_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": name, "recall": figures["recall"]}
        for name, figures in summary["by_type"].items()
        if "recall" in figures
    ]


def delta_rows(comparison: RunComparison) -> list[list[Any]]:
    """One row per metric and scope: the paired means, the delta and its bootstrap interval."""
    scoped = [("overall", d) for d in comparison.metrics]
    scoped += [(t, d) for t, deltas in comparison.by_type.items() for d in deltas]
    rows = []
    for scope, d in scoped:
        if d.delta is None:
            continue
        show = d.metric.format
        interval = (
            f"[{show(d.ci.low, signed=True)}, {show(d.ci.high, signed=True)}]"
            if d.ci.low is not None and d.ci.high is not None
            else "–"
        )
        rows.append(
            [
                scope,
                d.metric.name,
                d.n,
                show(d.mean_a),
                show(d.mean_b),
                show(d.delta, signed=True),
                interval,
                d.verdict,
            ]
        )
    return rows

"""The terminal tables of `rag eval`, `rag eval compare` and `rag eval sweep`.

Only the command line prints to a terminal, so only it (and this module) imports `rich`;
labels, number formats and directions come from the metric registry
(`rag.evaluation.scores`), as in the report and the Evaluate tab."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table
from rich.text import Text

from rag.evaluation.compare import (
    MetricDelta,
    Regression,
    RunComparison,
    format_change,
    format_delta,
)
from rag.evaluation.perspectives import perspectives_line
from rag.evaluation.records import QuestionResult, RunSummary
from rag.evaluation.runner import OVERALL_TYPES, answers_line, in_overall_evidence, judge_line
from rag.evaluation.runs import Run
from rag.evaluation.scores import METRICS, metric
from rag.evaluation.sweep import SweepResult
from rag.terminal import printable


def _literal(text: object) -> Text:
    """A cell or title of user-controlled text: no markup parsed, controls escaped."""
    return Text(printable(text))


def summary_table(summary: RunSummary) -> Table:
    """Metrics down, question types across: every figure the run measured, by type."""
    scopes = [*summary.by_type.items(), ("overall", summary.overall)]
    table = Table(
        "metric",
        *(name for name, _ in scopes),
        title=_literal(f"{Path(summary.eval_set).name} · k={summary.k} · {summary.backend}"),
    )
    table.add_row("questions", *(str(f.n) for _, f in scopes))
    group = None
    for m in METRICS:
        if m.group == "cost" or not any(f.mean(m.name) is not None for _, f in scopes):
            continue
        if m.group != group:
            table.add_section()
            group = m.group
        table.add_row(m.short_label(summary.k), *(m.format(f.mean(m.name)) for _, f in scopes))
    own = [
        kind for kind in summary.by_type if kind not in OVERALL_TYPES and in_overall_evidence(kind)
    ]
    counted = " + ".join([*OVERALL_TYPES, *own])
    notes = [f"overall recall, MRR, nDCG = {counted}; other figures: all types"]
    notes += [line for line in (answers_line(summary), perspectives_line(summary)) if line]
    if summary.judge:
        notes.append(judge_line(summary))
    table.caption = "\n".join(notes)
    return table


def missing_evidence_table(rows: Sequence[QuestionResult]) -> Table | None:
    """The questions run without their evidence located (out of recall), or None."""
    missing = [row for row in rows if row.evidence_missing]
    if not missing:
        return None
    table = Table(
        "question",
        "type",
        "reason",
        title=f"Evidence not found in the index: {len(missing)} question(s) run, "
        "left out of recall, MRR, nDCG and coverage",
        caption="make each quote match the document word for word; --strict stops on these",
    )
    for row in missing:
        table.add_row(_literal(row.id), _literal(row.type), _literal(row.evidence_missing))
    return table


_VERDICT_STYLE = {"better": "green", "worse": "red"}


def _fmt(d: MetricDelta, value: float | None) -> str:
    return d.metric.format(value).replace("-", "−")  # a typographic minus


def _run_line(run: Run) -> str:
    s = run.summary
    return f"{run.name} ({s.backend or '?'}, k={s.k if s.k is not None else '?'})"


def comparison_table(comparison: RunComparison) -> Table:
    """Overall rows, then one section per question type when compared by type.

    `comparison.notices` are not in the table: the caller shows them (the CLI on stderr)."""
    scoped = bool(comparison.by_type)
    columns = ["metric", "n", "A", "B", f"Δ B−A [{comparison.confidence:.0%} CI]", "verdict"]
    table = Table(
        *(["scope", *columns] if scoped else columns),
        title=_literal(f"A = {_run_line(comparison.a)}   B = {_run_line(comparison.b)}"),
        caption=(
            f"* the {comparison.confidence:.0%} paired bootstrap interval "
            f"({comparison.n_resamples} resamples) excludes 0; means over the questions "
            "scored in both runs"
        ),
    )
    for column in table.columns[(2 if scoped else 1) :]:
        column.justify = "right"
    table.columns[-1].justify = "left"

    def add(scope: str, d: MetricDelta) -> None:
        cells: list[str | Text] = [
            d.metric.name,
            str(d.n),
            _fmt(d, d.mean_a),
            _fmt(d, d.mean_b),
            format_delta(d),
            Text(d.verdict, style=_VERDICT_STYLE.get(d.verdict, "dim")),
        ]
        table.add_row(*([scope, *cells] if scoped else cells))

    for d in comparison.metrics:
        add("overall", d)
    for type_name, deltas in comparison.by_type.items():
        table.add_section()
        for d in deltas:
            add(type_name, d)
    return table


def regressions_table(found: Sequence[Regression], *, limit: int | None = None) -> Table:
    shown = found if limit is None else found[:limit]
    table = Table(
        "id",
        "type",
        "question",
        "worse on (A → B)",
        title=f"{len(found)} question(s) got worse",
        caption=(f"showing the {len(shown)} most severe" if len(shown) < len(found) else None),
    )
    for r in shown:
        table.add_row(
            _literal(r.id),
            _literal(r.type),
            _literal(_shorten(r.question, 70)),
            "; ".join(format_change(c) for c in r.changes),
        )
    return table


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def sweep_table(result: SweepResult, shown: Sequence[str] = ("recall", "mrr", "key_hit")) -> Table:
    names = list(result.rows[0].config) if result.rows else []
    extra = [metric(name) for name in shown if name != result.metric]
    ranked = metric(result.metric)
    table = Table(
        "#",
        *names,
        f"{ranked.name} ▼" if ranked.higher_is_better else f"{ranked.name} ▲",
        *(m.name for m in extra),
        "chunks",
        title=f"Sweep ranked by overall {ranked.name}",
    )
    for position, row in enumerate(result.rows, 1):
        table.add_row(
            str(position),
            *(_literal(row.config[n]) for n in names),
            ranked.format(row.score),
            *(m.format(row.figures.mean(m.name)) for m in extra),
            str(row.chunks),
            style="bold" if position == 1 and row.score is not None else None,
        )
    return table

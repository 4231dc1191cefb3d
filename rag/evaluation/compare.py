"""`rag eval compare RUN_A RUN_B`: did B change anything, and is the change more than noise?

Questions are paired by id. For every metric (see `rag.evaluation.scores.METRICS`) the
comparison uses only the questions scored in *both* runs (a None score means "does not
apply" and is skipped, never counted as 0), so `mean_a`, `mean_b` and `delta = mean_b -
mean_a` are over the same questions and may differ from the overall figures in each run's
`summary.json`.

Uncertainty comes from a paired percentile bootstrap: the question indices are resampled
with replacement, jointly for A and B, and the mean difference recomputed each time
(`scipy.stats.bootstrap(..., paired=True, method="percentile")`; scipy comes with
sentence-transformers). A change is *significant* when its interval excludes 0, and
*better* / *worse* when it is significant and B's mean is good / bad against A's
(`Metric.verdict` with A as the floor). With one paired question there is no interval (a
bootstrap of one value is a point) and nothing is significant.

`regressions` lists the questions that got worse on at least one metric. Quality metrics
count any drop (a rise for lower-is-better ones such as `false_refusal`); cost metrics
(latency, tokens) vary from run to run, so they count only when B is more than 50% above A
(`cost_tolerance`).

Everything here is pure; `rag.evaluation.runs.load_run` reads the run folders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import RunError
from rag.evaluation.records import QuestionResult
from rag.evaluation.runs import Run
from rag.evaluation.scores import BY_NAME, EPSILON, METRICS, Metric

COST_TOLERANCE = 0.5  # a cost metric counts as worse only when B > A * (1 + this)

DeltaVerdict = Literal["better", "worse", "no significant change", "n/a"]


# --- the bootstrap ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeltaCI:
    """Mean paired difference B − A and its percentile bootstrap interval."""

    delta: float | None  # None when no question is paired
    low: float | None  # None when fewer than 2 questions are paired
    high: float | None
    n: int
    confidence: float = 0.95

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        if self.low is None or self.high is None:
            return False
        return self.low > EPSILON or self.high < -EPSILON


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DeltaCI:
    """Mean of b − a with a paired percentile bootstrap interval; deterministic per seed.

    `a[i]` and `b[i]` are the same question in the two runs."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    n = len(a)
    if n == 0:
        return DeltaCI(None, None, None, 0, confidence)
    xa = np.asarray(a, dtype=float)
    xb = np.asarray(b, dtype=float)
    delta = float(np.mean(xb) - np.mean(xa))
    if n == 1:
        return DeltaCI(delta, None, None, 1, confidence)
    diff = xb - xa
    if np.all(diff == diff[0]):  # every resample gives the same mean: a point interval
        return DeltaCI(delta, delta, delta, n, confidence)

    from scipy.stats import bootstrap  # imported here: ~0.3 s, only `eval compare` needs it

    def statistic(x: Any, y: Any, axis: int = -1) -> Any:
        return np.mean(y, axis=axis) - np.mean(x, axis=axis)

    result = bootstrap(
        (xa, xb),
        statistic,
        paired=True,
        vectorized=True,
        method="percentile",
        n_resamples=n_resamples,
        confidence_level=confidence,
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return DeltaCI(delta, float(interval.low), float(interval.high), n, confidence)


# --- comparing runs --------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDelta:
    """One metric over the questions scored in both runs."""

    metric: Metric
    mean_a: float | None
    mean_b: float | None
    ci: DeltaCI

    @property
    def n(self) -> int:
        return self.ci.n

    @property
    def delta(self) -> float | None:
        return self.ci.delta

    @property
    def significant(self) -> bool:
        return self.ci.significant

    @property
    def better(self) -> bool:
        """Significantly better in the metric's direction."""
        return self.significant and self.metric.verdict(self.mean_b, floor=self.mean_a) == "good"

    @property
    def worse(self) -> bool:
        """Significantly worse in the metric's direction."""
        return self.significant and self.metric.verdict(self.mean_b, floor=self.mean_a) == "bad"

    @property
    def verdict(self) -> DeltaVerdict:
        if self.n == 0:
            return "n/a"
        if self.better:
            return "better"
        if self.worse:
            return "worse"
        return "no significant change"

    def to_json(self) -> dict[str, Any]:
        digits = 4 if self.metric.fraction else 2

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "metric": self.metric.name,
            "label": self.metric.label,
            "group": self.metric.group,
            "higher_is_better": self.metric.higher_is_better,
            "n": self.n,
            "mean_a": rounded(self.mean_a),
            "mean_b": rounded(self.mean_b),
            "delta": rounded(self.delta),
            "low": rounded(self.ci.low),
            "high": rounded(self.ci.high),
            "significant": self.significant,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class RunComparison:
    a: Run
    b: Run
    metrics: tuple[MetricDelta, ...]
    by_type: Mapping[str, tuple[MetricDelta, ...]] = field(default_factory=dict)
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()  # things to know before trusting the numbers
    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(d.metric.name for d in self.metrics)

    def to_json(self, regressions: Sequence[Regression] | None = None) -> dict[str, Any]:
        """JSON-ready form of the comparison (and, when given, its regressions) for
        `rag eval compare --json`."""

        def run(run: Run) -> dict[str, Any]:
            s = run.summary
            return {
                "path": str(run.path),
                "set": s.eval_set,
                "k": s.k,
                "backend": s.backend,
                "created": s.created,
                "n": len(run.rows),
            }

        payload: dict[str, Any] = {
            "a": run(self.a),
            "b": run(self.b),
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "only_in_a": list(self.only_in_a),
            "only_in_b": list(self.only_in_b),
            "notices": list(self.notices),
            "metrics": [d.to_json() for d in self.metrics],
            "by_type": {t: [d.to_json() for d in ds] for t, ds in self.by_type.items()},
        }
        if regressions is not None:
            payload["regressions"] = [r.to_json() for r in regressions]
        return payload


def _score(row: QuestionResult, name: str) -> float | None:
    value = row.score(name)
    return None if value is None else float(value)


def _pairs(
    ids: Sequence[str],
    rows_a: Mapping[str, QuestionResult],
    rows_b: Mapping[str, QuestionResult],
    name: str,
) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for qid in ids:
        x, y = _score(rows_a[qid], name), _score(rows_b[qid], name)
        if x is not None and y is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def _metric_delta(
    metric: Metric,
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> MetricDelta:
    ci = paired_bootstrap(xs, ys, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return MetricDelta(
        metric,
        float(np.mean(xs)) if xs else None,
        float(np.mean(ys)) if ys else None,
        ci,
    )


def _resolve_metrics(metrics: Sequence[str] | None) -> tuple[tuple[Metric, ...], bool]:
    """The metrics to compare and whether the caller named them (then n=0 ones are kept)."""
    if metrics is None:
        return METRICS, False
    unknown = [m for m in metrics if m not in BY_NAME]
    if unknown:
        raise RunError(
            f"unknown metric {', '.join(map(repr, unknown))}; known: {', '.join(BY_NAME)}"
        )
    return tuple(BY_NAME[m] for m in dict.fromkeys(metrics)), True


def _notices(
    a: Run, b: Run, common: Sequence[str], only_a: Sequence[str], only_b: Sequence[str]
) -> list[str]:
    notes: list[str] = []
    set_a, set_b = a.summary.eval_set, b.summary.eval_set
    if set_a != set_b and Path(set_a) != Path(set_b):
        notes.append(f"different eval sets: A used {set_a}, B used {set_b}")
    k_a, k_b = a.summary.k, b.summary.k
    if k_a != k_b:
        notes.append(f"different k: A used k={k_a}, B used k={k_b} (retrieval metrics @k differ)")
    if only_a:
        notes.append(f"{len(only_a)} question(s) only in A, left out: {_ids_line(only_a)}")
    if only_b:
        notes.append(f"{len(only_b)} question(s) only in B, left out: {_ids_line(only_b)}")
    rows_a, rows_b = a.by_id(), b.by_id()
    changed = [
        qid
        for qid in common
        if rows_a[qid].question
        and rows_b[qid].question
        and rows_a[qid].question != rows_b[qid].question
    ]
    if changed:
        notes.append(
            f"{len(changed)} question(s) have the same id but a different text (the eval set "
            f"changed between runs): {_ids_line(changed)}"
        )
    if not common:
        notes.append("the runs share no question id: nothing to compare")
    return notes


def _ids_line(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def compare_runs(
    a: Run,
    b: Run,
    *,
    metrics: Sequence[str] | None = None,
    by_type: bool = False,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RunComparison:
    """Per-metric B − A deltas with paired bootstrap intervals (and per question type).

    Without `metrics`, every registered metric scored on at least one question in both runs;
    named metrics are kept overall even when no question pairs (their delta is then None).
    The per-type breakdown holds the metrics scored on that type only."""
    chosen, named = _resolve_metrics(metrics)
    rows_a, rows_b = a.by_id(), b.by_id()
    common = [qid for qid in rows_a if qid in rows_b]  # A's order
    only_a = tuple(qid for qid in rows_a if qid not in rows_b)
    only_b = tuple(qid for qid in rows_b if qid not in rows_a)

    def deltas(ids: Sequence[str], *, keep_named: bool) -> tuple[MetricDelta, ...]:
        found = []
        for m in chosen:
            xs, ys = _pairs(ids, rows_a, rows_b, m.name)
            if xs or keep_named:
                found.append(
                    _metric_delta(
                        m, xs, ys, n_resamples=n_resamples, confidence=confidence, seed=seed
                    )
                )
        return tuple(found)

    overall = deltas(common, keep_named=named)
    types: dict[str, tuple[MetricDelta, ...]] = {}
    if by_type:
        grouped: dict[str, list[str]] = {}
        for qid in common:
            grouped.setdefault(rows_a[qid].type or "untyped", []).append(qid)
        types = {t: deltas(ids, keep_named=False) for t, ids in sorted(grouped.items())}
    return RunComparison(
        a=a,
        b=b,
        metrics=overall,
        by_type=types,
        only_in_a=only_a,
        only_in_b=only_b,
        notices=tuple(_notices(a, b, common, only_a, only_b)),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


# --- questions that got worse ----------------------------------------------------------


@dataclass(frozen=True)
class MetricChange:
    metric: Metric
    before: float
    after: float

    @property
    def drop(self) -> float:
        """How much worse, > 0: absolute for quality metrics, relative (0.5 = +50%) for cost."""
        if self.metric.group == "cost":
            base = abs(self.before)
            return math.inf if base == 0 else (self.after - self.before) / base
        change = self.after - self.before
        return -change if self.metric.higher_is_better else change

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric.name, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Regression:
    """A question that got worse in B on at least one metric."""

    id: str
    type: str
    question: str
    changes: tuple[MetricChange, ...]  # the metrics on which it got worse

    @property
    def n_worse(self) -> int:
        return len(self.changes)

    def severity(self) -> tuple[int, float, float]:
        """More metrics worse first, then the biggest quality drop, then the biggest cost rise."""
        quality = [c.drop for c in self.changes if c.metric.group != "cost"]
        cost = [c.drop for c in self.changes if c.metric.group == "cost"]
        return (self.n_worse, max(quality, default=0.0), max(cost, default=0.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "question": self.question,
            "worse": [c.to_json() for c in self.changes],
        }


def got_worse(metric: Metric, before: float, after: float, *, cost_tolerance: float = 0.5) -> bool:
    """Quality: any move in the bad direction. Cost: B worse than A by more than
    `cost_tolerance` (a share of A)."""
    floor = before
    if metric.group == "cost":
        floor = before * (1 - cost_tolerance if metric.higher_is_better else 1 + cost_tolerance)
    return metric.verdict(after, floor=floor) == "bad"


def regressions(
    a: RunComparison | Run,
    b: Run | None = None,
    *,
    metrics: Sequence[str] | None = None,
    cost_tolerance: float = COST_TOLERANCE,
) -> list[Regression]:
    """The questions of both runs that got worse in B, most severe first.

    Call with a comparison (its metrics are the default, so `--metric` carries over) or
    with the two runs (every registered metric). A question counts on a metric only where
    both runs scored it. Cost metrics are left out unless named in `metrics`: one
    question's milliseconds are mostly scheduling noise; the run-level delta with its
    interval is the figure to read for them."""
    if isinstance(a, RunComparison):
        if b is not None:
            raise TypeError("regressions(comparison) or regressions(run_a, run_b), not both")
        run_a, run_b = a.a, a.b
        default = tuple(d.metric for d in a.metrics if d.metric.group != "cost")
    else:
        if b is None:
            raise TypeError("regressions(run_a, run_b) needs both runs")
        run_a, run_b = a, b
        default = tuple(m for m in METRICS if m.group != "cost")
    chosen = _resolve_metrics(metrics)[0] if metrics is not None else default
    rows_a, rows_b = run_a.by_id(), run_b.by_id()
    found: list[Regression] = []
    for qid, row_a in rows_a.items():
        row_b = rows_b.get(qid)
        if row_b is None:
            continue
        changes = []
        for m in chosen:
            x, y = _score(row_a, m.name), _score(row_b, m.name)
            if (
                x is not None
                and y is not None
                and got_worse(m, x, y, cost_tolerance=cost_tolerance)
            ):
                changes.append(MetricChange(m, x, y))
        if changes:
            found.append(
                Regression(
                    id=qid,
                    type=row_a.type or row_b.type,
                    question=row_b.question or row_a.question,
                    changes=tuple(changes),
                )
            )
    found.sort(key=lambda r: r.id)
    found.sort(key=Regression.severity, reverse=True)  # stable: ties stay in id order
    return found


# --- output ----------------------------------------------------------------------------


def _fmt(metric: Metric, value: float | None, *, signed: bool = False) -> str:
    return metric.format(value, signed=signed).replace("-", "−")  # a typographic minus


def format_delta(d: MetricDelta) -> str:
    """`+0.050 [−0.010, +0.110]`, with `*` when the interval excludes 0."""
    if d.delta is None:
        return "–"
    text = _fmt(d.metric, d.delta, signed=True)
    if d.ci.low is not None:
        low = _fmt(d.metric, d.ci.low, signed=True)
        high = _fmt(d.metric, d.ci.high, signed=True)
        text += f" [{low}, {high}]"
    return text + (" *" if d.significant else "")


def format_change(c: MetricChange) -> str:
    """`recall 1.000 → 0.500`, with the relative rise for a cost metric."""
    text = f"{c.metric.name} {_fmt(c.metric, c.before)} → {_fmt(c.metric, c.after)}"
    if c.metric.group == "cost" and math.isfinite(c.drop):
        text += f" ({c.drop:+.0%})"
    return text


# The JSON of `rag eval compare --json` (the methods above and MetricDelta.to_json),
# under the names callers import.
comparison_dict = RunComparison.to_json
regression_dict = Regression.to_json

"""The self-contained HTML report of an eval run: one file that opens from `file://` offline.

`render_report(summary, rows)` is pure: a run's `RunSummary` and its `QuestionResult`
rows in, one HTML document out (`rag.evaluation.runs.write_report` renders a saved run
again). Labels, number formats and the good/bad colouring of every figure come from the
metric registry (`rag.evaluation.scores`), so the report and the Evaluate tab agree.

The report holds no external resource (no font, stylesheet, script or image URL): the CSS is
inline, the charts are inline SVG drawn here, and the drill-down uses `<details>`, so it
needs no JavaScript. A Content-Security-Policy meta tag forbids fetching anything. Every
string from the run (questions, passages, answers, judge reasons) is untrusted and escaped
by Jinja's autoescape or by `markupsafe.escape` before any markup is added around it; the
only links to other hosts are `<a href>` to a passage's source URL when it is http(s).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from rag.evaluation.records import (
    AnswerRecord,
    AnswersSummary,
    Figures,
    JudgeRecord,
    JudgeSummary,
    PerspectivesRecord,
    PerspectivesSummary,
    QuestionResult,
    RetrievedRecord,
    RunSummary,
)
from rag.evaluation.scores import (
    BY_NAME,
    METRICS,
    Metric,
    Verdict,
    evidence_metric,
    format_number,
    metric,
    percentile,
    question_verdict,
)
from rag.urls import safe_url

# The per-question badges, in order ("recall" stands for the question type's evidence
# metric: author coverage for a comparative question).
BADGES = ("recall", "key_hit", "citation_recall", "abstained", "false_refusal")
CHART_GROUPS = ("retrieval", "answers")
MISSING = "—"
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


# --------------------------------------------------------------------------- formatting


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def format_figure(key: str, value: object) -> str:
    """A summary figure whose key is not necessarily a metric: counts stay integers."""
    if key in BY_NAME:
        return BY_NAME[key].format(_number(value), missing=MISSING)
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    number = _number(value)
    if number is None:
        return str(value)
    if key.endswith("_ms") or "_ms_" in key:
        return format_number(number, 1)
    return format_number(number, 3 if 0.0 <= number <= 1.0 else 2)


def _plain(value: object) -> str:
    """A free-form value as short text: lists joined, mappings as compact JSON."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format_figure("", value)
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) if value else "none"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _timestamp(value: str) -> str:
    """An ISO timestamp as `2026-11-26 01:00:00` (with its offset, if any); else as given."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.isoformat(sep=" ", timespec="seconds")


def _cell_style(goodness: float | None) -> str:
    """A red-to-green tint for a summary cell (hue 4..140); empty where not a fraction."""
    if goodness is None:
        return ""
    return f"--hue: {round(4 + 136 * goodness**2)}"  # squared: a middling share looks amber


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


# --------------------------------------------------------------------------- text markup


def highlight(text: str, spans: Iterable[Any]) -> Markup:
    """`text` escaped, with each `[start, end)` span wrapped in `<mark>` (overlaps merged)."""
    cleaned: list[tuple[int, int]] = []
    for span in spans:
        try:
            start, end = int(span[0]), int(span[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        start, end = max(0, start), min(len(text), end)
        if start < end:
            cleaned.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(cleaned):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    parts: list[Markup] = []
    position = 0
    for start, end in merged:
        parts.append(escape(text[position:start]))
        parts.append(Markup("<mark>{}</mark>").format(text[start:end]))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def link_citations(text: str, anchors: Mapping[int, str | None]) -> Markup:
    """`text` escaped, each `[n]` (or `[n, m]`) linked to the anchor of the passage cited.

    `anchors` maps the answer's citation numbers to their passage's anchor, or to None when
    the cited passage is not among the retrieved ones (marked as dangling). A bracketed
    number that is no citation of the answer (`[2024]`) is left as it is."""
    parts: list[Markup] = []
    position = 0
    for match in _CITATION.finditer(text):
        parts.append(escape(text[position : match.start()]))
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
        if not any(number in anchors for number in numbers):
            parts.append(escape(match.group(0)))
            position = match.end()
            continue
        links = []
        for number in numbers:
            anchor = anchors.get(number)
            if anchor:
                links.append(Markup('<a class="cite" href="#{}">{}</a>').format(anchor, number))
            elif number not in anchors:
                links.append(Markup(str(number)))
            else:
                links.append(
                    Markup('<span class="cite dangling" title="{}">{}</span>').format(
                        "cites a passage that was not retrieved", number
                    )
                )
        parts.append(Markup("[{}]").format(Markup(", ").join(links)))
        position = match.end()
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


# --------------------------------------------------------------------------- charts


def _svg_number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(m: Metric, series: Sequence[tuple[str, float | None]]) -> Markup:
    """A small horizontal bar chart of one fraction metric, one bar per question type."""
    label_w, bar_w, value_w, row_h, top = 104, 190, 44, 22, 6
    width = label_w + bar_w + value_w
    height = top + row_h * len(series) + 18
    out = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(m.label)} by question type">'
    ]
    for tick in (0.0, 0.5, 1.0):
        x = label_w + bar_w * tick
        out.append(
            f'<line class="grid" x1="{_svg_number(x)}" y1="{top}" x2="{_svg_number(x)}" '
            f'y2="{height - 16}"/>'
            f'<text class="tick" x="{_svg_number(x)}" y="{height - 4}" '
            f'text-anchor="middle">{tick:g}</text>'
        )
    for index, (name, value) in enumerate(series):
        y = top + index * row_h
        label = name if len(name) <= 15 else name[:14] + "…"
        row_class = "overall" if name == "overall" else ""
        out.append(
            f'<text class="label {row_class}" x="{label_w - 6}" y="{y + row_h / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(label)}<title>{escape(name)}</title></text>'
        )
        number = _number(value)
        if number is None:
            out.append(
                f'<text class="value muted" x="{label_w + 4}" y="{y + row_h / 2 + 4:.1f}">'
                "n/a</text>"
            )
            continue
        length = bar_w * min(1.0, max(0.0, number))
        tone = m.verdict(number)
        out.append(
            f'<rect class="bar {tone} {row_class}" x="{label_w}" y="{y + 4}" '
            f'width="{_svg_number(max(length, 1.0))}" height="{row_h - 8}" rx="2">'
            f"<title>{escape(name)}: {m.format(number, missing=MISSING)}</title></rect>"
            f'<text class="value" x="{_svg_number(label_w + bar_w + 4)}" '
            f'y="{y + row_h / 2 + 4:.1f}">{m.format(number, missing=MISSING)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def _short(value: float) -> str:
    """An axis number: `20`, `2.5`, `0.35`, `120000`."""
    value = round(value, 9)
    return f"{value:.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _ms_label(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.2g}"


def _nice_step(span: float, intervals: int) -> float:
    raw = span / max(1, intervals)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _bins(values: Sequence[float]) -> tuple[float, float, float, list[int]]:
    """(start, stop, tick step, counts): ticks at round numbers, a few bins per tick."""
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = max(0.0, lo - 1.0), hi + 1.0
    step = _nice_step(hi - lo, 5)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    if stop <= hi:  # the maximum falls into the last bin, not past it
        stop += step
    intervals = max(1, round((stop - start) / step))
    n_bins = intervals * max(1, round(24 / intervals))
    bin_w = (stop - start) / n_bins
    counts = [0] * n_bins
    for value in values:
        counts[max(0, min(n_bins - 1, int((value - start) / bin_w)))] += 1
    return start, stop, step, counts


def _percentile_marks(
    values: Sequence[float], x_of: Callable[[float], float], right_side: float, axis_y: float
) -> list[str]:
    """The p50 and p95 lines with their labels (on the left of a line near the right)."""
    marks = []
    for row, (name, q) in enumerate((("p50", 0.5), ("p95", 0.95))):
        mark = percentile(values, q)
        assert mark is not None
        x = x_of(mark)
        label_y = 12 + row * 13
        anchor, dx = ("end", -4) if x > right_side else ("start", 4)
        marks.append(
            f'<line class="marker {name}" x1="{x:.1f}" y1="{label_y + 3}" x2="{x:.1f}" '
            f'y2="{axis_y}"/>'
            f'<text class="marker-label {name}" x="{x + dx:.1f}" y="{label_y + 1}" '
            f'text-anchor="{anchor}">{name} {_ms_label(mark)} ms</text>'
        )
    return marks


def histogram(values: Sequence[float], *, label: str) -> Markup:
    """A latency histogram with p50 and p95 marked; "no data" for an empty series."""
    width, height = 540, 220
    left, right, top, bottom = 44, 16, 36, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    head = (
        f'<svg class="chart histogram" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(label)} histogram">'
    )
    clean = [v for v in (_number(x) for x in values) if v is not None]
    if not clean:
        return Markup(
            f'{head}<text class="nodata" x="{width / 2}" y="{height / 2}" '
            f'text-anchor="middle">no data</text></svg>'
        )
    start, stop, step, counts = _bins(clean)
    peak = max(counts)
    bin_w = (stop - start) / len(counts)

    def x_of(value: float) -> float:
        return left + plot_w * (value - start) / (stop - start)

    def y_of(count: float) -> float:
        return top + plot_h * (1 - count / peak)

    out = [head]
    y_ticks = sorted({0, peak, peak // 2} if peak > 2 else {0, peak})
    for count in y_ticks:
        y = y_of(count)
        out.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{count}</text>'
        )
    for index, count in enumerate(counts):
        if not count:
            continue
        x0, x1 = x_of(start + index * bin_w), x_of(start + (index + 1) * bin_w)
        y = y_of(count)
        lo_ms, hi_ms = start + index * bin_w, start + (index + 1) * bin_w
        out.append(
            f'<rect class="hbar" x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{top + plot_h - y:.1f}"><title>{_short(lo_ms)}–{_short(hi_ms)}'
            f" ms: {count} question{'s' if count != 1 else ''}</title></rect>"
        )
    axis_y = top + plot_h
    out.append(f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}"/>')
    out.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}"/>')
    for index in range(round((stop - start) / step) + 1):
        tick = start + index * step
        x = x_of(tick)
        out.append(
            f'<line class="axis" x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}"/>'
            f'<text class="tick" x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle">'
            f"{_short(tick)}</text>"
        )
    out.append(
        f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{height - 4}" '
        f'text-anchor="middle">{escape(label)} (ms)</text>'
        f'<text class="axis-label" transform="translate(12 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">questions</text>'
    )
    out += _percentile_marks(clean, x_of, left + plot_w * 0.6, axis_y)
    out.append("</svg>")
    return Markup("".join(out))


# --------------------------------------------------------------------------- view model
# What the template shows, in frozen records (Jinja reads their attributes).


@dataclass(frozen=True)
class Badge:
    text: str
    tone: Verdict
    title: str


@dataclass(frozen=True)
class FigureItem:
    key: str
    label: str
    value: str
    tone: Verdict


@dataclass(frozen=True)
class ScoreItem:
    label: str
    description: str
    value: str
    tone: Verdict


@dataclass(frozen=True)
class KeyValue:
    label: str
    value: str


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Setting:
    key: str
    value: str


@dataclass(frozen=True)
class Header:
    title: str
    subtitle: str
    facts: tuple[Fact, ...]
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class Column:
    label: str
    description: str
    lower_better: bool


@dataclass(frozen=True)
class ColumnGroup:
    name: str
    span: int


@dataclass(frozen=True)
class Cell:
    text: str
    title: str
    style: str


@dataclass(frozen=True)
class TableRow:
    name: str
    n: str
    cells: tuple[Cell, ...]
    overall: bool


@dataclass(frozen=True)
class SummaryTable:
    columns: tuple[Column, ...]
    groups: tuple[ColumnGroup, ...]
    rows: tuple[TableRow, ...]


@dataclass(frozen=True)
class Block:
    title: str
    figures: tuple[FigureItem, ...]


@dataclass(frozen=True)
class BarChart:
    label: str
    description: str
    lower_better: bool
    svg: Markup


@dataclass(frozen=True)
class LatencyChart:
    label: str
    n: int
    p50: str
    p95: str
    svg: Markup


@dataclass(frozen=True)
class Charts:
    bars: tuple[BarChart, ...]
    latency: tuple[LatencyChart, ...]


@dataclass(frozen=True)
class PassageView:
    anchor: str
    rank: str
    chunk_id: str
    title: str
    author: str | None
    url: str | None
    url_text: str | None
    score: str
    gold: bool
    beyond_k: bool
    html: Markup


@dataclass(frozen=True)
class CitationView:
    n: int
    chunk_id: str
    anchor: str | None
    quote: str | None


@dataclass(frozen=True)
class ClaimView:
    text: str
    score: str
    cited: Markup
    irrelevant: str
    supported: str
    tone: Verdict


@dataclass(frozen=True)
class AnswerView:
    html: Markup
    refused: bool
    backend: str | None
    notice: str | None
    citations: tuple[CitationView, ...]
    claims: tuple[ClaimView, ...]


@dataclass(frozen=True)
class JudgeClaimView:
    claim: str
    reason: str
    verdict: str
    tone: Verdict


@dataclass(frozen=True)
class JudgeView:
    figures: tuple[FigureItem, ...]
    claims: tuple[JudgeClaimView, ...]
    lists: tuple[KeyValue, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceView:
    quote: str
    doc_id: str


@dataclass(frozen=True)
class QuestionView:
    id: str
    anchor: str
    type: str
    question: str
    weak: bool
    badges: tuple[Badge, ...]
    scores: tuple[ScoreItem, ...]
    evidence: tuple[EvidenceView, ...]
    passages: tuple[PassageView, ...]
    answer: AnswerView | None
    perspectives: tuple[KeyValue, ...] | None
    judge: JudgeView | None
    errors: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    type: str
    anchor: str
    questions: tuple[QuestionView, ...]
    weak: int


Shown = AnswersSummary | PerspectivesSummary | JudgeSummary | JudgeRecord | PerspectivesRecord


def _fields(record: Shown) -> list[tuple[str, object]]:
    return [(f.name, getattr(record, f.name)) for f in fields(record)]


def _badges(result: QuestionResult, k: int | None) -> tuple[Badge, ...]:
    badges = []
    for name in BADGES:
        m = evidence_metric(result.type) if name == "recall" else metric(name)
        value = result.score(m.name)
        if value is None:
            continue
        label = m.short_label(k)
        if name in ("key_hit", "abstained"):
            text = f"{label} {'✓' if m.passed(value) else '✗'}"
        elif name == "false_refusal":
            if m.passed(value):
                continue  # the normal case: no badge for "did not refuse"
            text = label
        else:
            text = f"{label} {m.format(value, missing=MISSING)}"
        badges.append(Badge(text, m.verdict(value), m.label))
    return tuple(badges)


def _figure_items(record: Shown) -> tuple[FigureItem, ...]:
    """The scalar fields of a summary block (lists and mappings skipped)."""
    items = []
    for key, value in _fields(record):
        if isinstance(value, Mapping | list | tuple):
            continue
        m = BY_NAME.get(key)
        items.append(
            FigureItem(
                key=key,
                label=m.label if m else key.replace("_", " "),
                value=format_figure(key, value),
                tone=m.verdict(_number(value)) if m else "neutral",
            )
        )
    return tuple(items)


def _summary_table(summary: RunSummary) -> SummaryTable:
    named: list[tuple[str, Figures]] = [*summary.by_type.items(), ("overall", summary.overall)]
    columns = [m for m in METRICS if any(f.mean(m.name) is not None for _, f in named)]
    rows = []
    for name, figures in named:
        cells = []
        for m in columns:
            value, count = figures.mean(m.name), figures.count(m.name)
            cells.append(
                Cell(
                    text=m.format(value, missing=MISSING),
                    title=f"n = {count}" if count is not None else m.label,
                    style=_cell_style(m.goodness(value)),
                )
            )
        rows.append(TableRow(name, str(figures.n), tuple(cells), name == "overall"))
    return SummaryTable(
        columns=tuple(Column(m.label, m.description, not m.higher_is_better) for m in columns),
        groups=tuple(
            ColumnGroup(group, len(list(members)))
            for group, members in itertools.groupby(columns, key=lambda m: m.group)
        ),
        rows=tuple(rows),
    )


def _charts(summary: RunSummary, rows: Sequence[QuestionResult]) -> Charts:
    series = [*summary.by_type.items(), ("overall", summary.overall)]
    bars = []
    for m in METRICS:
        if m.group not in CHART_GROUPS or not m.fraction:
            continue
        points = [(name, figures.mean(m.name)) for name, figures in series]
        if all(value is None for _, value in points):
            continue
        bars.append(BarChart(m.label, m.description, not m.higher_is_better, bar_chart(m, points)))
    latency = []
    for name, label in (("retrieval_ms", "retrieval"), ("answer_ms", "answer")):
        found = [v for r in rows if (v := _number(r.score(name))) is not None]
        m = metric(name)
        latency.append(
            LatencyChart(
                label=f"{label} time",
                n=len(found),
                p50=m.format(percentile(found, 0.5), missing=MISSING),
                p95=m.format(percentile(found, 0.95), missing=MISSING),
                svg=histogram(found, label=f"{label} time"),
            )
        )
    return Charts(tuple(bars), tuple(latency))


def _passage(item: RetrievedRecord, anchor: str, k: int | None) -> PassageView:
    return PassageView(
        anchor=anchor,
        rank=str(item.rank),
        chunk_id=_plain(item.chunk_id),
        title=item.title or item.doc_id or "untitled",
        author=item.author or None,
        url=safe_url(item.url),
        url_text=item.url or None,
        score=f"{item.score:.3f}" if item.score is not None else MISSING,
        gold=bool(item.gold),
        beyond_k=k is not None and item.rank > k,
        html=highlight(item.text, item.gold),
    )


def _answer(answer: AnswerRecord, by_chunk: Mapping[str, str]) -> AnswerView:
    anchors: dict[int, str | None] = {}
    citations = []
    for citation in answer.citations:
        target = by_chunk.get(citation.chunk_id)
        anchors[citation.n] = target
        citations.append(
            CitationView(citation.n, _plain(citation.chunk_id), target, citation.quote or None)
        )
    claims = tuple(
        ClaimView(
            text=claim.text,
            score=f"{claim.score:.2f}" if claim.score is not None else "",
            cited=link_citations(" ".join(f"[{n}]" for n in claim.cited), anchors)
            if claim.cited
            else Markup(MISSING),
            irrelevant=", ".join(str(n) for n in claim.irrelevant),
            supported=MISSING if claim.supported is None else ("✓" if claim.supported else "✗"),
            tone="neutral" if claim.supported is None else ("good" if claim.supported else "bad"),
        )
        for claim in answer.claims
    )
    return AnswerView(
        html=link_citations(answer.text, anchors),
        refused=answer.refused,
        backend=answer.backend or None,
        notice=answer.notice or None,
        citations=tuple(citations),
        claims=claims,
    )


def _judge(judge: JudgeRecord) -> JudgeView:
    return JudgeView(
        figures=_figure_items(judge),
        claims=tuple(
            JudgeClaimView(
                claim.claim,
                claim.reason,
                "✓" if claim.supported else "✗",
                "good" if claim.supported else "bad",
            )
            for claim in judge.claims
        ),
        lists=tuple(
            KeyValue(key.replace("_", " "), _plain(value))
            for key, value in _fields(judge)
            if isinstance(value, tuple) and value and key not in ("claims", "errors")
        ),
        errors=judge.errors,
    )


def _question(row: QuestionResult, taken: set[str], k: int | None) -> QuestionView:
    anchor = _slug("q-" + (row.id or "question"), taken)
    passages: list[PassageView] = []
    by_chunk: dict[str, str] = {}
    for item in sorted(row.retrieved, key=lambda p: p.rank):
        passage_anchor = _slug(f"{anchor}-p{item.rank}", taken)
        passages.append(_passage(item, passage_anchor, k))
        if item.chunk_id:
            by_chunk.setdefault(item.chunk_id, passage_anchor)
    answer = _answer(row.answer, by_chunk) if row.answer else None
    # The runner copies the answer's notice and the judge's errors into `errors` too: each is
    # shown once, where it belongs.
    judge = _judge(row.judge) if row.judge else None
    shown = set(judge.errors) if judge else set()
    if answer and answer.notice:
        shown.add(answer.notice)
    verdict = question_verdict(row)
    return QuestionView(
        id=row.id or "question",
        anchor=anchor,
        type=row.type or "untyped",
        question=row.question,
        weak=verdict.weak,
        badges=_badges(row, k),
        scores=tuple(
            ScoreItem(m.label, m.description, m.format(value, missing=MISSING), m.verdict(value))
            for m in METRICS
            if (value := row.score(m.name)) is not None
        ),
        evidence=tuple(EvidenceView(e.quote, _plain(e.doc_id)) for e in row.evidence),
        passages=tuple(passages),
        answer=answer,
        perspectives=tuple(
            KeyValue(key.replace("_", " "), _plain(value))
            for key, value in _fields(row.perspectives)
        )
        if row.perspectives
        else None,
        judge=judge,
        errors=tuple(e for e in row.errors if e not in shown),
    )


def _sections(summary: RunSummary, rows: Sequence[QuestionResult]) -> tuple[Section, ...]:
    taken: set[str] = set()
    questions = [_question(row, taken, summary.k) for row in rows]
    order = list(summary.by_type)
    for q in questions:
        if q.type not in order:
            order.append(q.type)
    sections = []
    for kind in order:
        members = [q for q in questions if q.type == kind]
        if not members:
            continue
        members.sort(key=lambda q: not q.weak)  # stable: flagged first, else file order
        sections.append(
            Section(
                type=kind,
                anchor=_slug("type-" + kind, taken),
                questions=tuple(members),
                weak=sum(1 for q in members if q.weak),
            )
        )
    return tuple(sections)


def _judge_model(summary: RunSummary) -> str | None:
    if summary.judge and summary.judge.model:
        return summary.judge.model
    model = summary.settings.get("judge_model")
    return str(model) if model else None


def _header(summary: RunSummary, rows: Sequence[QuestionResult]) -> Header:
    facts = [
        Fact("eval set", _plain(summary.eval_set)),
        Fact("k", _plain(summary.k)),
        Fact("backend", _plain(summary.backend)),
        Fact("created", _timestamp(summary.created)),
        Fact("duration", _duration(summary.duration_s)),
        Fact("questions", str(len(rows))),
    ]
    judge_model = _judge_model(summary)
    if judge_model:
        facts.append(Fact("judge model", judge_model))
    latency = summary.latency
    for value, label in (
        (latency.search_p50, "retrieval p50"),
        (latency.search_p95, "retrieval p95"),
        (latency.answer_p50, "answer p50"),
        (latency.answer_p95, "answer p95"),
    ):
        if value is not None:
            facts.append(Fact(label, f"{format_figure('x_ms', value)} ms"))
    subtitle = [
        text
        for text in (_plain(summary.eval_set), _timestamp(summary.created))
        if text and text != MISSING
    ]
    return Header(
        title=f"Eval report — {_plain(summary.eval_set)}",
        subtitle=" · ".join(subtitle),
        facts=tuple(facts),
        settings=tuple(Setting(key, _plain(value)) for key, value in summary.settings.items()),
    )


# --------------------------------------------------------------------------- entry points


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("rag.evaluation", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class MissingEvidence:
    """A question run without its evidence located: listed first, out of recall."""

    id: str
    anchor: str
    type: str
    reason: str


def _missing_evidence(
    rows: Sequence[QuestionResult], sections: Sequence[Section]
) -> tuple[MissingEvidence, ...]:
    anchors = {q.id: q.anchor for section in sections for q in section.questions}
    return tuple(
        MissingEvidence(row.id, anchors.get(row.id, ""), row.type, row.evidence_missing)
        for row in rows
        if row.evidence_missing
    )


def render_report(summary: RunSummary, rows: Sequence[QuestionResult]) -> str:
    """The report of one run as a self-contained HTML document."""
    sections = _sections(summary, rows)
    blocks: list[tuple[str, Shown | None]] = [
        ("Answers", summary.answers),
        ("Perspectives", summary.perspectives),
        ("Judge", summary.judge),
    ]
    extras = [Block(title, _figure_items(record)) for title, record in blocks if record]
    template = _environment().get_template("report.html.j2")
    return template.render(
        header=_header(summary, rows),
        table=_summary_table(summary),
        extras=[e for e in extras if e.figures],
        charts=_charts(summary, rows),
        sections=sections,
        missing=_missing_evidence(rows, sections),
        n_weak=sum(s.weak for s in sections),
    )

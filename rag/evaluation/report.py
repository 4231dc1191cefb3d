"""The self-contained HTML report of an eval run: one file that opens from `file://` offline.

`render_report(summary, rows)` is pure: the run's `summary.json` and the rows of its
`results.jsonl` in, one HTML document out. `write_report(run_dir)` reads those two files
and writes `<run_dir>/report.html` atomically.

The report holds no external resource (no font, stylesheet, script or image URL): the CSS is
inline, the charts are inline SVG drawn here, and the drill-down uses `<details>`, so it
needs no JavaScript. A Content-Security-Policy meta tag forbids fetching anything. Every
string from the run (questions, passages, answers, judge reasons) is untrusted and escaped
by Jinja's autoescape or by `markupsafe.escape` before any markup is added around it; the
only links to other hosts are `<a href>` to a passage's source URL when it is http(s).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from rag.evaluation.scores import BY_NAME, METRICS, Metric, format_number, percentile
from rag.urls import safe_url

# The per-question badges, in order; (metric, label).
BADGES: tuple[tuple[str, str], ...] = (
    ("recall", "recall"),
    ("key_hit", "key hit"),
    ("citation_recall", "cit. recall"),
    ("abstained", "abstained"),
    ("false_refusal", "false refusal"),
)
CHART_GROUPS = ("retrieval", "answers")
EXTRA_BLOCKS = (("answers", "Answers"), ("perspectives", "Perspectives"), ("judge", "Judge"))
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


# --------------------------------------------------------------------------- formatting


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def format_metric(value: Any, m: Metric | None) -> str:
    """`0.894` for a fraction, `19.6` for ms or tokens, `—` for None."""
    number = _number(value)
    if number is None:
        return "—" if value is None else str(value)
    return format_number(number, 3 if m is None or m.fraction else 1)


def format_figure(key: str, value: Any) -> str:
    """A summary figure whose key is not necessarily a metric: counts stay integers."""
    if key in BY_NAME:
        return format_metric(value, BY_NAME[key])
    if value is None:
        return "—"
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


def _plain(value: Any) -> str:
    """A free-form value as short text: lists joined, mappings as compact JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format_figure("", value)
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) if value else "none"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _duration(seconds: Any) -> str:
    number = _number(seconds)
    if number is None:
        return "—"
    if number < 60:
        return f"{number:.1f} s"
    minutes, rest = divmod(round(number), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _timestamp(value: Any) -> str:
    """An ISO timestamp as `2026-11-26 01:00:00` (with its offset, if any); else as given."""
    if not isinstance(value, str):
        return _plain(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.isoformat(sep=" ", timespec="seconds")


def _goodness(value: Any, m: Metric) -> float | None:
    """0 (bad) .. 1 (good) for a fraction metric's value; None where it does not apply."""
    number = _number(value)
    if number is None or not m.fraction:
        return None
    number = min(1.0, max(0.0, number))
    return number if m.higher_is_better else 1.0 - number


def _tone(goodness: float | None) -> str:
    if goodness is None:
        return "neutral"
    if goodness >= 0.999:
        return "good"
    if goodness <= 0.001:
        return "bad"
    return "good" if goodness >= 0.75 else "mid" if goodness >= 0.4 else "bad"


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


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


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


def bar_chart(m: Metric, series: Sequence[tuple[str, Any]]) -> Markup:
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
        tone = _tone(_goodness(number, m))
        out.append(
            f'<rect class="bar {tone} {row_class}" x="{label_w}" y="{y + 4}" '
            f'width="{_svg_number(max(length, 1.0))}" height="{row_h - 8}" rx="2">'
            f"<title>{escape(name)}: {format_metric(number, m)}</title></rect>"
            f'<text class="value" x="{_svg_number(label_w + bar_w + 4)}" '
            f'y="{y + row_h / 2 + 4:.1f}">{format_metric(number, m)}</text>'
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
    lo, hi = min(clean), max(clean)
    if hi - lo < 1e-9:
        lo, hi = max(0.0, lo - 1.0), hi + 1.0
    step = _nice_step(hi - lo, 5)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    if stop <= hi:  # the maximum falls into the last bin, not past it
        stop += step
    intervals = max(1, round((stop - start) / step))
    per_interval = max(1, round(24 / intervals))
    n_bins = intervals * per_interval
    bin_w = (stop - start) / n_bins
    counts = [0] * n_bins
    for value in clean:
        counts[max(0, min(n_bins - 1, int((value - start) / bin_w)))] += 1
    peak = max(counts)

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
    for index in range(intervals + 1):
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
    for row, (name, q) in enumerate((("p50", 0.5), ("p95", 0.95))):
        mark = percentile(clean, q)
        assert mark is not None
        x = x_of(mark)
        label_y = 12 + row * 13
        anchor, dx = ("end", -4) if x > left + plot_w * 0.6 else ("start", 4)
        out.append(
            f'<line class="marker {name}" x1="{x:.1f}" y1="{label_y + 3}" x2="{x:.1f}" '
            f'y2="{axis_y}"/>'
            f'<text class="marker-label {name}" x="{x + dx:.1f}" y="{label_y + 1}" '
            f'text-anchor="{anchor}">{name} {_ms_label(mark)} ms</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


# --------------------------------------------------------------------------- view model


def _is_weak(scores: Mapping[str, Any], question_type: str = "") -> bool:
    """Did this question go worse than it should: evidence missed (for a comparative
    question: an author missed, its quotes being examples), key missed, a false refusal, or
    an answer to an unanswerable question."""

    def value(name: str) -> float | None:
        return _number(scores.get(name))

    evidence = "author_coverage" if question_type == "comparative" else "recall"
    recall, key_hit = value(evidence), value("key_hit")
    false_refusal, abstained = value("false_refusal"), value("abstained")
    return (
        (recall is not None and recall < 0.999)
        or (key_hit is not None and key_hit < 0.5)
        or (false_refusal is not None and false_refusal >= 0.5)
        or (abstained is not None and abstained < 0.5)
    )


def _badges(scores: Mapping[str, Any], question_type: str = "") -> list[dict[str, str]]:
    badges = []
    for name, label in BADGES:
        if name == "recall" and question_type == "comparative":
            name, label = "author_coverage", "authors"  # its quotes are only examples
        number = _number(scores.get(name))
        if number is None:
            continue
        m = BY_NAME[name]
        if name in ("key_hit", "abstained"):
            text = f"{label} {'✓' if number >= 0.5 else '✗'}"
        elif name == "false_refusal":
            if number < 0.5:
                continue  # the normal case: no badge for "did not refuse"
            text = label
        else:
            text = f"{label} {format_metric(number, m)}"
        badges.append({"text": text, "tone": _tone(_goodness(number, m)), "title": m.label})
    return badges


def _figure_items(figures: Any) -> list[dict[str, str]]:
    """The scalar entries of a summary block (nested values skipped)."""
    items = []
    for key, value in _mapping(figures).items():
        if isinstance(value, Mapping | list | tuple):
            continue
        label = BY_NAME[key].label if key in BY_NAME else str(key).replace("_", " ")
        tone = _tone(_goodness(value, BY_NAME[key])) if key in BY_NAME else "neutral"
        items.append(
            {
                "key": str(key),
                "label": label,
                "value": format_figure(str(key), value),
                "tone": tone,
            }
        )
    return items


def _summary_table(summary: Mapping[str, Any]) -> dict[str, Any]:
    by_type = _mapping(summary.get("by_type"))
    named_rows: list[tuple[str, Mapping[str, Any]]] = [
        (str(name), _mapping(figures)) for name, figures in by_type.items()
    ]
    if isinstance(summary.get("overall"), Mapping):
        named_rows.append(("overall", summary["overall"]))
    columns = [m for m in METRICS if any(f.get(m.name) is not None for _, f in named_rows)]
    groups: list[dict[str, Any]] = []
    for m in columns:
        if groups and groups[-1]["name"] == m.group:
            groups[-1]["span"] += 1
        else:
            groups.append({"name": m.group, "span": 1})
    rows = []
    for name, figures in named_rows:
        cells = []
        for m in columns:
            value = figures.get(m.name)
            count = figures.get(f"n_{m.name}")
            title = f"n = {count}" if count is not None else m.label
            cells.append(
                {
                    "text": format_metric(value, m),
                    "title": title,
                    "style": _cell_style(_goodness(value, m)),
                }
            )
        rows.append(
            {
                "name": name,
                "n": _plain(figures.get("n")) if figures.get("n") is not None else "—",
                "cells": cells,
                "overall": name == "overall",
            }
        )
    return {
        "columns": [
            {
                "label": m.label,
                "description": m.description,
                "lower_better": not m.higher_is_better,
            }
            for m in columns
        ],
        "groups": groups,
        "rows": rows,
    }


def _charts(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_type = _mapping(summary.get("by_type"))
    series_names = [str(name) for name in by_type]
    figures = [_mapping(by_type[name]) for name in by_type]
    if isinstance(summary.get("overall"), Mapping):
        series_names.append("overall")
        figures.append(summary["overall"])
    bars = []
    for m in METRICS:
        if m.group not in CHART_GROUPS or not m.fraction:
            continue
        values = [f.get(m.name) for f in figures]
        if all(_number(v) is None for v in values):
            continue
        bars.append(
            {
                "label": m.label,
                "description": m.description,
                "lower_better": not m.higher_is_better,
                "svg": bar_chart(m, list(zip(series_names, values, strict=True))),
            }
        )
    latency = []
    for name, label in (("retrieval_ms", "retrieval"), ("answer_ms", "answer")):
        series = [
            v for v in (_number(_mapping(r.get("scores")).get(name)) for r in rows) if v is not None
        ]
        p50, p95 = percentile(series, 0.5), percentile(series, 0.95)
        latency.append(
            {
                "label": f"{label} time",
                "n": len(series),
                "p50": format_metric(p50, BY_NAME[name]),
                "p95": format_metric(p95, BY_NAME[name]),
                "svg": histogram(series, label=f"{label} time"),
            }
        )
    return {"bars": bars, "latency": latency}


def _passage(item: Mapping[str, Any], anchor: str, k: int | None) -> dict[str, Any]:
    text = str(item.get("text") or "")
    spans = _list(item.get("gold"))
    score = _number(item.get("score"))
    rank = _number(item.get("rank"))
    return {
        "anchor": anchor,
        "rank": _plain(item.get("rank")),
        "chunk_id": _plain(item.get("chunk_id")),
        "title": str(item.get("title") or item.get("doc_id") or "untitled"),
        "author": str(item["author"]) if item.get("author") else None,
        "url": safe_url(item.get("url")),
        "url_text": str(item["url"]) if item.get("url") else None,
        "score": f"{score:.3f}" if score is not None else "—",
        "gold": bool(spans),
        "beyond_k": k is not None and rank is not None and rank > k,
        "html": highlight(text, spans),
    }


def _claims(answer: Mapping[str, Any], anchors: Mapping[int, str | None]) -> list[dict[str, Any]]:
    claims = []
    for claim in _list(answer.get("claims")):
        claim = _mapping(claim)
        cited = [c for c in _list(claim.get("cited")) if isinstance(c, int)]
        irrelevant = [c for c in _list(claim.get("irrelevant")) if isinstance(c, int)]
        supported = claim.get("supported")
        score = _number(claim.get("score"))
        claims.append(
            {
                "text": str(claim.get("text") or ""),
                "score": f"{score:.2f}" if score is not None else "",
                "cited": link_citations(" ".join(f"[{n}]" for n in cited), anchors)
                if cited
                else Markup("—"),
                "irrelevant": ", ".join(str(n) for n in irrelevant) if irrelevant else "",
                "supported": "—" if supported is None else ("✓" if supported else "✗"),
                "tone": "neutral" if supported is None else ("good" if supported else "bad"),
            }
        )
    return claims


def _judge(judge: Any) -> dict[str, Any] | None:
    if not isinstance(judge, Mapping):
        return None
    figures = [
        item
        for item in _figure_items(judge)
        if item["key"] not in ("model",)  # shown in the header
    ]
    claims = []
    for claim in _list(judge.get("claims")):
        claim = _mapping(claim)
        verdict = _number(claim.get("verdict"))
        claims.append(
            {
                "claim": str(claim.get("claim") or ""),
                "reason": str(claim.get("reason") or ""),
                "verdict": "—" if verdict is None else ("✓" if verdict >= 0.5 else "✗"),
                "tone": "neutral" if verdict is None else ("good" if verdict >= 0.5 else "bad"),
            }
        )
    errors = [str(e) for e in _list(judge.get("errors"))]
    lists = [
        {"label": str(key).replace("_", " "), "value": _plain(value)}
        for key, value in judge.items()
        if isinstance(value, list | tuple) and value and key not in ("claims", "errors")
    ]
    return {"figures": figures, "claims": claims, "lists": lists, "errors": errors}


def _question(row: Mapping[str, Any], taken: set[str], k: int | None) -> dict[str, Any]:
    qid = str(row.get("id") or "question")
    anchor = _slug("q-" + qid, taken)
    scores = _mapping(row.get("scores"))
    retrieved = sorted(
        (_mapping(p) for p in _list(row.get("retrieved"))),
        key=lambda p: (_number(p.get("rank")) is None, _number(p.get("rank")) or 0.0),
    )
    passages: list[dict[str, Any]] = []
    by_chunk: dict[str, str] = {}
    for index, item in enumerate(retrieved, 1):
        rank = _number(item.get("rank"))
        passage_anchor = _slug(f"{anchor}-p{int(rank) if rank is not None else index}", taken)
        passages.append(_passage(item, passage_anchor, k))
        chunk_id = item.get("chunk_id")
        if chunk_id is not None:
            by_chunk.setdefault(str(chunk_id), passage_anchor)
    answer_view = None
    answer = row.get("answer")
    if isinstance(answer, Mapping):
        anchors: dict[int, str | None] = {}
        citations = []
        for citation in _list(answer.get("citations")):
            citation = _mapping(citation)
            number = citation.get("n")
            if not isinstance(number, int):
                continue
            target = by_chunk.get(str(citation.get("chunk_id")))
            anchors[number] = target
            citations.append(
                {
                    "n": number,
                    "chunk_id": _plain(citation.get("chunk_id")),
                    "anchor": target,
                    "quote": str(citation["quote"]) if citation.get("quote") else None,
                }
            )
        answer_view = {
            "html": link_citations(str(answer.get("text") or ""), anchors),
            "refused": bool(answer.get("refused")),
            "backend": _plain(answer.get("backend")) if answer.get("backend") else None,
            "notice": str(answer["notice"]) if answer.get("notice") else None,
            "citations": citations,
            "claims": _claims(answer, anchors),
        }
    # The runner copies the answer's notice and the judge's errors into `errors` too: each is
    # shown once, where it belongs.
    judge = _judge(row.get("judge"))
    shown = set(judge["errors"]) if judge else set()
    if answer_view and answer_view["notice"]:
        shown.add(answer_view["notice"])
    errors = [str(e) for e in _list(row.get("errors")) if str(e) not in shown]
    perspectives = row.get("perspectives")
    score_items = []
    for m in METRICS:
        value = scores.get(m.name)
        if value is None:
            continue
        score_items.append(
            {
                "label": m.label,
                "description": m.description,
                "value": format_metric(value, m),
                "tone": _tone(_goodness(value, m)),
            }
        )
    evidence = [
        {"quote": str(e.get("quote") or ""), "doc_id": _plain(e.get("doc_id"))}
        for e in (_mapping(x) for x in _list(row.get("evidence")))
    ]
    return {
        "id": qid,
        "anchor": anchor,
        "type": str(row.get("type") or "untyped"),
        "question": str(row.get("question") or ""),
        "weak": _is_weak(scores, str(row.get("type") or "")),
        "badges": _badges(scores, str(row.get("type") or "")),
        "scores": score_items,
        "evidence": evidence,
        "passages": passages,
        "answer": answer_view,
        "perspectives": [
            {"label": str(k).replace("_", " "), "value": _plain(v)} for k, v in perspectives.items()
        ]
        if isinstance(perspectives, Mapping)
        else None,
        "judge": judge,
        "errors": errors,
    }


def _sections(
    summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    taken: set[str] = set()
    k = summary.get("k")
    questions = [_question(row, taken, k if isinstance(k, int) else None) for row in rows]
    order = [str(t) for t in _mapping(summary.get("by_type"))]
    for q in questions:
        if q["type"] not in order:
            order.append(q["type"])
    sections = []
    for kind in order:
        members = [q for q in questions if q["type"] == kind]
        if not members:
            continue
        members.sort(key=lambda q: not q["weak"])  # stable: flagged first, else file order
        sections.append(
            {
                "type": kind,
                "anchor": _slug("type-" + kind, taken),
                "questions": members,
                "weak": sum(1 for q in members if q["weak"]),
            }
        )
    return sections


def _judge_model(summary: Mapping[str, Any]) -> str | None:
    settings = _mapping(summary.get("settings"))
    for value in (
        summary.get("judge_model"),
        _mapping(summary.get("judge")).get("model"),
        settings.get("judge_model"),
    ):
        if value:
            return str(value)
    return None


def _header(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    latency = _mapping(summary.get("latency_ms"))
    facts = [
        ("eval set", _plain(summary.get("set"))),
        ("k", _plain(summary.get("k"))),
        ("backend", _plain(summary.get("backend"))),
        ("created", _timestamp(summary.get("created"))),
        ("duration", _duration(summary.get("duration_s"))),
        ("questions", str(len(rows))),
    ]
    judge_model = _judge_model(summary)
    if judge_model:
        facts.append(("judge model", judge_model))
    for key, label in (
        ("search_p50", "retrieval p50"),
        ("search_p95", "retrieval p95"),
        ("answer_p50", "answer p50"),
        ("answer_p95", "answer p95"),
    ):
        if _number(latency.get(key)) is not None:
            facts.append((label, f"{format_figure('x_ms', latency[key])} ms"))
    settings = [
        {"key": str(k), "value": _plain(v)} for k, v in _mapping(summary.get("settings")).items()
    ]
    return {
        "title": f"Eval report — {_plain(summary.get('set'))}",
        "subtitle": " · ".join(
            _plain(summary.get("set")) if key == "set" else _timestamp(summary.get(key))
            for key in ("set", "created")
            if summary.get(key)
        ),
        "facts": [{"label": label, "value": value} for label, value in facts],
        "settings": settings,
    }


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


def render_report(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """The report of one run as a self-contained HTML document."""
    sections = _sections(summary, rows)
    extras = [
        {"title": title, "figures": _figure_items(summary.get(key))}
        for key, title in EXTRA_BLOCKS
        if isinstance(summary.get(key), Mapping)
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        header=_header(summary, rows),
        table=_summary_table(summary),
        extras=[e for e in extras if e["figures"]],
        charts=_charts(summary, rows),
        sections=sections,
        n_weak=sum(s["weak"] for s in sections),
    )

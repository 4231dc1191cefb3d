"""HTML and chat-message views of the typed records, for the Gradio app.

Pure functions: records in, strings out. Every piece of document, question or model text
goes through `esc` (HTML) or `md_text` (chat Markdown) so nothing a document contains can
become markup: no tags, no images, no template placeholders. Links are built here, from
metadata URLs that pass `safe_url` (http/https only).
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from rag.evaluation.records import QuestionResult
from rag.evaluation.scores import METRICS, evidence_metric, question_verdict
from rag.plaintext import plain, plain_markdown
from rag.types import Answer, Comparison, Passage, Perspective, Point, Quote
from rag.urls import safe_url

# `[3]` and `[1, 4]` (what the answerers write) in answer text.
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Characters that Markdown (and the chatbot's extensions) may treat as syntax anywhere;
# list markers only matter at the start of a line, `:` only in `scheme://` autolinks.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~$<>])")
_MD_LINE_START = re.compile(r"^(\s*(?:\d+)?)([-+=.)])", re.MULTILINE)
_MD_AUTOLINK = re.compile(r":(?=//)")
_HEADING = re.compile(r"^#{1,6}\s+", re.MULTILINE)


def esc(text: object) -> str:
    """HTML-escape text, and neutralise `{`, `}` and `$` (gr.HTML templates use them)."""
    escaped = html.escape("" if text is None else str(text), quote=True)
    return escaped.replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;")


def md_text(text: str) -> str:
    """Text shown verbatim inside chat Markdown: no markup, links or images survive."""
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    text = _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    return _MD_AUTOLINK.sub("\\:", text)


def external_link(url: str | None, label: str, css: str = "ext") -> str:
    target = safe_url(url)
    if target is None:
        return ""
    return (
        f'<a class="{css}" href="{esc(target)}" target="_blank" '
        f'rel="noopener noreferrer nofollow">{esc(label)}</a>'
    )


def quote_url(url: str | None, quote_text: str) -> str | None:
    """The original URL with a text fragment that makes the browser scroll to the quote."""
    target = safe_url(url)
    if target is None:
        return None
    words = quote_text.split()
    if not words:
        return target
    if len(words) <= 8:
        fragment = quote(" ".join(words), safe="")
    else:
        fragment = f"{quote(' '.join(words[:4]), safe='')},{quote(' '.join(words[-4:]), safe='')}"
    return f"{target.split('#', 1)[0]}#:~:text={fragment}"


def author_of(meta: Any) -> str:
    return meta.author or "Unknown author"


def byline(meta: Any) -> str:
    """'Outlet · 2025-08-10' (what is known of it)."""
    parts = [p for p in (meta.outlet, meta.date) if p]
    return " · ".join(parts)


# ---------------------------------------------------------------- passages


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlighted(text: str, quotes: Sequence[str]) -> str:
    """Markdown source as escaped plain text (`rag.plaintext`), each quoted sentence wrapped
    in <mark>: quotes are located in the source, so the marks cover exactly their words."""
    spans = []
    for q in quotes:
        q = q.strip()
        start = text.find(q) if q else -1
        if start >= 0:
            spans.append((start, start + len(q)))
    return "".join(
        f"<mark>{esc(run)}</mark>" if inside else esc(run)
        for run, inside in plain_markdown(text).marked(_merge(spans))
    )


def passage_body(text: str, quotes: Sequence[str] = ()) -> str:
    """A passage as readable HTML: a leading `### heading` becomes a heading line, the rest
    is shown as plain text, the cited sentences are highlighted."""
    heading = ""
    first, sep, rest = text.partition("\n")
    if _HEADING.match(first) and sep:
        heading = f'<div class="passage-heading">{esc(plain(first))}</div>'
        text = rest
    return f'{heading}<div class="passage">{highlighted(text, quotes)}</div>'


def source_card(
    passage: Passage,
    number: int,
    *,
    card_id: str,
    quotes: Sequence[str] = (),
    cited: bool = True,
) -> str:
    meta = passage.meta
    title = meta.title or passage.chunk.doc_id
    link = external_link(meta.url, "Open original ↗") or '<span class="muted">no link</span>'
    parts = [esc(author_of(meta))]
    if meta.outlet:
        parts.append(esc(meta.outlet))
    if meta.date:
        parts.append(f'<span class="nowrap">{esc(meta.date)}</span>')
    meta_line = " · ".join(parts)
    classes = "source-card" + ("" if cited else " uncited")
    return (
        f'<article class="{classes}" id="{esc(card_id)}" data-n="{number}" '
        f'data-doc="{esc(passage.chunk.doc_id)}">'
        f'<header class="card-head"><span class="num">{number}</span>'
        f'<div class="card-titles"><div class="card-title">{esc(title)}</div>'
        f'<div class="card-meta">{meta_line}</div></div></header>'
        f"{passage_body(passage.chunk.text, quotes)}"
        f'<footer class="card-foot"><span class="score" title="fused retrieval score">'
        f"relevance {passage.score:.2f}</span>{link}</footer>"
        "</article>"
    )


# ---------------------------------------------------------------- the Ask tab


@dataclass
class Turn:
    """One question and its answer in a chat session (what the UI keeps per turn)."""

    question: str
    answer: Answer | None = None
    error: str | None = None


@dataclass
class ChatSession:
    """Per-browser-session state: the Conversation lives beside the displayed turns."""

    conversation: Any = None  # rag.conversation.Conversation
    turns: list[Turn] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # its key in the saved history


def card_prefix(turn_index: int, turn_count: int) -> str:
    """Card ids: `source-n` for the newest answer, `source-t{turn}-n` for earlier ones."""
    return "source-" if turn_index == turn_count - 1 else f"source-t{turn_index + 1}-"


def quotes_by_number(answer: Answer) -> dict[int, list[str]]:
    quotes: dict[int, list[str]] = {}
    for c in answer.citations:
        entry = quotes.setdefault(c.n, [])
        if c.quote and c.quote not in entry:
            entry.append(c.quote)
    return quotes


def reference_line(n: int, passage: Passage) -> str:
    """`[1] Title — Author, Outlet, date, URL`: a reference as plain text (what is known)."""
    meta = passage.meta
    title = meta.title or passage.chunk.doc_id
    rest = ", ".join(p for p in (meta.author, meta.outlet, meta.date, safe_url(meta.url)) if p)
    return f"[{n}] {title} — {rest}" if rest else f"[{n}] {title}"


def cited_numbers(answer: Answer) -> list[int]:
    """The source numbers the answer text cites, ascending, each once (valid ones only)."""
    found = {int(n) for m in _CITE.finditer(answer.text) for n in m.group(1).split(",")}
    return sorted(n for n in found if 1 <= n <= len(answer.passages))


def answer_plain_text(answer: Answer) -> str:
    """The answer as a reader copies it: plain text with its `[n]` markers, then the list
    of the references they point to. No markup, no Markdown escapes; the app's notes
    around it (how a follow-up was understood, what was removed) are not copied."""
    if answer.refused:
        return f"No answer in the documents. {answer.text}".strip()
    lines = [answer.text.strip()]
    numbers = cited_numbers(answer)
    if numbers:
        refs = [reference_line(n, answer.passages[n - 1]) for n in numbers]
        lines.append("References\n" + "\n".join(refs))
    return "\n\n".join(lines)


# Characters a Markdown renderer could read as syntax even inside an attribute value are
# written as character references: the browser decodes them, the renderer never sees them.
_ATTR_ENTITIES = {c: f"&#{ord(c)};" for c in "\n\r[]()!*_`~|\\<>#"}


def attr_text(text: str) -> str:
    """Text for an HTML attribute inside chat Markdown, exactly as given once decoded."""
    return "".join(_ATTR_ENTITIES.get(c, c) for c in esc(text))


def copy_text_span(answer: Answer) -> str:
    """A hidden carrier of the answer's plain text: app.js puts it on the clipboard when
    "Copy message" is clicked, and uses it as the message's accessible label (Gradio's own
    copy and label take the Markdown source, links and escapes included). Data attributes
    do not survive the chatbot's sanitizer; `title` does."""
    return f'<span class="copy-text" hidden title="{attr_text(answer_plain_text(answer))}"></span>'


def _cite_links(numbers: str, answer: Answer, prefix: str) -> str:
    links = []
    for raw in numbers.split(","):
        n = int(raw)
        if 1 <= n <= len(answer.passages):
            meta = answer.passages[n - 1].meta
            tip = esc(f"Source {n}: {author_of(meta)} — {meta.title or ''}".strip(" —"))
            links.append(f'<a class="cite" href="#{prefix}{n}" title="{tip}">[{n}]</a>')
        else:
            links.append(md_text(f"[{n}]"))
    return "".join(links)


def sources_link(answer: Answer, prefix: str) -> str:
    """A link under an answer to its group of cards in the sources panel (below the chat
    on a phone, beside it on a wide screen): one tap from any answer to its sources."""
    count = len(answer.related) if answer.refused else len(answer.passages)
    if not count:
        return ""
    what = "Related passages" if answer.refused else "Sources"
    return (
        f'<a class="sources-link" href="#answer-{prefix}list" title="Show the passages of this '
        f'answer in the Sources panel">{what} ({count})</a>'
    )


def answer_markdown(answer: Answer, prefix: str = "source-", *, link: bool = True) -> str:
    """Answer text for the chatbot: escaped, with each `[n]` a link to its source card,
    a link to its sources (`link`: while the panel holds them) and its plain text for
    copying (`copy_text_span`)."""
    parts, cursor = [], 0
    text = plain(answer.text)
    if not answer.refused:
        for match in _CITE.finditer(text):
            parts.append(md_text(text[cursor : match.start()]))
            parts.append(_cite_links(match.group(1), answer, prefix))
            cursor = match.end()
    parts.append(md_text(text[cursor:]))
    body = "".join(parts)
    lines = []
    if answer.standalone_question.strip() != answer.question.strip():
        lines.append(f"*Understood as:* {md_text(answer.standalone_question)}")
    if answer.notice:
        lines.append(f"> ⚠ {md_text(answer.notice)}")
    if answer.refused:
        lines.append(f"**No answer in the documents.** {body}")
        if answer.related:
            lines.append("*Related passages are listed under Sources; they are not an answer.*")
    else:
        lines.append(body)
    more = sources_link(answer, prefix) if link else ""
    lines.append(more + copy_text_span(answer))
    return "\n\n".join(lines)


def streaming_markdown(text: str) -> str:
    return md_text(plain(text)) + " ▍"


def chat_messages(session: ChatSession, streaming: str | None = None) -> list[dict[str, str]]:
    """The chatbot history rebuilt from the session (so earlier links stay valid)."""
    messages: list[dict[str, str]] = []
    count = len(session.turns)
    shown = {i for i, _ in _answered(session)[-(EARLIER_SOURCES + 1) :]}
    for i, turn in enumerate(session.turns):
        messages.append({"role": "user", "content": md_text(turn.question)})
        if turn.answer is not None:
            content = answer_markdown(turn.answer, card_prefix(i, count), link=i in shown)
        elif turn.error is not None:
            content = f"⚠ {md_text(turn.error)}"
        elif i == count - 1 and streaming:
            content = streaming_markdown(streaming)
        else:
            content = "*Searching the documents…*"
        messages.append({"role": "assistant", "content": content})
    return messages


def _answer_sources(answer: Answer, prefix: str) -> str:
    if answer.refused:
        if not answer.related:
            return '<p class="muted">No related passages were found either.</p>'
        cards = "".join(
            source_card(p, i, card_id=f"related-{prefix.removeprefix('source-')}{i}", cited=False)
            for i, p in enumerate(answer.related, 1)
        )
        why = f" ({esc(answer.refusal_reason)})" if answer.refusal_reason else ""
        return (
            f'<div class="refusal-note">The documents do not answer this{why}. Related '
            "passages (for reference, not an answer):</div>" + cards
        )
    quotes = quotes_by_number(answer)
    cited = [n for n in sorted(quotes) if 1 <= n <= len(answer.passages)]
    cards = "".join(
        source_card(answer.passages[n - 1], n, card_id=f"{prefix}{n}", quotes=quotes[n])
        for n in cited
    )
    others = [
        source_card(p, n, card_id=f"{prefix}{n}", cited=False)
        for n, p in enumerate(answer.passages, 1)
        if n not in quotes
    ]
    if others:
        cards += (
            f'<details class="more"><summary>{len(others)} more retrieved passage'
            f"{'s' if len(others) != 1 else ''} (not cited)</summary>{''.join(others)}</details>"
        )
    return cards or '<p class="muted">No passages were retrieved.</p>'


EARLIER_SOURCES = 4  # earlier answers whose sources the panel keeps (collapsed)

SOURCES_PLACEHOLDER = (
    '<div class="sources empty"><h3>Sources</h3><p class="muted">Ask a question: the passages '
    "an answer cites appear here, with the cited sentence highlighted. Click a "
    '<span class="cite">[n]</span> in the answer to jump to its source.</p></div>'
)


def _answered(session: ChatSession) -> list[tuple[int, Turn]]:
    return [(i, t) for i, t in enumerate(session.turns) if t.answer is not None]


def sources_html(session: ChatSession, earlier: int = EARLIER_SOURCES) -> str:
    """The sources panel: the newest answer's cards, then earlier answers' (collapsed).
    Each answer's group has the id `answer-<card prefix>list` that its `sources_link`
    targets (`answer-source-list` for the newest, `answer-source-t2-list` for the second
    turn's, on the summary of its collapsed section)."""
    answered = _answered(session)
    if not answered:
        return SOURCES_PLACEHOLDER
    count = len(session.turns)
    last_i, last = answered[-1]
    assert last.answer is not None
    parts = [
        '<div class="sources"><h3>Sources</h3>',
        f'<div class="sources-for">for “{esc(last.question)}”</div>',
        f'<div class="answer-sources" id="answer-{card_prefix(last_i, count)}list">',
        _answer_sources(last.answer, card_prefix(last_i, count)),
        "</div>",
    ]
    for i, turn in reversed(answered[:-1][-earlier:] if earlier else []):
        assert turn.answer is not None
        prefix = card_prefix(i, count)
        parts.append(
            f'<details class="earlier"><summary id="answer-{prefix}list">Earlier: '
            f"{esc(turn.question)}</summary>{_answer_sources(turn.answer, prefix)}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------- the Compare tab


def _quote_items(quotes: Sequence[Quote], metas: Mapping[str, Any]) -> str:
    items = []
    for q in quotes:
        meta = metas.get(q.doc_id)
        shown = plain(q.text)
        link = external_link(
            quote_url(meta.url if meta else None, shown), "in context ↗", css="ext small"
        )
        items.append(f"<li><q>{esc(shown)}</q> {link}</li>")
    return f'<ul class="quotes">{"".join(items)}</ul>' if items else ""


def _perspective_row(p: Perspective, metas: Mapping[str, Any], stances: bool) -> str:
    meta = p.meta
    title = meta.title or p.doc_id
    source = external_link(meta.url, title, css="title-link") or f"<span>{esc(title)}</span>"
    row_data = f'data-author="{esc(p.author or "")}" data-doc="{esc(p.doc_id)}"'
    when = " · ".join(
        f'<span class="nowrap">{esc(part)}</span>' for part in (meta.outlet, meta.date) if part
    )
    who = (
        f'<td class="who" data-label="Author"><div class="author">{esc(author_of(meta))}</div>'
        f'<div class="card-meta">{source}</div>'
        f'<div class="card-meta">{when}</div></td>'
    )
    if not p.addressed:
        return (
            f'<tr class="perspective silent" {row_data}>{who}'
            f'<td class="silent-note" colspan="{3 if stances else 2}" data-label="Position">'
            "Does not address this question.</td></tr>"
        )
    stance = ""
    if stances:
        chip = (
            f'<span class="stance stance-{esc(p.stance.lower())}">{esc(p.stance)}</span>'
            if p.stance
            else '<span class="muted">—</span>'
        )
        stance = f'<td class="stance-cell" data-label="Stance">{chip}</td>'
    return (
        f'<tr class="perspective" {row_data}>{who}{stance}'
        f'<td class="summary" data-label="Summary">{esc(plain(p.summary))}</td>'
        f'<td class="quotes-cell" data-label="Quotes">{_quote_items(p.quotes, metas)}</td></tr>'
    )


def _points(title: str, points: Sequence[Point], metas: Mapping[str, Any], css: str) -> str:
    if not points:
        return (
            f'<section class="points {css}"><h3>{esc(title)}</h3>'
            '<p class="muted">None found.</p></section>'
        )
    items = []
    for point in points:
        who = "".join(f'<span class="chip">{esc(a)}</span>' for a in point.authors)
        quotes = _quote_items(point.quotes, metas)
        more = f"<details><summary>quotes</summary>{quotes}</details>" if quotes else ""
        items.append(f'<li><div class="point">{esc(plain(point.point))}</div>{who}{more}</li>')
    return f'<section class="points {css}"><h3>{esc(title)}</h3><ul>{"".join(items)}</ul></section>'


EVAL_PLACEHOLDER = (
    '<p class="muted">Run an eval set: its progress shows here, then the figures by question '
    "type and a link to the full report.</p>"
)
COMPARE_PLACEHOLDER = (
    '<div class="compare empty"><p class="muted">Ask a question to see, author by author, '
    "what each source says about it, with quotes, and where they agree and diverge.</p></div>"
)


def comparison_html(comparison: Comparison) -> str:
    metas = {p.doc_id: p.meta for p in comparison.perspectives}
    addressed = sum(1 for p in comparison.perspectives if p.addressed)
    notice = f'<div class="notice">⚠ {esc(comparison.notice)}</div>' if comparison.notice else ""
    stances = any(p.stance for p in comparison.perspectives)
    rows = "".join(_perspective_row(p, metas, stances) for p in comparison.perspectives)
    stance_head = "<th>Stance</th>" if stances else ""
    return (
        '<div class="compare">'
        f"{notice}"
        f'<div class="compare-head"><div class="compare-q">“{esc(comparison.question)}”</div>'
        f'<div class="muted">{addressed} of {len(comparison.perspectives)} sources address '
        f"this · {esc(comparison.backend)}</div></div>"
        f'<table class="matrix"><thead><tr><th>Author</th>{stance_head}<th>Summary</th>'
        f"<th>Quotes</th></tr></thead><tbody>{rows}</tbody></table>"
        '<div class="points-grid">'
        f"{_points('Where they agree', comparison.agreements, metas, 'agree')}"
        f"{_points('Where they diverge', comparison.divergences, metas, 'diverge')}"
        "</div></div>"
    )


# ---------------------------------------------------------------- Library and settings


def library_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """Documents (serialize.document_dict rows plus `file`) as a table."""
    if not rows:
        return (
            '<p class="muted">The index holds no documents yet. Upload files below, or run '
            "<code>make index</code>.</p>"
        )
    body = []
    for r in rows:
        title = r.get("title") or r["doc_id"]
        link = external_link(r.get("url"), title, css="title-link") or esc(title)
        body.append(
            f'<tr data-doc="{esc(r["doc_id"])}">'
            f'<td data-label="Title" class="title-cell">{link}'
            f'<div class="file-name">{esc(r.get("file") or "")}</div></td>'
            f'<td data-label="Author">{esc(r.get("author") or "—")}</td>'
            f'<td data-label="Outlet">{esc(r.get("outlet") or "—")}</td>'
            f'<td data-label="Date" class="nowrap">{esc(r.get("date") or "—")}</td>'
            f'<td data-label="Passages" class="num-cell">{esc(r.get("chunks"))}</td></tr>'
        )
    total = sum(int(r.get("chunks") or 0) for r in rows)
    return (
        f'<div class="library-summary muted">{len(rows)} documents · {total} passages</div>'
        '<table class="library"><thead><tr><th>Title</th><th>Author</th><th>Outlet</th>'
        '<th>Date</th><th class="num-cell">Passages</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def settings_html(items: Sequence[tuple[str, object]]) -> str:
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f'<dl class="settings">{rows}</dl>'


def messages_html(lines: Sequence[tuple[str, str]]) -> str:
    """Status lines: (kind, text) with kind one of ok / warn / error / info."""
    if not lines:
        return ""
    items = "".join(f'<li class="{esc(kind)}">{esc(text)}</li>' for kind, text in lines)
    return f'<ul class="report">{items}</ul>'


# ---------------------------------------------------------------- the Evaluate tab


def _mark(ok: bool | None, yes: str, no: str) -> str:
    if ok is None:
        return '<span class="badge neutral">n/a</span>'
    return f'<span class="badge {"pass" if ok else "fail"}">{esc(yes if ok else no)}</span>'


def question_mark(row: QuestionResult) -> str:
    """✓ when everything known of the question went right, ✗ when anything went wrong, ·
    when nothing was judged (the report flags the same questions: `question_verdict`)."""
    verdict = question_verdict(row).passed
    return "·" if verdict is None else ("✓" if verdict else "✗")


def drilldown_html(row: QuestionResult, k: int | None = None) -> str:
    verdict = question_verdict(row)
    evidence = evidence_metric(row.type)
    figures = " · ".join(
        f"{esc(m.short_label(k))} {esc(m.format(value))}"
        for m in METRICS
        if (value := row.score(m.name)) is not None
    )
    answer = row.answer
    if answer:
        refused = " (refused)" if answer.refused else ""
        answer_block = (
            f'<div class="drill-answer"><div class="label">Answer{refused} · '
            f"{esc(answer.backend)}</div><p>{esc(plain(answer.text))}</p></div>"
        )
    else:
        answer_block = '<p class="muted">Answers were not scored in this run.</p>'
    items = []
    for p in row.retrieved:
        author = p.author or "unknown author"
        gold = ' <span class="chip">evidence</span>' if p.gold else ""
        items.append(
            f'<li><div class="card-meta"><b>{esc(p.rank)}.</b> {esc(author)} — '
            f"{esc(p.title or p.doc_id)}{gold}</div>"
            f'<div class="passage small">{esc(plain(p.text))}</div></li>'
        )
    good = "refused correctly" if row.type == "unanswerable" else "answer correct"
    found, missed = (
        ("every author retrieved", "an author missed")
        if evidence.name == "author_coverage"
        else ("evidence retrieved", "evidence missed")
    )
    return (
        '<div class="drill">'
        f'<div class="drill-q"><span class="chip">{esc(row.id)}</span>'
        f'<span class="chip">{esc(row.type)}</span> {esc(row.question)}</div>'
        '<div class="verdicts">'
        f"{_mark(verdict.retrieval, found, missed)}"
        f"{_mark(verdict.answer, good, 'answer wrong')}"
        f'<span class="muted">{figures}</span></div>'
        f"{answer_block}"
        f'<div class="label">Retrieved passages</div><ol class="retrieved">{"".join(items)}</ol>'
        "</div>"
    )

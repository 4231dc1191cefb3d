"""The language-model path of `rag compare`: the model writes summaries, stance labels and
points from numbered quotes; every claim must cite quotes of the right author, verbatim, or it
is dropped (and counted), and any failure of the model leaves the offline comparison."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.llm import LLM, Message
from rag.perspectives.authors import AuthorGroup, perspective_label
from rag.perspectives.config import CompareConfig
from rag.perspectives.quotes import Scored
from rag.prompts import load_prompt
from rag.store import LoadedIndex
from rag.types import Comparison, Document, DocumentMeta, Point, Quote

# The stance labels the model may give, relative to the question.
STANCES = ("supports", "opposes", "mixed", "describes")


@dataclass(frozen=True)
class Side:
    """An author who addresses the question: the quotes shown, and the pool the model sees."""

    label: str
    pool: tuple[Scored, ...]
    quotes: tuple[Scored, ...]


class ReplyError(RagError):
    """The model's reply is not a usable comparison."""


@dataclass(frozen=True)
class Numbered:
    """A quote shown to the model as `qid`, from the author `label`."""

    qid: str
    label: str
    quote: Quote


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return _escape(value).replace("&", "&amp;").replace('"', "&quot;")


def format_authors(
    numbered: Sequence[Numbered], ids: Mapping[str, str], metas: Mapping[str, DocumentMeta]
) -> str:
    """The <authors> block: each author with its numbered quotes, as data not instructions."""
    lines = ["<authors>"]
    for label, author_id in ids.items():
        meta = metas[label]
        attributes = [("id", author_id), ("name", label)]
        attributes += [
            (key, value)
            for key, value in (("title", meta.title), ("outlet", meta.outlet), ("date", meta.date))
            if value
        ]
        lines.append("<author " + " ".join(f'{k}="{_attribute(v)}"' for k, v in attributes) + ">")
        for item in numbered:
            if item.label == label:
                lines.append(f'<quote id="{item.qid}">{_escape(item.quote.text)}</quote>')
        lines.append("</author>")
    lines.append("</authors>")
    return "\n".join(lines)


def compare_messages(
    question: str,
    numbered: Sequence[Numbered],
    ids: Mapping[str, str],
    metas: Mapping[str, DocumentMeta],
    prompts_dir: Path,
) -> list[Message]:
    """The messages asking the model to compare the authors from their numbered quotes."""
    return load_prompt("compare", prompts_dir).render_messages(
        question=question.strip(),
        authors=format_authors(numbered, ids, metas),
        stances=", ".join(STANCES),
    )


@dataclass(frozen=True)
class ModelView:
    """What the model wrote, every claim already checked against the documents."""

    summaries: Mapping[
        str, tuple[str, str | None, tuple[Quote, ...]]
    ]  # label -> (text, stance, quotes)
    agreements: tuple[Point, ...]
    divergences: tuple[Point, ...]
    dropped: int  # claims dropped because a citation failed


# Locates verbatim text in the documents of one author (by label): the quote, or None.
Finder = Callable[[str, str], Quote | None]


@dataclass(frozen=True)
class _Ref:
    qid: str | None
    text: str | None
    own_view: bool


def _json_object(reply: str) -> dict[str, Any]:
    text = reply.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ReplyError("the model's reply holds no JSON object")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as e:
        raise ReplyError(f"the model's reply is not valid JSON ({e.msg})") from e
    if not isinstance(data, dict):
        raise ReplyError("the model's reply is not a JSON object")
    return data


_QUOTE_ID = re.compile(r"\bq(\d{1,4})\b", re.IGNORECASE)
_ID_MARKS = re.compile(r"\s*\[(?:q\d+[,;\s]*)+\]", re.IGNORECASE)
_EDGE = " \t\n\"'“”‘’«».…"


def _stance(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    return next((s for s in STANCES if word == s or word.startswith(s + " ")), None)


def _refs(value: object) -> list[_Ref] | None:
    """The citations of a claim: "q3", {"id": "q3", "text": ..., "own_view": ...} or
    {"text": ...}; None when malformed."""
    if not isinstance(value, list):
        return None
    refs: list[_Ref] = []
    for item in value:
        if isinstance(item, str):
            refs.append(_Ref(item.strip().lower(), None, True))
            continue
        if not isinstance(item, dict):
            return None
        qid, text = item.get("id"), item.get("text")
        if not isinstance(qid, str) and not isinstance(text, str):
            return None
        refs.append(
            _Ref(
                qid.strip().lower() if isinstance(qid, str) else None,
                text if isinstance(text, str) else None,
                item.get("own_view") is not False,
            )
        )
    return refs


def _verify(
    ref: _Ref, quotes: Mapping[str, Numbered], allowed: Sequence[str], find: Finder
) -> tuple[str, Quote] | None:
    """The author and the quote a citation stands for, if it is verbatim in a document of
    one of the `allowed` authors; None for a missing id, a quote of another author, or
    words that are not in the cited quote (or, without an id, in the author's documents)."""
    excerpt = ref.text.strip(_EDGE) if ref.text is not None else None
    if ref.qid is not None:
        item = quotes.get(ref.qid)
        if item is None or item.label not in allowed:
            return None
        quote = item.quote
        if not excerpt or len(excerpt.split()) < 3:  # a word or two proves nothing
            return (item.label, quote) if not excerpt or excerpt in quote.text else None
        offset = quote.text.find(excerpt)
        if offset < 0:
            return None
        start = quote.start + offset
        return item.label, Quote(excerpt, quote.chunk_id, quote.doc_id, start, start + len(excerpt))
    if not excerpt or len(excerpt.split()) < 4:
        return None
    for label in allowed:
        found = find(excerpt, label)
        if found is not None:
            return label, found
    return None


def parse_reply(
    reply: str,
    quotes: Mapping[str, Numbered],
    ids: Mapping[str, str],
    find: Finder,
    max_quotes: int = 3,
) -> ModelView:
    """Read and check the model's JSON. A claim is kept only if every quote it cites exists,
    is verbatim in a document of the author it is about, and each author a point names is
    quoted in it; other claims are dropped (and counted), never shown."""
    data = _json_object(reply)
    by_id = {author_id: label for label, author_id in ids.items()}
    by_name = {label.casefold(): label for label in ids}

    def label_of(value: object) -> str | None:
        if not isinstance(value, str):
            return None
        return by_id.get(value.strip().lower()) or by_name.get(value.strip().casefold())

    def cited(entry: dict[str, Any], text: str, allowed: Sequence[str]) -> list[Quote] | None:
        refs = _refs(entry.get("quotes", []))
        if refs is None:
            return None
        refs += [_Ref(f"q{n}", None, True) for n in _QUOTE_ID.findall(text)]
        refs.sort(key=lambda ref: not ref.own_view)  # the author's own views first
        checked = [_verify(ref, quotes, allowed, find) for ref in refs]
        if not checked or any(c is None for c in checked):
            return None
        if {label for label, _ in filter(None, checked)} != set(allowed):
            return None  # every author the claim is about must be quoted in it
        unique = {(q.doc_id, q.start, q.end): q for _, q in filter(None, checked)}
        return list(unique.values())

    entries = data.get("perspectives", [])
    if not isinstance(entries, list):
        raise ReplyError('the model\'s reply has no "perspectives" list')
    dropped = 0
    summaries: dict[str, tuple[str, str | None, tuple[Quote, ...]]] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            dropped += 1
            continue
        label, summary = label_of(entry.get("author")), entry.get("summary")
        checked = (
            cited(entry, summary, [label])
            if label is not None and isinstance(summary, str) and summary.strip()
            else None
        )
        if checked is None or label is None or not isinstance(summary, str):
            dropped += 1
            continue
        text = " ".join(_ID_MARKS.sub("", summary).split())
        summaries[label] = (text, _stance(entry.get("stance")), tuple(checked[:max_quotes]))
    points: dict[str, list[Point]] = {"agreements": [], "divergences": []}
    for key, found in points.items():
        items = data.get(key, [])
        for entry in items if isinstance(items, list) else []:
            if not isinstance(entry, dict):
                dropped += 1
                continue
            claim, names = entry.get("point"), entry.get("authors")
            labels = [label_of(n) for n in names] if isinstance(names, list) else []
            named = list(dict.fromkeys(label for label in labels if label is not None))
            checked = (
                cited(entry, claim, named)
                if isinstance(claim, str)
                and claim.strip()
                and len(named) >= 2
                and len(named) == len(labels)
                else None
            )
            if checked is None or not isinstance(claim, str):
                dropped += 1
                continue
            found.append(
                Point(" ".join(_ID_MARKS.sub("", claim).split()), tuple(named), tuple(checked))
            )
    if not summaries and not points["agreements"] and not points["divergences"]:
        raise ReplyError("no claim in the model's reply cites its quotes correctly")
    return ModelView(summaries, tuple(points["agreements"]), tuple(points["divergences"]), dropped)


def finder(
    groups: Sequence[AuthorGroup], documents: Mapping[str, Document], index: LoadedIndex
) -> Finder:
    """Find verbatim text in an author's documents, with the chunk it starts in."""
    doc_ids = {g.label: g.doc_ids for g in groups}

    def find(text: str, label: str) -> Quote | None:
        for doc_id in doc_ids.get(label, ()):
            start = documents[doc_id].text.find(text)
            if start < 0:
                continue
            chunk = next((c for c in index.chunks_of(doc_id) if c.start <= start < c.end), None)
            if chunk is not None:
                return Quote(text, chunk.chunk_id, doc_id, start, start + len(text))
        return None

    return find


def with_model(
    comparison: Comparison,
    llm: LLM,
    sides: Sequence[Side],
    groups: Sequence[AuthorGroup],
    index: LoadedIndex,
    prompts_dir: Path,
    config: CompareConfig,
) -> tuple[Comparison, str | None]:
    """The comparison with the model's summaries, stances and points where they check out."""
    documents = index.documents
    ids = {side.label: f"a{n}" for n, side in enumerate(sides, 1)}
    numbered: list[Numbered] = []
    for side in sides:
        for s in side.pool:
            numbered.append(Numbered(f"q{len(numbered) + 1}", side.label, s.quote))
    metas = {perspective_label(p): p.meta for p in comparison.perspectives}
    messages = compare_messages(comparison.question, numbered, ids, metas, prompts_dir)
    view = parse_reply(
        llm.complete(messages),
        {item.qid: item for item in numbered},
        ids,
        finder(groups, documents, index),
        config.max_quotes,
    )
    perspectives = []
    for p in comparison.perspectives:
        found = view.summaries.get(perspective_label(p))
        if not p.addressed or found is None:
            perspectives.append(p)
            continue
        text, stance, quotes = found
        doc_id = quotes[0].doc_id
        perspectives.append(
            replace(
                p,
                summary=text,
                stance=stance,
                quotes=quotes,
                doc_id=doc_id,
                meta=documents[doc_id].meta,
            )
        )
    notice = None
    if view.dropped:
        claims = "claim" if view.dropped == 1 else "claims"
        notice = (
            f"{view.dropped} {claims} of the language model dropped: not backed by a verbatim "
            "quote of the author named."
        )
    return (
        replace(
            comparison,
            perspectives=tuple(perspectives),
            agreements=view.agreements,
            divergences=view.divergences,
            backend="openai",
        ),
        notice,
    )

"""Author perspectives: how does each author in the collection answer one question?

Retrieval is balanced: every author (or every document whose author is unknown) gets its
own search, so one prolific author cannot crowd the others out of the top passages. The
sentences of those passages are scored as the extractive answerer scores them; an author
whose best sentence stays below `CompareConfig.threshold` (or who, asked for a figure, a
date or a name, gives none) is reported as not addressing the question rather than padded
with whatever came closest.

Offline (the default) the summary is the author's best sentences, condensed, and the points
of agreement and divergence compare the authors' sentences by meaning (embeddings) and by
key terms, in modest words ("Both X and Y discuss …", "Only X mentions …"): no stance is
claimed. With the openai backend the model writes summaries, stance labels and points from
numbered quotes; every claim must cite quotes of the right author, verbatim, or it is
dropped, and any failure of the model gives the offline comparison with a notice.

Every quote is a `Quote` with `text == document.text[start:end]`, checked here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from rag.embeddings import Embedder, Vectors
from rag.errors import ConfigError, LLMError, RagError
from rag.extractive import (
    FILLER,
    TYPED_KINDS,
    Candidate,
    ExtractiveAnswerer,
    cue_score,
    question_kind,
)
from rag.lexical import terms
from rag.llm import LLM, Message
from rag.prompts import load_prompt
from rag.retrieval import Filters, Retriever
from rag.settings import Settings
from rag.store import LoadedIndex
from rag.types import Comparison, Document, DocumentMeta, Passage, Perspective, Point, Quote

__all__ = [
    "STANCES",
    "CompareConfig",
    "Parts",
    "author_groups",
    "author_label",
    "compare",
    "condense",
    "parse_reply",
    "parts_of",
    "perspective_label",
]

# The stance labels the model may give, relative to the question.
STANCES = ("supports", "opposes", "mixed", "describes")


@dataclass(frozen=True)
class CompareConfig:
    # Best sentence score (the extractive answerer's scale) an author needs to count as
    # addressing the question. Calibrated on eval/questions.jsonl: the lowest gold author of
    # a comparative question scores 0.30, off-topic questions ("What is the recipe for
    # khachapuri?") at most 0.23 for any author; see README.
    threshold: float = 0.27
    passages_per_author: int = 3
    max_quotes: int = 3
    keep_ratio: float = 0.8  # a further quote must score this share of the author's best
    redundancy: float = 0.85  # cosine above which a sentence repeats a chosen one
    pool_size: int = 5  # sentences per author compared across authors and shown to the model
    agree_similarity: float = 0.6  # cosine at which two authors' sentences make the same point
    max_points: int = 3  # of agreement, and again of divergence
    summary_words: int = 40


# --- where the pieces come from -----------------------------------------------------------


class AssistantLike(Protocol):
    """What `compare` uses of `rag.assistant.Assistant` (kept structural: no import cycle)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def index(self) -> LoadedIndex: ...

    @property
    def retriever(self) -> Retriever: ...

    @property
    def extractive(self) -> ExtractiveAnswerer: ...

    @property
    def llm(self) -> LLM: ...


@dataclass(frozen=True)
class Parts:
    """The pieces `compare` needs, for callers that hold no Assistant."""

    index: LoadedIndex
    retriever: Retriever
    extractive: ExtractiveAnswerer
    prompts_dir: Path
    backend: str = "extractive"
    llm: Callable[[], LLM] | None = None  # called only when the openai backend is used


def parts_of(assistant: AssistantLike) -> Parts:
    """The parts of an assistant; its model client is created only if it is used."""
    return Parts(
        index=assistant.index,
        retriever=assistant.retriever,
        extractive=assistant.extractive,
        prompts_dir=assistant.settings.prompts_dir,
        backend=assistant.settings.backend,
        llm=lambda: assistant.llm,
    )


class _MemoEmbedder:
    """An embedder that embeds each text once: the per-author searches all embed the same
    question, and on a busy CPU each query embedding costs a tenth of a second or more."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self._memo: dict[str, Vectors] = {}

    def embed(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self._memo[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


_T = TypeVar("_T", Retriever, ExtractiveAnswerer)


def _with_embedder(component: _T, embedder: Embedder) -> _T:
    """A shallow copy using `embedder`; the index, BM25 and caches stay shared."""
    clone = copy.copy(component)
    clone.embedder = embedder
    return clone


# --- authors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorGroup:
    """The documents of one author, or one document whose author is unknown."""

    label: str  # how points and tables name it
    author: str | None
    doc_ids: tuple[str, ...]


def author_label(meta: DocumentMeta) -> str:
    """The author's name, or a name for the unknown author of one document."""
    if meta.author and meta.author.strip():
        return " ".join(meta.author.split())
    return f"unknown author of “{meta.title}”" if meta.title else f"unknown author of {meta.doc_id}"


def author_groups(
    documents: Mapping[str, Document], wanted: Sequence[str] | None = None
) -> list[AuthorGroup]:
    """Documents grouped by author (names compared case-insensitively), in collection order.

    `wanted` keeps the groups whose author name, label or document id contains one of its
    strings (case-insensitive); a string matching nothing is an error naming the authors."""
    groups: dict[str, AuthorGroup] = {}
    for doc_id, document in documents.items():
        meta = document.meta
        label = author_label(meta)
        key = label.casefold() if meta.author and meta.author.strip() else f"doc:{doc_id}"
        group = groups.get(key)
        if group is None:
            groups[key] = AuthorGroup(label, label if meta.author else None, (doc_id,))
        else:
            groups[key] = replace(group, doc_ids=(*group.doc_ids, doc_id))
    found = list(groups.values())
    if not wanted:
        return found
    needles = [w.strip().casefold() for w in wanted if w.strip()]
    unmatched = [
        n
        for n in needles
        if not any(n in g.label.casefold() or any(n in d for d in g.doc_ids) for g in found)
    ]
    if unmatched:
        names = sorted({g.author for g in found if g.author})
        raise RagError(
            f"no author matching {', '.join(repr(n) for n in unmatched)}; authors in this "
            f"collection: {', '.join(names) or 'none recorded'}"
        )
    return [
        g
        for g in found
        if any(n in g.label.casefold() or any(n in d for d in g.doc_ids) for n in needles)
    ]


# --- one author's evidence ----------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """A candidate sentence as a verbatim quote, with its score and embedding."""

    quote: Quote
    score: float
    similarity: float
    vector: Vectors = field(compare=False, repr=False)


@dataclass(frozen=True)
class Evidence:
    """What one author's passages offer on the question, best sentence first."""

    group: AuthorGroup
    sentences: tuple[Scored, ...]
    addressed: bool
    reason: str  # why addressed or not, for diagnostics

    @property
    def best(self) -> float:
        return self.sentences[0].score if self.sentences else float("-inf")


def _quote_of(
    candidate: Candidate, passages: Sequence[Passage], documents: Mapping[str, Document]
) -> Quote | None:
    """The candidate sentence with its span in the document, or None if it is not verbatim."""
    chunk = passages[candidate.passage_number - 1].chunk
    document = documents[chunk.doc_id]
    offset = chunk.text.find(candidate.text)
    if offset >= 0:
        start = chunk.start + offset
    else:
        start = document.text.find(candidate.text)
        if start < 0:
            return None
    end = start + len(candidate.text)
    if document.text[start:end] != candidate.text:
        return None
    return Quote(candidate.text, chunk.chunk_id, chunk.doc_id, start, end)


def gather_evidence(
    question: str,
    group: AuthorGroup,
    retriever: Retriever,
    extractive: ExtractiveAnswerer,
    documents: Mapping[str, Document],
    config: CompareConfig,
) -> Evidence:
    """Search this author's documents only, and score the sentences of what is found."""
    passages = retriever.search(
        question,
        k=config.passages_per_author * min(len(group.doc_ids), 2),
        filters=Filters(doc_ids=group.doc_ids),
        max_per_doc=config.passages_per_author,
    )
    candidates, vectors = extractive.candidates(question, passages)
    seen: set[tuple[str, int]] = set()
    scored: list[Scored] = []
    for i in sorted(range(len(candidates)), key=lambda i: -candidates[i].score):
        quote = _quote_of(candidates[i], passages, documents)
        if quote is None or (quote.doc_id, quote.start) in seen:
            continue
        seen.add((quote.doc_id, quote.start))
        scored.append(Scored(quote, candidates[i].score, candidates[i].similarity, vectors[i]))
    addressed, reason = _addresses(question, scored, config, extractive.config.cue_margin)
    return Evidence(group, tuple(scored), addressed, reason)


def _addresses(
    question: str, scored: Sequence[Scored], config: CompareConfig, cue_margin: float
) -> tuple[bool, str]:
    """The extractive answerer's test: good enough evidence, and of the kind asked for."""
    if not scored:
        return False, "no sentence found"
    best = scored[0].score
    if best < config.threshold:
        return False, f"best sentence {best:.3f} < threshold {config.threshold}"
    kind = question_kind(question)
    if kind in TYPED_KINDS:
        near_best = [s for s in scored if s.score >= best - cue_margin]
        if not any(cue_score(kind, s.quote.text, question) >= 0.5 for s in near_best):
            return False, f"no sentence gives the {TYPED_KINDS[kind]} asked for"
    return True, f"best sentence {best:.3f}"


def select_quotes(sentences: Sequence[Scored], config: CompareConfig) -> list[Scored]:
    """One to `max_quotes` of the best sentences, none repeating another."""
    if not sentences:
        return []
    floor = max(config.threshold, sentences[0].score * config.keep_ratio)
    chosen: list[Scored] = []
    for s in sentences:
        if len(chosen) == config.max_quotes or s.score < floor:
            break
        if any(float(s.vector @ c.vector) > config.redundancy for c in chosen):
            continue
        if any(s.quote.text in c.quote.text or c.quote.text in s.quote.text for c in chosen):
            continue
        chosen.append(s)
    return chosen


def _pool(evidence: Evidence, quotes: Sequence[Scored], config: CompareConfig) -> list[Scored]:
    """The author's quotes, then further sentences above the threshold, up to `pool_size`."""
    pool = list(quotes)
    for s in evidence.sentences:
        if len(pool) >= config.pool_size:
            break
        if s not in pool and s.score >= config.threshold:
            pool.append(s)
    return pool


# --- offline summary ----------------------------------------------------------------------

_CITATION_MARK = re.compile(r"\s*\[\d{1,4}(?:\s*[-–,]\s*\d{1,4})*\]")
_PARENTHESIS = re.compile(r"\s*\([^()]{0,200}\)")
_OPENER = re.compile(
    r"^(?:however|moreover|furthermore|in particular|at the same time|in addition|indeed|"
    r"thus|therefore|meanwhile|nevertheless|nonetheless|still|also|notably|ultimately|"
    r"as a result|for this reason|in the meantime|in other words|in fact|of course|"
    r"above all|first|second|third|finally|and|but|so)\b[,:]?\s+",
    re.IGNORECASE,
)


def condense(sentence: str, max_words: int) -> str:
    """A sentence shortened for a summary: no citation marks, parentheses or opening
    connective, cut at a clause boundary (or a word) after at most `max_words` words."""
    text = _PARENTHESIS.sub("", _CITATION_MARK.sub("", sentence))
    text = " ".join(_OPENER.sub("", " ".join(text.split())).split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    tokens = text.split()
    if len(tokens) <= max_words:
        return text
    cut = " ".join(tokens[:max_words])
    clause = max(cut.rfind(", "), cut.rfind("; "), cut.rfind(" – "), cut.rfind(" — "))
    if clause >= len(cut) * 0.6:
        cut = cut[:clause]
    return cut.rstrip(" ,;:–—") + " …"


def offline_summary(quotes: Sequence[Scored], config: CompareConfig) -> str:
    """The author's most relevant sentences, condensed, within `summary_words` words."""
    parts: list[str] = []
    budget = config.summary_words
    for s in quotes[:2]:
        if budget < 12 and parts:
            break
        text = condense(s.quote.text, budget)
        parts.append(text)
        budget -= len(text.split())
    return " ".join(parts)


# --- offline agreement and divergence -----------------------------------------------------

_UP = frozenset(
    terms(
        "strengthen strengthening stronger increase increasing grow growing growth gain gaining "
        "rise rising expand expanding consolidate improve improving boost dominant dominate "
        "deepen deepening advance"
    )
)
_DOWN = frozenset(
    terms(
        "weaken weakening weaker decline declining diminish diminishing decrease shrink "
        "shrinking lose losing loss fall falling erode erosion reduce reducing retreat fail "
        "failing failure collapse waning"
    )
)


def _surface(text: str) -> dict[str, str]:
    """Each term of a text with the first word that produced it, for readable points."""
    found: dict[str, str] = {}
    for match in re.finditer(r"[^\W_]+(?:['’][^\W_]+)*", text):
        word = match.group(0)
        for term in terms(word):
            found.setdefault(term, word.removesuffix("’s").removesuffix("'s"))
    return found


# Words too general to name what a point is about.
_GENERIC = frozenset(
    terms(
        "from cannot also would could may might must shall will one two three four five first "
        "second third new many much more most other another well even however though since yet "
        "still already within without among across towards upon whether while same often thus "
        "like including make made become became remain remains way ways part time times today "
        "now current currently year years place set seem seems clear certain given take taken "
        "use used fact case number kind sort thing things something order level levels"
    )
)
_ENTITY = re.compile(r"\b(?:[A-Z][a-z]*[A-Z][A-Za-z]*|[A-Z]{2,}|[A-Z][a-z’'-]+)\b")


def _key_terms(text: str) -> set[str]:
    """Content terms worth naming in a point (no digits, no asking or general words)."""
    return {t for t in terms(text) if len(t) > 2 and not t.isdigit()} - _GENERIC - FILLER


def _entities(text: str) -> dict[str, str]:
    """Names and acronyms of a sentence (capitalised, not merely opening it), by term."""
    found: dict[str, str] = {}
    for match in _ENTITY.finditer(text):
        word = match.group(0)
        if match.start() == 0 and not word.isupper():
            continue  # any word is capitalised at the start
        for term in terms(word):
            if term not in _GENERIC and term not in FILLER and len(term) > 1:
                found.setdefault(term, word.removesuffix("’s").removesuffix("'s"))
    return found


def _name_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _topic(shared: set[str], question: set[str], idf: Mapping[str, float], text: str) -> list[str]:
    """Up to three shared terms as words: terms beyond the question's first, then names,
    then the rarest."""
    names, surface = _entities(text), _surface(text)
    ranked = sorted(shared, key=lambda t: (t in question, t not in names, -idf.get(t, 0.0), t))
    return [names.get(t) or surface.get(t, t) for t in ranked[:3]]


@dataclass(frozen=True)
class _Side:
    label: str
    pool: tuple[Scored, ...]
    quotes: tuple[Scored, ...]


def offline_points(
    sides: Sequence[_Side],
    question: str,
    idf: Mapping[str, float],
    document_terms: Mapping[str, set[str]],
    config: CompareConfig,
) -> tuple[tuple[Point, ...], tuple[Point, ...]]:
    """Agreement: two authors' sentences close in meaning and sharing key terms.
    Divergence: sentences on a shared term where one speaks of growth and the other of
    decline, or terms that only one author's document mentions at all."""
    asked = set(terms(question))
    agreements: list[tuple[float, Point]] = []
    opposed: list[tuple[float, Point]] = []
    for a, b in combinations(sides, 2):
        best: tuple[float, Scored, Scored, set[str]] | None = None
        polar: tuple[float, Point] | None = None
        for sa in a.pool:
            ta = _key_terms(sa.quote.text)
            for sb in b.pool:
                tb = _key_terms(sb.quote.text)
                shared = ta & tb
                if not shared:
                    continue
                similarity = float(sa.vector @ sb.vector)
                if similarity >= config.agree_similarity and (best is None or similarity > best[0]):
                    best = (similarity, sa, sb, shared)
                point = _polar_point(a.label, sa, ta, b.label, sb, tb, shared, asked, idf)
                if point is not None and (polar is None or similarity > polar[0]):
                    polar = (similarity, point)
        if best is not None:
            similarity, sa, sb, shared = best
            topic = _topic(shared, asked, idf, sa.quote.text)
            text = f"Both {a.label} and {b.label} discuss {_name_list(topic)}."
            agreements.append((similarity, Point(text, (a.label, b.label), (sa.quote, sb.quote))))
        if polar is not None:
            opposed.append(polar)
    agreements.sort(key=lambda item: -item[0])
    opposed.sort(key=lambda item: -item[0])
    divergences = [p for _, p in opposed[: config.max_points]]
    divergences += _only_points(
        sides, idf, document_terms, config.max_points - len(divergences), divergences
    )
    return tuple(p for _, p in agreements[: config.max_points]), tuple(divergences)


def _polar_point(
    label_a: str,
    sa: Scored,
    ta: set[str],
    label_b: str,
    sb: Scored,
    tb: set[str],
    shared: set[str],
    asked: set[str],
    idf: Mapping[str, float],
) -> Point | None:
    """A divergence when, on a shared term, one sentence speaks of growth, the other of decline."""
    up_a, down_a, up_b, down_b = ta & _UP, ta & _DOWN, tb & _UP, tb & _DOWN
    if up_a and down_b and not down_a and not up_b:
        rising, falling = (label_a, sa, up_a), (label_b, sb, down_b)
    elif down_a and up_b and not up_a and not down_b:
        rising, falling = (label_b, sb, up_b), (label_a, sa, down_a)
    else:
        return None
    subject = shared - _UP - _DOWN
    if not subject:
        return None
    topic = _topic(subject, asked, idf, sa.quote.text)[:1]
    word_up = _surface(rising[1].quote.text)[min(rising[2])]
    word_down = _surface(falling[1].quote.text)[min(falling[2])]
    text = (
        f"On {topic[0]}, {rising[0]} writes of “{word_up}” where {falling[0]} writes of "
        f"“{word_down}”."
    )
    return Point(text, (label_a, label_b), (sa.quote, sb.quote))


def _only_points(
    sides: Sequence[_Side],
    idf: Mapping[str, float],
    document_terms: Mapping[str, set[str]],
    limit: int,
    taken: Sequence[Point],
) -> list[Point]:
    """Pairs of authors who each name, in their quotes, something (a name or an acronym) that
    no other author's documents contain at all ("Only X mentions …; only Y mentions …")."""
    if limit <= 0:
        return []
    distinct: dict[str, tuple[list[str], Scored]] = {}
    for side in sides:
        others = set().union(*(t for label, t in document_terms.items() if label != side.label))
        for s in side.quotes:
            names = _entities(s.quote.text)
            own = sorted(set(names) - others, key=lambda t: (-idf.get(t, 0.0), t))[:2]
            if own:
                distinct[side.label] = ([names[t] for t in own], s)
                break
    labels = [side.label for side in sides if side.label in distinct]
    used_pairs = {frozenset(p.authors) for p in taken}
    pairs = sorted(
        (
            (float(distinct[a][1].vector @ distinct[b][1].vector), a, b)
            for a, b in combinations(labels, 2)
            if frozenset((a, b)) not in used_pairs
        ),
        key=lambda item: -item[0],
    )
    points: list[Point] = []
    used: set[str] = set()
    for round_ in (0, 1):  # each author once, then any remaining pair
        for _, a, b in pairs:
            if len(points) == limit:
                return points
            if frozenset((a, b)) in used_pairs or (round_ == 0 and (a in used or b in used)):
                continue
            (words_a, sa), (words_b, sb) = distinct[a], distinct[b]
            text = (
                f"Only {a} mentions {_name_list(words_a)}; only {b} mentions {_name_list(words_b)}."
            )
            points.append(Point(text, (a, b), (sa.quote, sb.quote)))
            used_pairs.add(frozenset((a, b)))
            used.update((a, b))
    return points


# --- the model's comparison ---------------------------------------------------------------


class ReplyError(RagError):
    """The model's reply is not a usable comparison."""


@dataclass(frozen=True)
class _Numbered:
    qid: str
    label: str
    scored: Scored


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return _escape(value).replace("&", "&amp;").replace('"', "&quot;")


def format_authors(
    numbered: Sequence[_Numbered], ids: Mapping[str, str], metas: Mapping[str, DocumentMeta]
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
                lines.append(f'<quote id="{item.qid}">{_escape(item.scored.quote.text)}</quote>')
        lines.append("</author>")
    lines.append("</authors>")
    return "\n".join(lines)


def compare_messages(
    question: str,
    numbered: Sequence[_Numbered],
    ids: Mapping[str, str],
    metas: Mapping[str, DocumentMeta],
    prompts_dir: Path,
) -> list[Message]:
    return load_prompt("compare", prompts_dir).render_messages(
        question=question.strip(),
        authors=format_authors(numbered, ids, metas),
        stances=", ".join(STANCES),
    )


@dataclass(frozen=True)
class ModelView:
    """What the model wrote, every claim already checked against the quotes."""

    summaries: Mapping[
        str, tuple[str, str | None, tuple[Quote, ...]]
    ]  # label -> (text, stance, quotes)
    agreements: tuple[Point, ...]
    divergences: tuple[Point, ...]
    dropped: int  # claims dropped because a citation failed


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
_EDGE = " \t\n\"'“”‘’«».…"


def _stance(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    return next((s for s in STANCES if word == s or word.startswith(s + " ")), None)


def _refs(value: object) -> list[tuple[str, str | None, bool]] | None:
    """Quote references as (id, excerpt or None, own view); None when malformed."""
    if not isinstance(value, list):
        return None
    refs: list[tuple[str, str | None, bool]] = []
    for item in value:
        if isinstance(item, str):
            refs.append((item.strip().lower(), None, True))
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            excerpt = item.get("text")
            refs.append(
                (
                    item["id"].strip().lower(),
                    excerpt if isinstance(excerpt, str) else None,
                    item.get("own_view") is not False,
                )
            )
        else:
            return None
    return refs


def _verify(
    ref: tuple[str, str | None, bool], quotes: Mapping[str, _Numbered], allowed: set[str]
) -> Quote | None:
    """The cited quote (or the excerpt of it the model copied), if it exists, belongs to one
    of `allowed` and the excerpt is verbatim in it; None otherwise."""
    qid, excerpt, _ = ref
    item = quotes.get(qid)
    if item is None or item.label not in allowed:
        return None
    quote = item.scored.quote
    if excerpt is None:
        return quote
    cleaned = excerpt.strip(_EDGE)
    if len(cleaned.split()) < 3:  # a word or two proves nothing; the whole quote stands
        return quote if cleaned and cleaned in quote.text else None
    offset = quote.text.find(cleaned)
    if offset < 0:
        return None
    start = quote.start + offset
    return Quote(cleaned, quote.chunk_id, quote.doc_id, start, start + len(cleaned))


def parse_reply(
    reply: str, quotes: Mapping[str, _Numbered], ids: Mapping[str, str], max_quotes: int = 3
) -> ModelView:
    """Read and check the model's JSON; a claim citing a missing, misattributed or
    non-verbatim quote is dropped (and counted), never shown."""
    data = _json_object(reply)
    by_id = {author_id: label for label, author_id in ids.items()}
    by_name = {label.casefold(): label for label in ids}

    def label_of(value: object) -> str | None:
        if not isinstance(value, str):
            return None
        return by_id.get(value.strip().lower()) or by_name.get(value.strip().casefold())

    def cited(entry: dict[str, Any], text: str, allowed: set[str]) -> list[Quote] | None:
        refs = _refs(entry.get("quotes", []))
        if refs is None:
            return None
        refs += [(f"q{n}", None, True) for n in _QUOTE_ID.findall(text)]
        refs.sort(key=lambda ref: not ref[2])  # the author's own views first, reported ones after
        checked = [_verify(ref, quotes, allowed) for ref in refs]
        if not checked or any(q is None for q in checked):
            return None
        unique = {(q.doc_id, q.start, q.end): q for q in checked if q is not None}
        return list(unique.values())

    dropped = 0
    summaries: dict[str, tuple[str, str | None, tuple[Quote, ...]]] = {}
    entries = data.get("perspectives", [])
    if not isinstance(entries, list):
        raise ReplyError('the model\'s reply has no "perspectives" list')
    for entry in entries:
        label = label_of(entry.get("author")) if isinstance(entry, dict) else None
        summary = entry.get("summary") if isinstance(entry, dict) else None
        if label is None or not isinstance(summary, str) or not summary.strip():
            dropped += 1
            continue
        assert isinstance(entry, dict)
        checked = cited(entry, summary, {label})
        if checked is None:
            dropped += 1
            continue
        clean = " ".join(re.sub(r"\s*\[(?:q\d+[,;\s]*)+\]", "", summary).split())
        summaries[label] = (clean, _stance(entry.get("stance")), tuple(checked[:max_quotes]))
    points: dict[str, list[Point]] = {"agreements": [], "divergences": []}
    for key, found in points.items():
        items = data.get(key, [])
        for entry in items if isinstance(items, list) else []:
            point_text = entry.get("point") if isinstance(entry, dict) else None
            names = entry.get("authors") if isinstance(entry, dict) else None
            labels = [label_of(n) for n in names] if isinstance(names, list) else []
            if (
                not isinstance(point_text, str)
                or not point_text.strip()
                or len(labels) < 2
                or any(label is None for label in labels)
            ):
                dropped += 1
                continue
            assert isinstance(entry, dict)
            named = [label for label in dict.fromkeys(labels) if label is not None]
            checked = cited(entry, point_text, set(named))
            if checked is None or len(named) < 2:
                dropped += 1
                continue
            quoted = {quotes_label(q, quotes) for q in checked}
            if not set(named) <= quoted:  # each side needs a quote of its own
                dropped += 1
                continue
            text = " ".join(re.sub(r"\s*\[(?:q\d+[,;\s]*)+\]", "", point_text).split())
            found.append(Point(text, tuple(named), tuple(checked)))
    if not summaries and not points["agreements"] and not points["divergences"]:
        raise ReplyError("no claim in the model's reply cites its quotes correctly")
    return ModelView(summaries, tuple(points["agreements"]), tuple(points["divergences"]), dropped)


def quotes_label(quote: Quote, quotes: Mapping[str, _Numbered]) -> str:
    """The author of a checked quote (an excerpt belongs to the quote it was cut from)."""
    for item in quotes.values():
        q = item.scored.quote
        if q.doc_id == quote.doc_id and q.start <= quote.start and quote.end <= q.end:
            return item.label
    return ""


# --- compare ------------------------------------------------------------------------------


def compare(
    source: AssistantLike | Parts,
    question: str,
    *,
    authors: Sequence[str] | None = None,
    backend: str | None = None,
    config: CompareConfig = CompareConfig(),
) -> Comparison:
    """How each author answers `question`: a perspective per author (or per document where
    the author is unknown), and points of agreement and divergence between them."""
    parts = source if isinstance(source, Parts) else parts_of(source)
    chosen = backend or parts.backend
    if chosen not in ("extractive", "openai"):
        raise RagError(f"backend must be extractive or openai, not {chosen!r}")
    documents = parts.index.documents
    groups = author_groups(documents, authors)
    memo = _MemoEmbedder(parts.retriever.embedder)
    retriever = _with_embedder(parts.retriever, memo)
    extractive = _with_embedder(parts.extractive, memo)
    evidence = [
        gather_evidence(question, g, retriever, extractive, documents, config) for g in groups
    ]
    evidence.sort(key=lambda e: (not e.addressed, -e.best))
    quotes = {
        e.group.label: select_quotes(e.sentences, config) if e.addressed else [] for e in evidence
    }
    perspectives = [_perspective(e, quotes[e.group.label], documents, config) for e in evidence]
    addressing = [e for e in evidence if e.addressed]
    sides = [
        _Side(
            e.group.label,
            tuple(_pool(e, quotes[e.group.label], config)),
            tuple(quotes[e.group.label]),
        )
        for e in addressing
    ]
    document_terms = {
        g.label: set().union(*(set(terms(documents[d].text)) for d in g.doc_ids)) for g in groups
    }
    agreements, divergences = offline_points(
        sides, question, parts.extractive.idf, document_terms, config
    )
    notices = _coverage_notices(groups, addressing, authors)
    comparison = Comparison(
        question=question,
        perspectives=tuple(perspectives),
        agreements=agreements,
        divergences=divergences,
        backend="extractive",
    )
    if chosen == "openai" and addressing:
        try:
            comparison, model_notice = _with_model(comparison, parts, sides, documents, config)
            if model_notice:
                notices.append(model_notice)
        except (LLMError, ConfigError, ReplyError) as error:
            reason = error.reason if isinstance(error, LLMError) else str(error)
            notices.append(
                f"The language model was not used ({reason}); this is the offline comparison."
            )
    return replace(comparison, notice=" ".join(notices) or None)


def _perspective(
    evidence: Evidence,
    quotes: Sequence[Scored],
    documents: Mapping[str, Document],
    config: CompareConfig,
) -> Perspective:
    group = evidence.group
    doc_id = evidence.sentences[0].quote.doc_id if evidence.sentences else group.doc_ids[0]
    if not evidence.addressed:
        doc_id = group.doc_ids[0]
    return Perspective(
        doc_id=doc_id,
        author=group.author,
        meta=documents[doc_id].meta,
        addressed=evidence.addressed,
        summary=offline_summary(quotes, config)
        if evidence.addressed
        else "Does not address this question.",
        quotes=tuple(s.quote for s in quotes),
        relevance=round(max(evidence.best, 0.0), 4),
    )


def _coverage_notices(
    groups: Sequence[AuthorGroup], addressing: Sequence[Evidence], wanted: Sequence[str] | None
) -> list[str]:
    if len(groups) == 1:
        where = "selected" if wanted else "in this collection"
        return [f"Only one author ({groups[0].label}) is {where}: there is nothing to compare."]
    if not addressing:
        return ["None of the authors addresses this question."]
    if len(addressing) == 1:
        return [f"Only {addressing[0].group.label} addresses this question."]
    return []


def _with_model(
    comparison: Comparison,
    parts: Parts,
    sides: Sequence[_Side],
    documents: Mapping[str, Document],
    config: CompareConfig,
) -> tuple[Comparison, str | None]:
    """The comparison with the model's summaries, stances and points where they check out."""
    if parts.llm is None:
        raise ConfigError("no language model is configured")
    llm = parts.llm()
    ids = {side.label: f"a{n}" for n, side in enumerate(sides, 1)}
    numbered: list[_Numbered] = []
    for side in sides:
        for s in side.pool:
            numbered.append(_Numbered(f"q{len(numbered) + 1}", side.label, s))
    by_qid = {item.qid: item for item in numbered}
    metas = {perspective_label(p): p.meta for p in comparison.perspectives}
    messages = compare_messages(comparison.question, numbered, ids, metas, parts.prompts_dir)
    view = parse_reply(llm.complete(messages), by_qid, ids, config.max_quotes)
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


def perspective_label(perspective: Perspective) -> str:
    """How points name the author of a perspective (see `author_label`)."""
    return author_label(perspective.meta) if perspective.author is None else perspective.author

"""What a question asks for, read from its wording: the kind of answer (a date, a figure,
a name, reasons...), the slot an answer must fill ("how many troops": a count of troops),
and its focus: the rare terms and names any answer must be about.

Pure functions of the question text (plus the collection's IDF table for rarity), shared by
the extractive answerer, the answerability decision and the author perspectives.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from bm25s.stopwords import STOPWORDS_EN_PLUS

from rag.lexical import table_values, terms, word_set
from rag.names import find_names
from rag.slots import CHANGE_WORDS, YEAR, proper_words

Kind = Literal["date", "number", "name", "place", "entity", "reason", "explain"]

# Words a question uses to ask, or to point at a document, that no answer sentence needs.
_FILLER_WORDS = (
    "what which who whom whose when where why how many much does did do doe according give "
    "gave say says said author authors article articles paper piece view views opinion "
    "think thinks describe describes mention mentions name named figure call called kind "
    "type way happen happened year date tell explain reason reasons"
)
FILLER = frozenset(terms(_FILLER_WORDS))

# Kinds whose answer must contain something recognisable, and what that is called.
TYPED_KINDS: dict[str, str] = {
    "number": "figure",
    "date": "date",
    "name": "name",
    "entity": "name",
}
EXPLANATORY_KINDS = frozenset({"reason", "explain"})

# Each pattern is matched at the start of the asking phrase: the question from its first
# wh-word on ("According to Melvin, what ..." asks with "what ..."). A wh-word later in the
# question starts a relative clause ("the acquaintance who told him"), not the question.
_REASON_Q = re.compile(
    r"why\b|how come\b|for what reasons?\b|what (are|were|is|was) (the )?(main |key |chief )?"
    r"(reasons?|causes?|drivers?|factors?|motives?|explanations?)\b"
    r"|what (explains|caused|causes|drives|drove|led to|lies behind)\b"
)
_NUMBER_Q = re.compile(
    r"how (many|much|long|large|big|old)\b|how far (is|are|was|were)\b"
    r"|(what|which) (share|percentage|proportion|number|size|amount|portion|fraction)\b"
    r"|what (is|was|were|are) (the )?([\w-]+(?:'s|’s) )?(population|gdp|budget|size|number|"
    r"share|percentage|cost|price|length|area|amount|total|figure|value|volume)\b"
    r"|what (is|was|were|are) [\w-]+(?:'s|’s) (population|gdp|budget)\b"
)
_DATE_Q = re.compile(
    r"when\b|(what|which) (year|date|month|day|time)\b|what (is|was) [\w\s.'’-]*date of\b"
)
_NAME_Q = re.compile(
    r"who\b|whom\b|whose\b|what (is|was|were|are) (the )?names?\b|what names?\b"
    r"|(what|which) ([\w-]+ ){0,2}(person|people|leader|president|minister|official|author|"
    r"politician|diplomat|general|journalist|tycoon|businessman|oligarch|thinker|scholar|analyst|tsar|"
    r"king|emperor|prime minister|foreign minister)\b"
)
_PLACE_Q = re.compile(
    r"where\b|(which|what) (city|country|countries|place|region|capital|town|village)\b"
)
_EXPLAIN_Q = re.compile(
    r"how (do|does|did|is|are|was|were|has|have|had|can|could|will|would|might|should)\b"
    r"|(in )?what ways?\b|what (impact|effect|effects|role|consequences?|implications?)\b"
)
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)


def asking_phrase(question: str) -> str:
    """The question from its first wh-word on, lower case (all of it if it has none)."""
    match = _WH.search(question)
    return (question[match.start() :] if match else question).lower().strip()


def question_kind(question: str) -> Kind | None:
    """The kind of answer a question asks for, from the wording of its asking phrase."""
    phrase = asking_phrase(question)
    if re.search(r"\bdate of birth\b|\bwhen was \w+ born\b|\bborn in what year\b", phrase):
        return "date"
    for pattern, kind in (
        (_REASON_Q, "reason"),
        (_NUMBER_Q, "number"),
        (_DATE_Q, "date"),
        (_NAME_Q, "name"),
        (_PLACE_Q, "place"),
        (_EXPLAIN_Q, "explain"),
    ):
        if pattern.match(phrase):
            return kind  # type: ignore[return-value]
    if phrase.startswith("which") or _what_named(phrase):
        return "entity"
    return None


def _what_named(phrase: str) -> str:
    """The noun of "what company ...", "what is the largest port ...": a "what" question
    naming a kind of thing that has proper names asks for one, as "which" does."""
    words = re.findall(r"[a-z'’-]+", phrase)
    if words[:1] != ["what"]:
        return ""
    if words[1:2] in (["is"], ["was"], ["are"], ["were"]) and words[2:3] == ["the"]:
        return next((w for w in words[3:6] if w in _NAMED_THINGS), "")
    return words[1] if words[1:2] and words[1] in _NAMED_THINGS else ""


# Function words BM25 keeps ("has", "since", "from") but a focus check must not ask for.
_FUNCTION_TERMS = frozenset(terms(" ".join(STOPWORDS_EN_PLUS))) | frozenset(
    terms("first also one two three new last per like")
)


_SECOND_QUESTION = re.compile(
    r",?\s+and\s+(?=(?:what|which|who|whom|whose|when|where|why|how|in what|in which|on what|"
    r"at what|by how|for how)\b)",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """A question that asks two things ("When did X happen, and what office did Y hold?")
    split into its parts; a question asking one thing is one part."""
    parts = [part.strip(" ,?") + "?" for part in _SECOND_QUESTION.split(question) if part.strip()]
    if len(parts) > 1 and any(len(part.split()) < 3 for part in parts):
        return [question]  # "Where and when was it held?" asks about one event
    return parts


def question_terms(question: str) -> list[str]:
    """The content terms of a question, without the words it uses to ask."""
    return [t for t in terms(question) if t not in FILLER]


# --- the slot ------------------------------------------------------------------------------

SlotUnit = Literal["percent", "money", "duration", "extent", "count", "any"]

_PERCENT_WORDS = re.compile(r"\b(share|percentage|percent|proportion|per cent|fraction|portion)\b")
_MONEY_WORDS = re.compile(
    r"\b(gdp|budget|cost|costs|price|worth|spend|spent|invest|invested|investment|funding|"
    r"revenue|revenues|aid|loan|dollars|euros|money)\b"
)


@dataclass(frozen=True)
class Slot:
    """The thing an answer must supply: for a figure, what kind of quantity and of what;
    for "which X", whether a country or organisation can be the X."""

    kind: Kind
    unit: SlotUnit = "any"
    counted: str = ""  # "how many troops" -> "troops"
    places_ok: bool = True
    change: bool | None = None  # a percentage: of change ("grew by"), of level ("share"), either
    settlement: bool = False  # "which city / port / town": a place's own name, not an acronym


# "Which X" nouns whose members have proper names; other "which" questions ("which
# principles") may be answered in common words, so they set no slot.
_NAMED_THINGS = word_set(
    """
    company companies firm firms corporation institute institution university
    organisation organization organisations organizations party parties outlet outlets
    newspaper newspapers agency agencies channel broadcaster bank fund think tank city
    cities town towns country countries state states nation nations region capital power
    powers neighbour neighbor neighbours neighbors partner partners ally allies member
    members bloc alliance leader leaders president minister official person people tsar
    king emperor thinker author politician general diplomat journalist operation mission
    summit treaty agreement pipeline port railway corridor project
    """
)
_PLACE_THINGS = word_set(
    """
    city cities town towns country countries state states nation nations region capital
    power powers neighbour neighbor neighbours neighbors partner partners ally allies
    member members bloc
    """
)


_SETTLEMENTS = word_set("city cities town towns port ports village villages capital harbour")


def _asked_noun(question: str) -> str:
    """The noun a "which X" question asks about: the first of the few words after "which"
    that names a kind of thing with proper names ("which Chinese company" -> company)."""
    phrase = asking_phrase(question)
    if not phrase.startswith("which"):
        return _what_named(phrase)
    words = re.findall(r"[a-z]+", phrase)[1:5]
    return next((w for w in words if w in _NAMED_THINGS), "")


def _counted_noun(question: str) -> str:
    """What "how many" counts: the first word after it that is not a name, a scale or a
    measure prefix ("how many Russian troops" -> troops, "billion cubic metres" -> metres)."""
    match = re.search(r"\bhow many\s+(.*)", question, re.IGNORECASE)
    words: list[str] = re.findall(r"[\w-]+", match.group(1) if match else "")
    return next(
        (w.lower() for w in words if not w[:1].isupper() and w.lower() not in _SKIPPED_BEFORE_NOUN),
        "",
    )


_SKIPPED_BEFORE_NOUN = word_set(
    """
    million millions billion billions thousand thousands hundred hundreds square cubic
    more fewer of the
    """
)


def question_slot(question: str, kind: Kind | None) -> Slot | None:
    if kind is None or kind not in TYPED_KINDS:
        return None
    if kind == "entity":
        noun = _asked_noun(question)
        if not noun:
            return None
        return Slot(kind, places_ok=noun in _PLACE_THINGS, settlement=noun in _SETTLEMENTS)
    if kind != "number":
        return Slot(kind)
    q = asking_phrase(question)
    if re.search(r"\bhow long\b", q):
        return Slot(
            kind, "duration" if not re.search(r"\bkilomet|\bmiles?\b|\blong is\b", q) else "extent"
        )
    if re.search(r"\bhow (far|large|big)\b|\b(area|length|size)\b", q):
        return Slot(kind, "extent")
    if re.search(r"\bhow old\b", q):
        return Slot(kind, "duration")
    if _PERCENT_WORDS.search(q):
        change = (
            True
            if CHANGE_WORDS.search(q)
            else False
            if re.search(r"\b(share|proportion|portion|fraction)\b|\bpercentage of\b", q)
            else None
        )
        return Slot(kind, "percent", change=change)
    if _MONEY_WORDS.search(q) or re.search(r"\bhow much\b", q):
        return Slot(kind, "money" if _MONEY_WORDS.search(q) else "any")
    counted = _counted_noun(question)
    if counted in {"years", "months", "days", "weeks", "decades", "hours"}:
        return Slot(kind, "duration", counted)
    if counted in {"kilometres", "kilometers", "miles", "metres", "meters", "hectares"}:
        return Slot(kind, "extent", counted)
    if re.search(r"\bpopulation\b", q):
        return Slot(kind, "count", "population")
    return Slot(kind, "count", counted)


# --- focus --------------------------------------------------------------------------------

_ACCORDING = re.compile(
    r"\b(?:according to|in the view of|per|as seen by|says?|argues?|in)\s+(?:the\s+)?"
    r"(?P<who>[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)?)(?:['’]s)?(?=\s+(?:view|opinion|analysis|"
    r"article|paper|piece|commentary|account)|[?,.]|\s*$)"
)


@dataclass(frozen=True)
class Focus:
    """What any answer must be about: names (canonical) and rare content terms."""

    names: frozenset[str]  # canonical names and other proper words ("Gyumri", "GDP")
    terms: tuple[str, ...]  # stemmed rare content terms
    years: tuple[str, ...]  # years the question pins ("in 2023")


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    kind: Kind | None
    slot: Slot | None
    terms: tuple[str, ...]  # content terms, filler removed (stemmed)
    focus: Focus
    parts: int = 1  # things asked ("when ..., and which ...?" asks two)

    @property
    def explanatory(self) -> bool:
        return self.kind in EXPLANATORY_KINDS


def _author_words(question: str, authors: Sequence[str]) -> set[str]:
    """Words that name an author of the collection (a pointer to a document, not a topic)."""
    surnames = {w.casefold() for a in authors for w in re.findall(r"[\w’'-]+", a) if len(w) > 2}
    return {w for w in re.findall(r"[\w’'-]+", question) if w.casefold() in surnames}


def question_focus(
    question: str,
    idf: Mapping[str, float],
    *,
    authors: Sequence[str] = (),
    rare_idf: float = 0.0,
) -> Focus:
    """Names and rare terms of a question; author names are left out (they pick a source,
    they are not what the answer is about), so are the question's asking words."""
    skip = {w.casefold() for w in _author_words(question, authors)}
    match = _ACCORDING.search(question)
    if match:
        skip |= {w.casefold() for w in match.group("who").split()}
    names = {m.canonical for m in find_names(question)}
    covered = {w.casefold() for m in find_names(question) for w in m.text.split()}
    first = re.match(r"\s*([\w’'-]+)", question)
    opener = first.group(1) if first else ""
    for word in proper_words(question):
        bare = re.sub(r"['’]s$", "", word)
        if bare == opener or bare.casefold() in skip or bare.casefold() in covered:
            continue
        if YEAR.fullmatch(bare):
            continue
        names.add(bare)
    names = {n for n in names if n.casefold() not in skip}
    # a name's terms, as canonical and as written ("Russian" is Russia, not a topic word)
    name_terms = {t for n in names for t in terms(n)} | {
        t for m in find_names(question) for t in terms(m.text)
    }
    name_terms |= {t for w in skip for t in terms(w)}  # a source's name is no topic word
    # A term no chunk holds counts as the rarest; the maximum is read only when needed (it
    # walks the whole vocabulary, 170k terms at a million chunks).
    unseen_idf = functools.cache(lambda: float(np.max(table_values(idf), initial=0.0)))
    rare = tuple(
        dict.fromkeys(
            t
            for t in question_terms(question)
            if t not in name_terms
            and t not in _FUNCTION_TERMS
            and not t.isdigit()
            and (idf[t] if t in idf else unseen_idf()) >= rare_idf
        )
    )
    years = tuple(dict.fromkeys(m.group(0) for m in YEAR.finditer(question)))
    return Focus(frozenset(names), rare, years)


def analyse(
    question: str, idf: Mapping[str, float], *, authors: Sequence[str] = ()
) -> QuestionAnalysis:
    kind = question_kind(question)
    pointers = {t for w in _author_words(question, authors) for t in terms(w)}
    return QuestionAnalysis(
        text=question,
        kind=kind,
        slot=question_slot(question, kind),
        # "Huseynov" in "Which thinker does Huseynov cite?" picks a source, not a topic
        terms=tuple(t for t in question_terms(question) if t not in pointers),
        focus=question_focus(question, idf, authors=authors),
        parts=len(question_parts(question)),
    )

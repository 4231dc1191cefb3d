"""The one sentence scorer: how well each sentence of some passages answers a question.

Shared by the extractive answerer (which sentence answers, and whether any does) and the
author perspectives (which of an author's sentences to quote, and whether the author
addresses the question), so both apply the same rules. Per sentence it measures:

- meaning: raw cosine between question and sentence (MiniLM vectors from the index);
- words: the IDF-weighted share of the question's content terms in the sentence;
- focus: the IDF-weighted share of the question's names, rare terms and years found near
  the sentence (the sentence, the text just before it, its document's header), with half
  credit for the rest of its passage;
- slot: whether it supplies what the question asks for (a date, a figure of the right
  kind, a name the question does not contain).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.chunking import indexed_text
from rag.embeddings import Embedder, Vectors
from rag.injection import addresses_reader_or_model
from rag.lexical import table_values, terms
from rag.names import canonical, canonical_names, countries, variant_table, variants
from rag.question import Focus, QuestionAnalysis, Slot
from rag.sentences import split_sentences
from rag.slots import has_date, new_names, person_names, quantities
from rag.types import Passage

SentenceSource = Callable[[Passage], tuple[list[str], Vectors] | None]
DocumentText = Callable[[str], str | None]  # a document's whole text, by id


@dataclass(frozen=True)
class ScorerConfig:
    min_words: int = 6
    weight_similarity: float = 0.55
    weight_coverage: float = 0.35
    weight_slot: float = 0.10
    rank_prior: float = 0.02  # subtracted per rank below the first passage


@dataclass(frozen=True)
class ScoredSentence:
    passage_number: int  # 1-based position of its passage among those scored
    text: str
    similarity: float
    coverage: float
    focus: float
    near_focus: float  # the focus found in the sentence and the one before it only
    years_near: bool  # every year the question names is in the sentence or the one before
    rival: bool  # names another country where one the question names is missing
    fills_slot: bool | None  # None: the question asks for no particular kind of answer
    score: float


def term_coverage(
    question_terms: Sequence[str], sentence_terms: set[str], idf: Mapping[str, float]
) -> float:
    """IDF-weighted share of the question's content terms that occur in the sentence."""
    unique = set(question_terms)
    total = sum(idf.get(t, 1.0) for t in unique)
    if not total:
        return 0.0
    return sum(idf.get(t, 1.0) for t in unique if t in sentence_terms) / total


def fills_slot(
    slot: Slot, sentence: str, question: str, common_words: frozenset[str] = frozenset()
) -> bool:
    """Does the sentence supply the asked-for thing, something the question lacks?"""
    if slot.kind == "date":
        return has_date(_without(sentence, question))
    if slot.kind == "number":
        asked = {q.text for q in quantities(question)}
        for quantity in quantities(sentence):
            if quantity.text in asked:
                continue
            if slot.change is not None and quantity.change != slot.change:
                continue  # "what share" is not answered by "rose by 17.5%"
            if slot.unit == "any" or quantity.kind == slot.unit:
                return True
            if slot.unit == "count" and quantity.kind == "count":
                return True
        return False
    if slot.kind == "name":
        return bool(person_names(sentence, question, common_words))
    if slot.kind == "entity":
        fresh = new_names(sentence, question)
        if not slot.places_ok:  # "which company": a country is not one
            fresh = [name for name in fresh if canonical(name) not in variant_table()]
        if slot.settlement:  # "which port": a place's name, not "BBC" nor a figure
            return any(not _ACRONYM.fullmatch(name) for name in fresh)
        return bool(fresh) or bool(quantities(_without(sentence, question)))
    return True


_ACRONYM = re.compile(r"[A-Z]{2,}s?")


def _without(sentence: str, question: str) -> str:
    """The sentence less the years and numbers the question already states."""
    for number in set(re.findall(r"\d+(?:[.,]\d+)*", question)):
        sentence = re.sub(rf"(?<![\d.,]){re.escape(number)}(?![\d.,]?\d)", " ", sentence)
    return sentence


@lru_cache(maxsize=4096)
def _name_terms(name: str) -> tuple[frozenset[str], ...]:
    """The stemmed terms of every way of writing a name."""
    return tuple(frozenset(terms(v)) for v in variants(name))


@lru_cache(maxsize=16384)
def term_set(text: str) -> frozenset[str]:
    """The terms of a text as a set, cached: a passage is the context of all its sentences."""
    return frozenset(terms(text))


def _written(name_terms: frozenset[str], text_terms: frozenset[str]) -> bool:
    """A name is written in a text when all its terms are, or, for a one-word name of six
    letters or more, when a word starts with it ("Transcaucasia" in "Transcaucasian")."""
    if name_terms <= text_terms:
        return True
    if len(name_terms) == 1:
        (only,) = name_terms
        return len(only) >= 6 and any(t.startswith(only) for t in text_terms)
    return False


def has_rival(asked: frozenset[str], near: str) -> bool:
    """Does the text name another country in place of one the question asks about? A
    figure beside "Armenia" is not Azerbaijan's."""
    asked_countries = asked & countries()
    if not asked_countries:
        return False
    named = canonical_names(near) & countries()
    return bool(asked_countries - named) and bool(named - asked)


def _typical_idf(idf: Mapping[str, float]) -> float:
    values = table_values(idf)
    return float(np.partition(values, len(values) // 2)[len(values) // 2]) if len(values) else 1.0


def focus_shares(
    focus: Focus, near: str, passage: str, idf: Mapping[str, float], name_floor: float
) -> tuple[float, float]:
    """(near, overall): the weighted share of the focus found near the sentence, and the
    share counting the rest of its passage at half credit. Names compare through their
    variants and weigh at least `name_floor`: a common name ("Russia") is still the
    subject. Items the collection never uses weigh nothing: a paraphrase describes in its
    own words what the text names, so their absence says nothing about one sentence."""
    near_names, passage_names = canonical_names(near), canonical_names(passage)
    near_terms, passage_terms = term_set(near), term_set(passage)
    total = near_found = found = 0.0
    for name in focus.names:
        spellings = [t for t in _name_terms(name) if t]
        known = [max(idf.get(w, 0.0) for w in t) for t in spellings if all(w in idf for w in t)]
        if not known:
            continue
        weight = max(max(known), name_floor)
        total += weight
        if name in near_names or any(_written(t, near_terms) for t in spellings):
            near_found += weight
            found += weight
        elif name in passage_names or any(_written(t, passage_terms) for t in spellings):
            found += weight / 2
    for term in (*focus.terms, *focus.years):
        weight = idf.get(term, 0.0)
        total += weight
        if term in near_terms:
            near_found += weight
            found += weight
        elif term in passage_terms:
            found += weight / 2
    if not total:
        return 1.0, 1.0
    return near_found / total, found / total


_PRONOUN_START = re.compile(r"(?:It|Its|They|Their|This|These|That|Those|He|His|She|Her)\b")


def _context(text: str, start: int, end: int) -> str:
    """The sentence at text[start:end] with the one before it in the same paragraph, where
    a pronoun's referent usually is; and one more before that when the one before starts
    with a pronoun itself ("Russia ... . It has reacted ... . Examples include ...")."""
    window = max(0, start - 600)  # the search stays short in a long document
    before = text[max(text.rfind("\n\n", window, start), window) : start]
    spans = split_sentences(before)
    first = len(spans) - 1
    if first > 0 and _PRONOUN_START.match(before[spans[first][0] : spans[first][1]]):
        first -= 1
    previous = before[spans[first][0] : spans[-1][1]] if spans else ""
    return f"{previous} {text[start:end]}"


class SentenceScorer:
    """Scores the sentences of passages against an analysed question."""

    def __init__(
        self,
        embedder: Embedder,
        idf: Mapping[str, float],
        config: ScorerConfig = ScorerConfig(),
        *,
        sentence_source: SentenceSource | None = None,
        cache_size: int = 4096,
        common_words: frozenset[str] = frozenset(),
        document_text: DocumentText | None = None,
    ) -> None:
        """`sentence_source` gives a passage's sentences with vectors computed at index
        time (fast); without it, or when it has none, sentences are embedded here.
        `document_text` lets a sentence's context reach back before its chunk's start
        (a chunk may begin with "It has ...").
        `common_words` are the words the collection writes in lower case
        (`rag.slots.lowercase_words`), to tell people's names from capitalised phrases."""
        self.common_words = common_words
        self.embedder = embedder
        self.idf = idf
        self.config = config
        self._sentence_source = sentence_source
        self._document_text = document_text
        self._cache: OrderedDict[str, tuple[list[str], Vectors]] = OrderedDict()
        self._cache_size = cache_size
        self._name_floor = _typical_idf(idf)

    def _usable(self, text: str) -> bool:
        """A sentence that can answer or be quoted: not a fragment, not a question, and not
        one that instructs the reader or a model (`rag.injection`)."""
        return (
            len(text.split()) >= self.config.min_words
            and not text.rstrip().endswith("?")
            and addresses_reader_or_model(text) is None
        )

    def sentences(self, passage: Passage) -> tuple[list[str], Vectors]:
        """Sentences of a passage that can answer (no fragments, no questions, no planted
        instructions), with vectors."""
        if self._sentence_source is not None:
            known = self._sentence_source(passage)
            if known is not None:
                texts, vectors = known
                keep = [i for i, text in enumerate(texts) if self._usable(text)]
                return [texts[i] for i in keep], vectors[keep]
        key = passage.chunk.chunk_id + ":" + str(hash(passage.chunk.text))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        text = passage.chunk.text
        found = [text[s:e] for s, e in split_sentences(text) if self._usable(text[s:e])]
        vectors = (
            self.embedder.embed(found)
            if found
            else np.zeros((0, self.embedder.dimension), np.float32)
        )
        self._cache[key] = (found, vectors)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return found, vectors

    def embed_question(self, question: str) -> Vectors:
        vector: Vectors = self.embedder.embed([question])[0]
        return vector

    def score(
        self,
        analysis: QuestionAnalysis,
        passages: Sequence[Passage],
        question_vector: Vectors | None = None,
    ) -> tuple[list[ScoredSentence], Vectors]:
        """Every usable sentence of the passages, scored, in passage order; and their
        vectors (row i belongs to sentence i), for redundancy checks."""
        config = self.config
        vector = self.embed_question(analysis.text) if question_vector is None else question_vector
        found: list[ScoredSentence] = []
        vectors: list[Vectors] = []
        for number, passage in enumerate(passages, 1):
            sentences, sentence_vectors = self.sentences(passage)
            if not sentences:
                continue
            text = passage.chunk.text
            whole = indexed_text(text, passage.meta)
            document = self._document_text(passage.chunk.doc_id) if self._document_text else None
            if document is not None and document[passage.chunk.start : passage.chunk.end] != text:
                document = None  # not the text this chunk was cut from
            similarities = sentence_vectors @ vector
            for sentence, similarity, sentence_vector in zip(
                sentences, similarities, sentence_vectors, strict=True
            ):
                at = max(text.find(sentence), 0)
                if document is not None:
                    at += passage.chunk.start
                near = indexed_text(
                    _context(document or text, at, at + len(sentence)), passage.meta
                )
                slot = (
                    fills_slot(analysis.slot, sentence, analysis.text, self.common_words)
                    if analysis.slot is not None
                    else None
                )
                coverage = term_coverage(analysis.terms, set(terms(sentence)), self.idf)
                near_focus, focus = focus_shares(
                    analysis.focus, near, whole, self.idf, self._name_floor
                )
                score = (
                    config.weight_similarity * float(similarity)
                    + config.weight_coverage * coverage
                    + config.weight_slot * float(bool(slot))
                    - config.rank_prior * (number - 1)
                )
                found.append(
                    ScoredSentence(
                        passage_number=number,
                        text=sentence,
                        similarity=float(similarity),
                        coverage=coverage,
                        focus=focus,
                        near_focus=near_focus,
                        years_near=all(year in near for year in analysis.focus.years),
                        rival=has_rival(analysis.focus.names, near),
                        fills_slot=slot,
                        score=score,
                    )
                )
                vectors.append(sentence_vector)
        stacked = (
            np.stack(vectors) if vectors else np.zeros((0, self.embedder.dimension), np.float32)
        )
        return found, stacked

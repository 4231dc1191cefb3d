"""The offline answerer: answers with sentences taken verbatim from the passages.

For each candidate sentence it combines
- meaning: cosine similarity between the question and the sentence (the embedding model
  that is already loaded for retrieval),
- words: the IDF-weighted share of the question's content terms the sentence contains,
- question-type cues: a "when" question wants a date, "how many / what share" a number,
  "who" a name,
- a small prior for sentences from higher-ranked passages.

It refuses ("The documents do not answer this.") when the best evidence is below a
threshold calibrated on the eval set's unanswerable questions, and then lists the closest
passages as related reading instead of presenting them as an answer.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer import refusal
from rag.embeddings import Embedder, Vectors
from rag.lexical import terms
from rag.sentences import split_sentences
from rag.types import Answer, Citation, Passage

_YEAR = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
_MONTH = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|"
    r"December|spring|summer|autumn|fall|winter)\b"
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORD = re.compile(
    r"%|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|dozens?|"
    r"hundreds?|thousands?|millions?|billions?|half|third|quarter|percent|per cent)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+")
_CAPITALISED = re.compile(r"(?<!^)\b[A-Z][a-z]{2,}")


# Words a question uses to ask, or to point at a document, that no answer sentence needs.
_FILLER_WORDS = (
    "what which who whom whose when where why how many much does did do doe according give "
    "gave say says said author authors article articles paper piece view views opinion "
    "think thinks describe describes mention mentions name named figure call called kind "
    "type way happen happened year date tell explain"
)
FILLER = frozenset(terms(_FILLER_WORDS))


def question_terms(question: str) -> list[str]:
    """The content terms of a question, without the words it uses to ask."""
    return [t for t in terms(question) if t not in FILLER]


def question_kind(question: str) -> str | None:
    """The kind of answer a question asks for, from its wording."""
    q = question.lower()
    if re.search(
        r"\bwhen\b|\bwhat (year|date|month)\b|\bin which (year|month)\b|\bsince when\b", q
    ):
        return "date"
    if re.search(
        r"\bhow (many|much|long|large|big|far)\b|\bwhat (share|percentage|proportion|number|size)\b"
        r"|\bwhat (is|was|were|are) (the )?(\w+'s )?(population|gdp|budget|size|number|share|"
        r"percentage|cost|price|length|area|amount|total|figure)\b|\b\w+'s (population|gdp)\b",
        q,
    ):
        return "number"
    if re.search(
        r"\bwho\b|\bwhich (person|leader|president|minister|official|author)\b|\bwhose\b"
        r"|\bwhat (is|was|were|are) the names?\b",
        q,
    ):
        return "name"
    if re.search(
        r"\bwhere\b|\bwhich (city|country|countries|place|region|capital)\b|\bin what city\b", q
    ):
        return "place"
    return None


# Question kinds whose answer must contain something recognisable; when no good sentence
# has it, the passages talk about the topic without answering (asked "how many troops",
# they give a year): refuse rather than answer beside the point.
TYPED_KINDS = {"number": "figure", "date": "date", "name": "name"}


def has_quantity(sentence: str) -> bool:
    """A count, amount or share: a number that is not merely a year, or a number word."""
    for match in _DIGITS.finditer(sentence):
        if not _YEAR.fullmatch(match.group(0)):
            return True
    return bool(_NUMBER_WORD.search(sentence))


def new_names(sentence: str, question: str) -> list[str]:
    """Proper names in a sentence that the question does not already contain."""
    return [n for n in _NAME.findall(sentence) if n.lower() not in question.lower()]


def cue_score(kind: str | None, sentence: str, question: str = "") -> float:
    """How well a sentence offers the kind of answer asked for (1 = it does)."""
    if kind == "date":
        return 1.0 if _YEAR.search(sentence) else 0.5 if _MONTH.search(sentence) else 0.0
    if kind == "number":
        return 1.0 if has_quantity(sentence) else 0.0
    if kind == "name":
        return 1.0 if new_names(sentence, question) else 0.0
    if kind == "place":
        return 1.0 if _CAPITALISED.search(sentence) else 0.0
    return 0.0


def term_coverage(
    question_terms: Sequence[str], sentence_terms: set[str], idf: Mapping[str, float]
) -> float:
    """IDF-weighted share of the question's content terms that occur in the sentence."""
    unique = set(question_terms)
    total = sum(idf.get(t, 1.0) for t in unique)
    if not total:
        return 0.0
    return sum(idf.get(t, 1.0) for t in unique if t in sentence_terms) / total


@dataclass(frozen=True)
class Candidate:
    passage_number: int  # 1-based position of its passage in the answerer's input
    text: str
    score: float
    similarity: float
    coverage: float


@dataclass(frozen=True)
class ExtractiveConfig:
    max_sentences: int = 3
    min_words: int = 6
    refusal_threshold: float = 0.30  # calibrated on eval/questions.jsonl, see README
    weight_similarity: float = 0.55
    weight_coverage: float = 0.35
    weight_cue: float = 0.10
    rank_prior: float = 0.02  # subtracted per rank below the first passage
    cue_margin: float = 0.03  # sentences this close to the best may supply the asked-for kind
    keep_ratio: float = 0.8  # a further sentence must score this share of the best
    redundancy: float = 0.85  # cosine above which a sentence repeats one already chosen


SentenceSource = Callable[[Passage], tuple[list[str], Vectors] | None]


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        idf: Mapping[str, float],
        config: ExtractiveConfig = ExtractiveConfig(),
        cache_size: int = 4096,
        sentence_source: SentenceSource | None = None,
    ) -> None:
        """`sentence_source` gives a passage's sentences with vectors computed at index
        time (fast); without it, or when it has none, sentences are embedded here."""
        self.embedder = embedder
        self.idf = idf
        self.config = config
        self._sentence_source = sentence_source
        self._cache: OrderedDict[str, tuple[list[str], Vectors]] = OrderedDict()
        self._cache_size = cache_size

    def _sentences(self, passage: Passage) -> tuple[list[str], Vectors]:
        """Sentences of a passage and their vectors, cached per chunk (answers repeat them)."""
        if self._sentence_source is not None:
            known = self._sentence_source(passage)
            if known is not None:
                texts, vectors = known
                keep = [
                    i
                    for i, text in enumerate(texts)
                    if len(text.split()) >= self.config.min_words
                    and not text.rstrip().endswith("?")
                ]
                return [texts[i] for i in keep], vectors[keep]
        key = passage.chunk.chunk_id + ":" + str(hash(passage.chunk.text))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        text = passage.chunk.text
        sentences = [
            text[s:e]
            for s, e in split_sentences(text)
            if len(text[s:e].split()) >= self.config.min_words
            and not text[s:e].rstrip().endswith("?")
        ]
        vectors = (
            self.embedder.embed(sentences)
            if sentences
            else np.zeros((0, self.embedder.dimension), np.float32)
        )
        self._cache[key] = (sentences, vectors)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return sentences, vectors

    def candidates(
        self, question: str, passages: Sequence[Passage]
    ) -> tuple[list[Candidate], Vectors]:
        config = self.config
        question_vector = self.embedder.embed([question])[0]
        wanted = question_terms(question)
        kind = question_kind(question)
        found: list[Candidate] = []
        vectors: list[Vectors] = []
        for number, passage in enumerate(passages, 1):
            sentences, sentence_vectors = self._sentences(passage)
            if not sentences:
                continue
            similarities = sentence_vectors @ question_vector
            for sentence, similarity, vector in zip(
                sentences, similarities, sentence_vectors, strict=True
            ):
                coverage = term_coverage(wanted, set(terms(sentence)), self.idf)
                score = (
                    config.weight_similarity * float(similarity)
                    + config.weight_coverage * coverage
                    + config.weight_cue * cue_score(kind, sentence, question)
                    - config.rank_prior * (number - 1)
                )
                found.append(Candidate(number, sentence, score, float(similarity), coverage))
                vectors.append(vector)
        stacked = (
            np.stack(vectors) if vectors else np.zeros((0, self.embedder.dimension), np.float32)
        )
        return found, stacked

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        candidates, vectors = self.candidates(question, passages)
        order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
        best = candidates[order[0]].score if order else -math.inf
        support, notes = best, []
        kind = question_kind(question)
        if kind in TYPED_KINDS and order:
            near_best = [
                candidates[i] for i in order if candidates[i].score >= best - self.config.cue_margin
            ]
            if not any(cue_score(kind, c.text, question) >= 0.5 for c in near_best):
                notes.append(f"no passage gives the {TYPED_KINDS[kind]} asked for")
                support = -math.inf
        if support < self.config.refusal_threshold:
            return refusal(
                question,
                passages,
                self.name,
                [f"evidence {support:.3f} < threshold {self.config.refusal_threshold}", *notes],
            )
        chosen: list[int] = []
        for i in order:
            if len(chosen) == self.config.max_sentences:
                break
            if candidates[i].score < best * self.config.keep_ratio:
                break
            if any(float(vectors[i] @ vectors[j]) > self.config.redundancy for j in chosen):
                continue
            if any(
                candidates[i].text in candidates[j].text or candidates[j].text in candidates[i].text
                for j in chosen
            ):
                continue
            chosen.append(i)
        citations = tuple(
            Citation(
                n=candidates[i].passage_number,
                passage=passages[candidates[i].passage_number - 1],
                quote=candidates[i].text,
            )
            for i in chosen
        )
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return Answer(
            question=question,
            standalone_question=question,
            text=text,
            citations=citations,
            passages=tuple(passages),
            refused=False,
            backend=self.name,
            diagnostics=(f"best evidence {best:.3f}",),
        )


def idf_table(chunk_terms: Sequence[Sequence[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of each term over the chunks."""
    frequency: dict[str, int] = {}
    for chunk in chunk_terms:
        for term in set(chunk):
            frequency[term] = frequency.get(term, 0) + 1
    n = len(chunk_terms)
    return {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}

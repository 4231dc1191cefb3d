"""The offline answerer: answers with sentences taken verbatim from the passages.

Three steps, each in its own module:
1. `rag.question.analyse`: what the question asks for (kind, slot, focus);
2. `rag.scoring.SentenceScorer`: every sentence of the passages scored against it (the
   same scorer the author perspectives use);
3. `rag.answerability.decide`: whether any sentence answers, and which; if none does, an
   explicit refusal that says why and lists the closest passages as related reading.

Then the answer is composed: a factual question gets the answering sentence and at most
two more that add to it; a "why" or "how" question gets 2-4 reasons, from different
passages where there are, in reading order (by document, then by position).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rag.answer import refusal
from rag.answerability import AnswerabilityConfig, Decision, decide
from rag.embeddings import Embedder, Vectors
from rag.lexical import terms
from rag.question import (
    FILLER,
    TYPED_KINDS,
    QuestionAnalysis,
    analyse,
    question_kind,
    question_terms,
)
from rag.scoring import (
    DocumentText,
    ScoredSentence,
    ScorerConfig,
    SentenceScorer,
    SentenceSource,
    term_coverage,
)
from rag.types import Answer, Citation, Passage

__all__ = [
    "FILLER",
    "TYPED_KINDS",
    "Candidate",
    "ExtractiveAnswerer",
    "ExtractiveConfig",
    "idf_table",
    "question_kind",
    "question_terms",
    "term_coverage",
]

Candidate = ScoredSentence  # the name perspectives.py knows a scored sentence by

# Words that mark a sentence as giving a reason or a mechanism, for "why"/"how" questions.
_CAUSAL = re.compile(
    r"\b(because|due to|owing to|thanks to|as a result|result(?:s|ed)? in|led to|leads? to|"
    r"lead to|caus(?:e|es|ed|ing)|driven by|stems? from|stemmed from|reasons?|therefore|thus|"
    r"hence|consequently|so that|in order to|undermin\w*|weaken\w*|erod\w*|amid|given that|"
    r"in light of|enabl\w*|allow\w*|deprived?|drain\w*|forc(?:e|ed|es|ing) \w+ to)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ExtractiveConfig:
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    answerability: AnswerabilityConfig = field(default_factory=AnswerabilityConfig)
    max_sentences: int = 3  # for a factual question
    max_reasons: int = 4  # for a "why" / "how" question
    min_reasons: int = 2
    keep_ratio: float = 0.8  # a further factual sentence must score this share of the best
    part_ratio: float = 0.6  # ... or this share, when it covers a part of the question left out
    part_gain: float = 0.15  # the IDF-weighted share of the question it must add
    reason_ratio: float = 0.7  # a further reason must be this confident relative to the best
    causal_bonus: float = 0.05  # added to a reason sentence that states a cause
    restatement: float = 0.8  # coverage of the question above which a sentence restates it
    redundancy: float = 0.8  # cosine above which a sentence repeats one already chosen


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        idf: Mapping[str, float],
        config: ExtractiveConfig = ExtractiveConfig(),
        cache_size: int = 4096,
        sentence_source: SentenceSource | None = None,
        authors: Sequence[str] = (),
        common_words: frozenset[str] = frozenset(),
        document_text: DocumentText | None = None,
    ) -> None:
        """`authors` are the collection's author names: "according to Melvin" names a
        source, not a topic, so it is not part of the question's focus."""
        self.embedder = embedder
        self.idf = idf
        self.config = config
        self.authors = tuple(authors)
        self.scorer = SentenceScorer(
            embedder,
            idf,
            config.scorer,
            sentence_source=sentence_source,
            cache_size=cache_size,
            common_words=common_words,
            document_text=document_text,
        )

    def analyse(self, question: str) -> QuestionAnalysis:
        return analyse(question, self.idf, authors=self.authors)

    def candidates(
        self, question: str, passages: Sequence[Passage]
    ) -> tuple[list[ScoredSentence], Vectors]:
        return self.scorer.score(self.analyse(question), passages)

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        analysis = self.analyse(question)
        scored, vectors = self.scorer.score(analysis, passages)
        decision = decide(analysis, scored, self.config.answerability)
        if not decision.answerable or decision.best is None:
            return refusal(
                question,
                passages,
                self.name,
                [f"not answered: {decision.reason}", *decision.diagnostics],
                reason=decision.reason,
            )
        if analysis.explanatory:
            chosen = self._reasons(analysis, scored, vectors, decision)
        else:
            chosen = self._supporting(analysis, scored, vectors, decision)
        citations = tuple(
            Citation(
                n=scored[i].passage_number,
                passage=passages[scored[i].passage_number - 1],
                quote=scored[i].text,
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
            diagnostics=decision.diagnostics,
        )

    # ------------------------------------------------------------ composing

    def _redundant(
        self, i: int, chosen: Sequence[int], scored: Sequence[ScoredSentence], vectors: Vectors
    ) -> bool:
        for j in chosen:
            if float(vectors[i] @ vectors[j]) > self.config.redundancy:
                return True
            if scored[i].text in scored[j].text or scored[j].text in scored[i].text:
                return True
        return False

    def _supporting(
        self,
        analysis: QuestionAnalysis,
        scored: Sequence[ScoredSentence],
        vectors: Vectors,
        decision: Decision,
    ) -> list[int]:
        """The answering sentence, then at most two more: ones nearly as good, or ones that
        cover a part of the question the chosen sentences leave out. A question asking two
        things ("when ..., and what office ...?") gets the best further sentence for the
        other part even if it does not fill the first part's slot."""
        assert decision.best is not None
        config = self.config
        best = scored[decision.best]
        asked = set(analysis.terms)
        covered = set(terms(best.text)) & asked
        chosen = [decision.best]
        for i in sorted(range(len(scored)), key=lambda i: -scored[i].score):
            if len(chosen) == config.max_sentences:
                break
            candidate = scored[i]
            other_part = len(chosen) < analysis.parts
            if i in chosen or (candidate.fills_slot is False and not other_part):
                continue
            if candidate.score < config.part_ratio * best.score:
                break
            if other_part and not self._redundant(i, chosen, scored, vectors):
                chosen.append(i)
                covered |= set(terms(candidate.text)) & asked
                continue
            gain = set(terms(candidate.text)) & asked - covered
            added = term_coverage(list(asked), gain, self.idf)
            if candidate.score < config.keep_ratio * best.score and added < config.part_gain:
                continue
            if not self._redundant(i, chosen, scored, vectors):
                chosen.append(i)
                covered |= gain
        return chosen

    def _reasons(
        self,
        analysis: QuestionAnalysis,
        scored: Sequence[ScoredSentence],
        vectors: Vectors,
        decision: Decision,
    ) -> list[int]:
        """2-4 reasons: on-topic sentences, those stating a cause first for a "why"
        question, from passages not yet cited where there are, none repeating another and
        none merely restating the question, in reading order."""
        assert decision.best is not None
        config = self.config
        wants_cause = analysis.kind == "reason"

        def causal(i: int) -> bool:
            return bool(_CAUSAL.search(scored[i].text))

        def restates(i: int) -> bool:
            return scored[i].coverage >= config.restatement

        def merit(i: int) -> float:
            s = scored[i]
            bonus = config.causal_bonus if wants_cause and causal(i) else 0.0
            return s.score * (0.5 + 0.5 * s.focus) + bonus

        ranked = sorted(range(len(scored)), key=lambda i: -merit(i))
        top = merit(ranked[0])
        pool = [i for i in ranked if not restates(i)] or [decision.best]
        chosen: list[int] = []
        for new_passage_only in (True, False):
            for i in pool:
                if len(chosen) == config.max_reasons:
                    break
                if len(chosen) >= config.min_reasons and merit(i) < config.reason_ratio * top:
                    break
                if i in chosen or self._redundant(i, chosen, scored, vectors):
                    continue
                cited = {scored[j].passage_number for j in chosen}
                if new_passage_only and scored[i].passage_number in cited:
                    continue
                chosen.append(i)
        return _reading_order(chosen, scored)


def _reading_order(chosen: Sequence[int], scored: Sequence[ScoredSentence]) -> list[int]:
    """Group by passage (passages in the order of their best sentence), then by position."""
    first_seen: dict[int, int] = {}
    for rank, i in enumerate(chosen):
        first_seen.setdefault(scored[i].passage_number, rank)
    return sorted(chosen, key=lambda i: (first_seen[scored[i].passage_number], i))


def idf_table(chunk_terms: Sequence[Sequence[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of each term over the chunks."""
    frequency: dict[str, int] = {}
    for chunk in chunk_terms:
        for term in set(chunk):
            frequency[term] = frequency.get(term, 0) + 1
    n = len(chunk_terms)
    return {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}

"""The knobs of `rag compare`, in one frozen record passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.answerability import AnswerabilityConfig


def _addresses() -> AnswerabilityConfig:
    # Whether an author addresses the question: `rag.answerability.decide` over the author's
    # sentences, with bars of its own (an author may address a question the answerer would
    # not answer from one sentence). From eval/calibrate_compare.py on eval/questions.jsonl:
    # at these bars all 42 gold authors of the comparative questions address theirs (the
    # lowest confidence is 0.229; at the answerer's 0.39 floor two of them fall below it),
    # and authors address 7.4% of the 175 (author, unanswerable question) pairs.
    return AnswerabilityConfig(min_similarity=0.30, focus_weight=0.5, min_confidence=0.20)


@dataclass(frozen=True)
class CompareConfig:
    addresses: AnswerabilityConfig = field(default_factory=_addresses)
    passages_per_author: int = 3
    max_quotes: int = 3
    keep_ratio: float = 0.8  # a further quote must be this confident relative to the best
    redundancy: float = 0.85  # cosine above which a sentence repeats a chosen one
    pool_size: int = 5  # sentences per author shown to the language model
    claim_pool: int = 12  # sentences per author searched for claims (offline points)
    claim_floor: float = 0.2  # ... from the passages: at least this confident
    claim_similarity: float = 0.3  # ... from anywhere in the documents: this close (cosine)
    # Two authors' claims are about the same subject when they name the same thing through
    # name variants (Moscow / Russia) with the same aspect (influence, relations...) AND
    # their sentences are this close in meaning (MiniLM cosine). Tuned on the "tune" half of
    # eval/compare_points.jsonl.
    same_subject: float = 0.45
    max_points: int = 3  # of agreement, and again of divergence
    summary_words: int = 35

"""The "does it answer" decision, on hand-made scored sentences (no model)."""

from __future__ import annotations

from rag.answerability import AnswerabilityConfig, decide
from rag.question import analyse
from rag.scoring import ScoredSentence


def sentence(
    text: str, score: float, *, fills: bool | None, similarity: float = 0.6
) -> ScoredSentence:
    return ScoredSentence(
        passage_number=1,
        text=text,
        similarity=similarity,
        coverage=0.5,
        focus=1.0,
        near_focus=1.0,
        years_near=True,
        rival=False,
        fills_slot=fills,
        score=score,
    )


DATE_QUESTION = analyse("In which year was the platform first convened?", {})
ON_TOPIC = sentence("The platform sets the stage for regional talks.", 0.62, fills=False)
ELSEWHERE = sentence("A meeting of the format took place in October 2024.", 0.40, fills=True)


def test_off_topic_questions_are_refused_on_the_similarity_floor() -> None:
    far = sentence("Something else entirely, in 2020.", 0.5, fills=True, similarity=0.2)
    decision = decide(DATE_QUESTION, [far], AnswerabilityConfig(min_similarity=0.41))
    assert not decision.answerable
    assert decision.reason == "nothing in the documents is about this"


def test_a_date_far_weaker_than_the_on_topic_sentence_is_not_the_answer() -> None:
    loose = AnswerabilityConfig(min_confidence=0.2, slot_gap=0.0)
    strict = AnswerabilityConfig(min_confidence=0.2, slot_gap=0.8)
    assert decide(DATE_QUESTION, [ON_TOPIC, ELSEWHERE], loose).answerable
    refused = decide(DATE_QUESTION, [ON_TOPIC, ELSEWHERE], strict)
    assert not refused.answerable
    assert "give no date" in refused.reason


def test_the_slot_gap_leaves_a_date_that_is_the_best_sentence_alone() -> None:
    answering = sentence("The platform was first convened in 2021.", 0.7, fills=True)
    strict = AnswerabilityConfig(min_confidence=0.2, slot_gap=0.8)
    decision = decide(DATE_QUESTION, [ON_TOPIC, answering], strict)
    assert decision.answerable and decision.best == 1


def test_questions_asking_for_no_slot_ignore_the_gap() -> None:
    question = analyse("What does the platform do?", {})
    assert question.slot is None
    weak = sentence("It meets once a year.", 0.40, fills=None)
    strong = sentence("The platform sets the stage for regional talks.", 0.62, fills=None)
    decision = decide(
        question, [weak, strong], AnswerabilityConfig(min_confidence=0.2, slot_gap=0.8)
    )
    assert decision.answerable and decision.best == 1

"""A model's reply that declines in its own words (rag/refusals.py) is a refusal, not an
answer; a partial answer with a cited part, and statements about others, are not."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import QueuedLLM

from rag.answer import answer_stream
from rag.generative import MODEL_DECLINED, LLMAnswerer
from rag.prompts import CANNOT_ANSWER
from rag.refusals import declines
from rag.types import Answer, Chunk, DocumentMeta, Passage

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"

DECLINING = [
    "I'm sorry, but I can't help with that.",
    "I cannot answer that question.",
    "I cannot answer",
    "As an AI language model, I cannot provide opinions.",
    "The provided documents do not contain information about the 2026 elections.",
    "Unfortunately, the passages don't specifically mention when they met.",
    "I don't know.",
    "I do not have enough information to answer this question.",
    "Based on the provided passages, it is not possible to determine the date.",
    "There is no information in the provided documents about the pipeline.",
    "In the documents provided, there is no mention of Georgia.",
    "No information about the corridor is provided in the passages.",
    "None of the passages mention the date.",
    "The context is silent on this point.",
    "Sorry, I couldn't find that in the sources.",
    "**I'm sorry**, but the sources do not address your question.",
    "I am unable to answer based on the given context.",
    "The information provided does not include the figure.",
    # an admission followed by an unsourced guess is still a refusal
    "The passages do not mention the date. It was probably 2023.",
]

ANSWERING = [
    "Pashinyan said he cannot accept this [1].",
    "Pashinyan said he cannot accept this.",
    "However, Armenia did not join the alliance.",
    "Sources say Russia does not intend to withdraw.",
    "In the documents, Russia is described as a security guarantor [1].",
    "There is no evidence that the plane was shot down deliberately.",
    "Iran cannot accept a corridor on its border [2].",
    "Information does not flow freely in Azerbaijan.",
    "I think the answer is Abu Dhabi [1].",
    "It is impossible to overstate the role of Russia [1].",
    "The Kremlin does not mention Armenia in its statements.",
    "Armenia froze its CSTO participation in 2024 [1]. It has not left the organisation [2].",
    # partial answers: what the documents lack, then what they say, cited
    "The documents do not say when they met. They met in Abu Dhabi [1].",
    "The documents do not say when, but they met in Abu Dhabi [1].",
    "I cannot be certain, but they met in Abu Dhabi [1].",
]


@pytest.mark.parametrize("reply", DECLINING)
def test_declining_replies(reply: str) -> None:
    assert declines(reply)


@pytest.mark.parametrize("reply", ANSWERING)
def test_answers_and_partial_answers_do_not_decline(reply: str) -> None:
    assert not declines(reply)


def passage() -> Passage:
    text = "Aliyev and Pashinyan met in Abu Dhabi in July 2025."
    meta = DocumentMeta(doc_id="d1", source="d1.txt", content_hash="0")
    chunk = Chunk(chunk_id="d1#0", doc_id="d1", index=0, text=text, start=0, end=len(text))
    return Passage(chunk=chunk, meta=meta, score=1.0, rank=1)


def test_a_declining_reply_becomes_a_refusal() -> None:
    model = QueuedLLM(["I'm sorry, but I can't help with that."])
    answer = LLMAnswerer(model, PROMPTS).answer("Where did they meet?", [passage()])
    # before: an answer with the text "I'm sorry, but I can't help with that."
    assert answer.refused
    assert answer.text == CANNOT_ANSWER
    assert answer.citations == ()
    assert answer.refusal_reason == MODEL_DECLINED
    assert "model_refused: I'm sorry, but I can't help with that." in answer.diagnostics
    assert answer.related  # the passages are offered as related reading, not as the answer


def test_a_streamed_declining_reply_ends_as_a_refusal() -> None:
    model = QueuedLLM(["The provided documents do not contain that information."])
    *deltas, last = answer_stream(LLMAnswerer(model, PROMPTS), "When?", [passage()])
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert isinstance(last, Answer) and last.refused and last.refusal_reason == MODEL_DECLINED


def test_a_partial_answer_stays_an_answer() -> None:
    reply = "The documents do not say why. They met in Abu Dhabi [1]."
    answer = LLMAnswerer(QueuedLLM([reply]), PROMPTS).answer("Why there?", [passage()])
    assert not answer.refused
    assert answer.text == reply
    assert [c.n for c in answer.citations] == [1]

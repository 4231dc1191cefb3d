"""The answerer registry (rag/answerers.py): names, the one fallback wrapper, the choice
of follow-up rewriter, and what adding an answerer takes. Fakes stand in for the index and
the model here; tests/test_answers.py covers the same paths over HTTP."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakes import Broken, QueuedLLM

from rag import answerers
from rag.answer import Answerer, answer_stream
from rag.assistant import Assistant
from rag.conversation import Conversation
from rag.errors import ConfigError, LLMError
from rag.settings import Settings
from rag.types import Answer, Chunk, DocumentMeta, Passage

ROOT = Path(__file__).resolve().parent.parent


def passage(text: str = "Aliyev and Pashinyan met in Abu Dhabi in July 2025.") -> Passage:
    meta = DocumentMeta(doc_id="d1", source="d1.txt", content_hash="0", author="Ann Author")
    chunk = Chunk(chunk_id="d1#0", doc_id="d1", index=0, text=text, start=0, end=len(text))
    return Passage(chunk=chunk, meta=meta, score=1.0, rank=1)


class FirstSentence:
    """An extractive stand-in: cites the first passage as it stands."""

    name = "extractive"

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        return Answer(
            question=question,
            standalone_question=question,
            text=f"{passages[0].chunk.text} [1]",
            citations=(),
            passages=tuple(passages),
            refused=False,
            backend=self.name,
        )


@dataclass
class FakeParts:
    """The parts an answerer is built from, with a scripted model (or none configured)."""

    model: QueuedLLM | None = None
    settings: Settings = field(
        default_factory=lambda: Settings(_env_file=None, prompts_dir=ROOT / "prompts")  # type: ignore[call-arg]
    )
    extractive: FirstSentence = field(default_factory=FirstSentence)

    @property
    def llm(self) -> QueuedLLM:
        if self.model is None:
            raise ConfigError("no language model is configured: set RAG_LLM_BASE_URL")
        return self.model

    def authors(self) -> list[str]:
        return ["Neil Melvin"]


def test_the_registry_names_what_the_backend_setting_accepts() -> None:
    literal = typing.get_type_hints(Settings)["backend"]
    assert set(answerers.names()) == set(typing.get_args(literal))
    assert [name for _label, name in answerers.choices()] == list(answerers.names())
    assert answerers.FALLBACK in answerers.names()


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"--backend must be extractive or openai, not 'gpt'"):
        answerers.kind("gpt", what="--backend")
    with pytest.raises(ConfigError, match="not 'gpt'"):
        answerers.build_answerer("gpt", FakeParts())  # type: ignore[arg-type]


def test_a_model_answerer_answers_when_the_model_does() -> None:
    parts = FakeParts(QueuedLLM(["They met in Abu Dhabi [1]."]))
    answer = answerers.build_answerer("openai", parts).answer("Where?", [passage()])  # type: ignore[arg-type]
    assert answer.backend == "openai" and answer.notice is None
    assert answer.text == "They met in Abu Dhabi [1]."


@pytest.mark.parametrize(
    ("model", "why"),
    [
        (None, "no language model is configured: set RAG_LLM_BASE_URL"),
        (QueuedLLM([LLMError("the server answered 503")]), "the server answered 503"),
    ],
)
def test_model_failures_give_the_extractive_answer_with_a_notice(
    model: QueuedLLM | None, why: str
) -> None:
    answerer = answerers.build_answerer("openai", FakeParts(model))  # type: ignore[arg-type]
    assert answerer.name == "openai"
    answer = answerer.answer("Where?", [passage()])
    assert answer.backend == "extractive"
    assert answer.notice == (
        f"The language model was not used ({why}); this is the extractive answer."
    )


def test_a_stream_cut_midway_is_superseded_by_the_extractive_answer() -> None:
    model = QueuedLLM([Broken(("They met", " in"), LLMError("the stream was cut off"))])
    answerer = answerers.build_answerer("openai", FakeParts(model))  # type: ignore[arg-type]
    *deltas, last = answer_stream(answerer, "Where?", [passage()])
    assert deltas == ["They met", " in"]
    assert isinstance(last, Answer) and last.backend == "extractive"
    assert last.notice is not None and "the stream was cut off" in last.notice


def test_the_extractive_answerer_is_not_wrapped() -> None:
    parts = FakeParts()
    assert answerers.build_answerer("extractive", parts) is parts.extractive  # type: ignore[arg-type]
    answerers.require("extractive", parts)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no language model"):
        answerers.require("openai", parts)  # type: ignore[arg-type]


def test_follow_ups_are_rewritten_by_the_model_or_by_the_rules() -> None:
    conversation = Conversation()
    conversation.add("What is Russia's role in Armenia?", "Russia is Armenia's ally [1].")
    follow_up = "And what about Georgia?"
    by_rules = answerers.build_condenser("extractive", FakeParts())  # type: ignore[arg-type]
    ruled = by_rules.condense(conversation, follow_up)
    assert ruled == "What is Russia's role in Georgia?"

    model = QueuedLLM(["How does Russia act in Georgia?"])
    by_model = answerers.build_condenser("openai", FakeParts(model))  # type: ignore[arg-type]
    assert by_model.condense(conversation, follow_up) == "How does Russia act in Georgia?"

    failing = QueuedLLM([LLMError("timed out")])
    fallen = answerers.build_condenser("openai", FakeParts(failing))  # type: ignore[arg-type]
    assert fallen.condense(conversation, follow_up) == ruled
    unconfigured = answerers.build_condenser("openai", FakeParts())  # type: ignore[arg-type]
    assert unconfigured.condense(conversation, follow_up) == ruled
    assert failing.pending == 0 and not model.pending


def test_a_rewrite_that_does_not_hold_up_is_replaced_and_reported() -> None:
    conversation = Conversation()
    conversation.add("What is Russia's role in Armenia?", "Russia is Armenia's ally [1].")
    follow_up = "And what about Georgia?"
    echo = QueuedLLM(["Russia is Armenia's ally [1]."])
    rewrite = answerers.build_condenser("openai", FakeParts(echo)).rewrite(conversation, follow_up)  # type: ignore[arg-type]
    assert rewrite.question == "What is Russia's role in Georgia?"
    [note] = rewrite.diagnostics
    assert note.startswith("rewrite_rejected: looks like an answer (cites passages")

    failing = QueuedLLM([LLMError("timed out")])
    rewrite = answerers.build_condenser("openai", FakeParts(failing)).rewrite(
        conversation, follow_up
    )  # type: ignore[arg-type]
    assert rewrite.question == "What is Russia's role in Georgia?"
    assert rewrite.diagnostics == ("rewrite_failed: timed out; used the rule-based rewrite",)

    model = QueuedLLM(["How does Russia act in Georgia?"])
    rewrite = answerers.build_condenser("openai", FakeParts(model)).rewrite(conversation, follow_up)  # type: ignore[arg-type]
    assert rewrite.question == "How does Russia act in Georgia?" and rewrite.diagnostics == ()


def test_a_first_question_is_not_rewritten() -> None:
    model = QueuedLLM()  # any call would fail the test
    condenser = answerers.build_condenser("openai", FakeParts(model))  # type: ignore[arg-type]
    assert condenser.condense(Conversation(), "  Who is Melvin?  ") == "Who is Melvin?"


class Shouting:
    """A new answerer: one class..."""

    name = "shouting"

    def __init__(self, inner: Answerer) -> None:
        self.inner = inner

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        plain = self.inner.answer(question, passages)
        return dataclasses.replace(plain, text=plain.text.upper(), backend=self.name)


def test_a_new_answerer_is_one_class_and_one_registry_entry(
    demo_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = answerers.Kind("shouting", "Shouting", lambda parts: Shouting(parts.extractive))
    monkeypatch.setitem(answerers.REGISTRY, entry.name, entry)  # ...and one entry
    question = "Where did Aliyev and Pashinyan meet in July 2025?"
    answer = demo_assistant.ask(question, backend="shouting")
    plain = demo_assistant.ask(question, backend="extractive")
    assert answer.backend == "shouting"
    assert answer.text == plain.text.upper() and answer.citations == plain.citations

"""Follow-up evaluation: scoring a conversation's last rewrite and answer, and playing a
conversation through an assistant (a scripted one, and the real one over the demo index)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from rag.assistant import Assistant
from rag.conversation import Conversation
from rag.evaluation.conversations import (
    answer_keys_hit,
    forbidden_in_rewrite,
    missing_rewrite_keys,
    play,
    play_all,
    reasons_share,
    rewrite_accuracy,
    rewrite_correct,
    why_wrong,
)
from rag.types import Answer


@dataclass(frozen=True)
class Item:
    id: str = "x1"
    turns: Sequence[str] = ("When did the Russian peacekeepers leave Karabakh?", "And Melvin?")
    rewrite_keys: Sequence[Sequence[str]] = (("Melvin",), ("peacekeep",), ("Karabakh", "Artsakh"))
    rewrite_forbidden: Sequence[str] = ("Huseynov",)
    answer_keys: Sequence[str] = ("April 2024",)
    reasons: Sequence[Sequence[str]] | None = None


def answer(text: str, *, refused: bool = False, standalone: str = "q") -> Answer:
    return Answer(
        question="q",
        standalone_question=standalone,
        text=text,
        citations=(),
        passages=(),
        refused=refused,
        backend="scripted",
    )


@pytest.mark.parametrize(
    ("rewrite", "correct"),
    [
        ("When did the Russian peacekeepers leave Karabakh, according to Melvin?", True),
        (
            "when did the russian PEACEKEEPING force leave artsakh per melvin",
            True,
        ),  # case, alternatives
        ("When did the Russian peacekeepers leave Karabakh?", False),  # Melvin missing
        (
            "When did the peacekeepers leave Karabakh, says Melvin, not Huseynov?",
            False,
        ),  # forbidden
        ("And Melvin?", False),
    ],
)
def test_rewrite_correct(rewrite: str, correct: bool) -> None:
    assert rewrite_correct(rewrite, Item()) is correct


def test_rewrite_matching_ignores_curly_quotes_and_dashes() -> None:
    item = Item(rewrite_keys=(("North-South",), ("Russia's",)), rewrite_forbidden=())
    assert rewrite_correct("When will Russia’s North–South corridor open?", item)


def test_what_a_wrong_rewrite_lacks_and_holds() -> None:
    rewrite = "When did the peacekeepers leave, according to Huseynov?"
    assert missing_rewrite_keys(rewrite, Item()) == [("Melvin",), ("Karabakh", "Artsakh")]
    assert forbidden_in_rewrite(rewrite, Item()) == ["Huseynov"]


def test_answer_keys_and_reasons() -> None:
    item = Item(answer_keys=("April 2024", "Karabakh"))
    assert answer_keys_hit(answer("They left Karabakh in April 2024 [1]."), item) is True
    assert answer_keys_hit(answer("They left in April 2024 [1]."), item) is False
    assert answer_keys_hit(answer("Karabakh, April 2024", refused=True), item) is False
    assert answer_keys_hit(answer("anything"), Item(answer_keys=())) is None

    listed = Item(answer_keys=(), reasons=(("Turkey",), ("Middle Corridor", "trade route")))
    assert reasons_share(answer("Work with Turkey on a new trade route."), listed) == 1.0
    assert reasons_share(answer("Work with Turkey."), listed) == 0.5
    assert reasons_share(answer("Work with Turkey.", refused=True), listed) == 0.0
    assert reasons_share(answer("anything"), Item()) is None


@dataclass
class ScriptedAssistant:
    """Rewrites from a table (a turn not in it stands alone); records what each ask saw."""

    rewrites: dict[str, str]
    replies: dict[str, str]
    seen: list[tuple[str, int, str | None]] = field(default_factory=list)

    def ask(
        self, question: str, *, conversation: Conversation | None = None, backend: str | None = None
    ) -> Answer:
        assert conversation is not None
        self.seen.append((question, len(conversation.turns), backend))
        standalone = self.rewrites.get(question, question)
        reply = answer(self.replies.get(standalone, "no"), standalone=standalone)
        conversation.add(standalone, reply.text)
        return reply


def test_play_asks_the_turns_in_one_conversation_and_scores_the_last() -> None:
    item = Item(
        turns=("Who is Vasif Huseynov?", "Where does he lecture?", "And Melvin?"),
        rewrite_keys=(("Melvin",),),
        rewrite_forbidden=("Huseynov",),
        answer_keys=("RUSI",),
    )
    assistant = ScriptedAssistant(
        rewrites={
            "Where does he lecture?": "Where does Vasif Huseynov lecture?",
            "And Melvin?": "Where does Melvin lecture?",
        },
        replies={"Where does Melvin lecture?": "Melvin is at RUSI [1]."},
    )
    result = play(assistant, item, backend="extractive")

    assert [(q, n) for q, n, _ in assistant.seen] == [(t, k) for k, t in enumerate(item.turns)]
    assert {b for *_, b in assistant.seen} == {"extractive"}
    assert result.rewrites == (
        "Who is Vasif Huseynov?",
        "Where does Vasif Huseynov lecture?",
        "Where does Melvin lecture?",
    )
    assert result.rewrite == "Where does Melvin lecture?"
    assert result.rewrite_correct and result.keys_hit is True and result.reasons_given is None
    assert result.answer == "Melvin is at RUSI [1]." and not result.refused
    assert why_wrong(result) == "correct"


def test_accuracy_over_conversations_and_why_one_is_wrong() -> None:
    good = Item(id="a", turns=("q1", "q2"), rewrite_keys=(("Melvin",),), rewrite_forbidden=())
    bad = Item(id="b", turns=("q1", "q3"))
    assistant = ScriptedAssistant(
        rewrites={"q2": "What does Melvin say?", "q3": "What does Huseynov say?"}, replies={}
    )
    results = play_all(assistant, [good, bad])
    assert [r.rewrite_correct for r in results] == [True, False]
    assert rewrite_accuracy(results) == 0.5
    assert rewrite_accuracy([]) is None
    assert why_wrong(results[1]) == "missing Melvin; peacekeep; Karabakh / Artsakh, holds Huseynov"
    assert results[1].keys_hit is False


def test_play_through_the_assistant(demo_assistant: Assistant) -> None:
    item = Item(
        turns=("What is Russia's role in Armenia?", "And what about Georgia?"),
        rewrite_keys=(("Georgia",), ("Russia", "Moscow")),
        rewrite_forbidden=("Armenia",),
        answer_keys=("Georgia",),
    )
    result = play(demo_assistant, item, backend="extractive")
    assert result.rewrites == (item.turns[0], "What is Russia's role in Georgia?")
    assert result.rewrite_correct
    assert result.keys_hit is (not result.refused)

"""Follow-up evaluation: conversations played through an assistant, the last turn scored.

A conversation (eval/conversations.jsonl, see rag.evaluation.schema) is asked turn by turn
in one `Conversation`, so each follow-up is rewritten against the turns before it, as in
the app. Only the last turn is scored: its standalone rewrite must contain one alternative
of every `rewrite_keys` item and none of `rewrite_forbidden`; its answer must contain the
`answer_keys` (or give the `reasons`). Strings match case-insensitively after the same
normalisation as evidence quotes (curly quotes, dashes, spaces), as substrings, so a key
"peacekeep" matches "peacekeepers".

Pure functions over narrow protocols: the set's records and the assistant are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.conversation import Conversation
from rag.evaluation.metrics import normalise
from rag.types import Answer


class ScoredConversation(Protocol):
    """What is read of one conversation (rag.evaluation.schema.EvalConversation)."""

    @property
    def id(self) -> str: ...
    @property
    def turns(self) -> Sequence[str]: ...
    @property
    def rewrite_keys(self) -> Sequence[Sequence[str]]: ...
    @property
    def rewrite_forbidden(self) -> Sequence[str]: ...
    @property
    def answer_keys(self) -> Sequence[str]: ...
    @property
    def reasons(self) -> Sequence[Sequence[str]] | None: ...


class Asker(Protocol):
    """What is asked of the assistant (rag.assistant.Assistant.ask)."""

    def ask(
        self, question: str, *, conversation: Conversation | None = None, backend: str | None = None
    ) -> Answer: ...


@dataclass(frozen=True)
class ConversationResult:
    """One conversation played: every turn's rewrite, the last turn's scores."""

    id: str
    turns: tuple[str, ...]
    rewrites: tuple[str, ...]  # the standalone question of each turn
    rewrite_correct: bool
    missing_keys: tuple[tuple[str, ...], ...]  # rewrite_keys items no alternative of which is in
    forbidden_found: tuple[str, ...]  # rewrite_forbidden strings that are in
    answer: str
    refused: bool
    keys_hit: bool | None  # None when the conversation is scored by reasons only
    reasons_given: float | None  # share of reasons the answer gives; None without reasons

    @property
    def rewrite(self) -> str:
        """The last turn's standalone question: the one scored."""
        return self.rewrites[-1]


def _contains(text: str, needle: str) -> bool:
    return normalise(needle) in normalise(text)


def missing_rewrite_keys(rewrite: str, item: ScoredConversation) -> list[tuple[str, ...]]:
    """The rewrite_keys items of which the rewrite holds no alternative."""
    return [
        tuple(alternatives)
        for alternatives in item.rewrite_keys
        if not any(_contains(rewrite, a) for a in alternatives)
    ]


def forbidden_in_rewrite(rewrite: str, item: ScoredConversation) -> list[str]:
    """The rewrite_forbidden strings the rewrite holds (context that leaked in)."""
    return [f for f in item.rewrite_forbidden if _contains(rewrite, f)]


def rewrite_correct(rewrite: str, item: ScoredConversation) -> bool:
    """One alternative of every rewrite_keys item, and no rewrite_forbidden string."""
    return not missing_rewrite_keys(rewrite, item) and not forbidden_in_rewrite(rewrite, item)


def answer_keys_hit(answer: Answer, item: ScoredConversation) -> bool | None:
    """Every answer key in a non-refused answer; None when there are no answer keys."""
    if not item.answer_keys:
        return None
    return not answer.refused and all(_contains(answer.text, k) for k in item.answer_keys)


def reasons_share(answer: Answer, item: ScoredConversation) -> float | None:
    """Share of the reasons of which the answer gives one alternative (0 when refused)."""
    if not item.reasons:
        return None
    if answer.refused:
        return 0.0
    given = [any(_contains(answer.text, a) for a in reason) for reason in item.reasons]
    return sum(given) / len(given)


def play(
    assistant: Asker, item: ScoredConversation, *, backend: str | None = None
) -> ConversationResult:
    """Ask the turns in order in one conversation and score the last."""
    conversation = Conversation()
    answers = [
        assistant.ask(turn, conversation=conversation, backend=backend) for turn in item.turns
    ]
    last = answers[-1]
    rewrite = last.standalone_question
    missing = missing_rewrite_keys(rewrite, item)
    forbidden = forbidden_in_rewrite(rewrite, item)
    return ConversationResult(
        id=item.id,
        turns=tuple(item.turns),
        rewrites=tuple(a.standalone_question for a in answers),
        rewrite_correct=not missing and not forbidden,
        missing_keys=tuple(missing),
        forbidden_found=tuple(forbidden),
        answer=last.text,
        refused=last.refused,
        keys_hit=answer_keys_hit(last, item),
        reasons_given=reasons_share(last, item),
    )


def play_all(
    assistant: Asker, items: Sequence[ScoredConversation], *, backend: str | None = None
) -> list[ConversationResult]:
    return [play(assistant, item, backend=backend) for item in items]


def rewrite_accuracy(results: Sequence[ConversationResult]) -> float | None:
    """Share of conversations whose last rewrite is correct; None for no conversations."""
    if not results:
        return None
    return sum(r.rewrite_correct for r in results) / len(results)


def why_wrong(result: ConversationResult) -> str:
    """One line on a wrong rewrite, for a report: what is missing, what leaked in."""
    parts = []
    if result.missing_keys:
        parts.append("missing " + "; ".join(" / ".join(k) for k in result.missing_keys))
    if result.forbidden_found:
        parts.append("holds " + ", ".join(result.forbidden_found))
    return ", ".join(parts) or "correct"

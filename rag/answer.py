"""The answerer extension point and what every answerer shares.

An answerer turns a question and the passages retrieved for it into an `Answer` whose
citations `[n]` number those passages from 1. It has one method to implement, `answer`;
one that can show its text as it is written also implements `stream` (text deltas, then
the final `Answer`). `rag.answerers` names them and builds the one a setting asks for."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rag.prompts import CANNOT_ANSWER
from rag.types import Answer, Passage

if TYPE_CHECKING:  # only its type: plain answering never loads the follow-up rules
    from rag.conversation import Conversation


class Answerer(Protocol):
    name: str

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer: ...


@runtime_checkable
class StreamingAnswerer(Answerer, Protocol):
    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str | Answer]:
        """Text deltas as they are written, then the final, checked `Answer` (which
        supersedes the text streamed before it)."""
        ...


class Condenser(Protocol):
    """Rewrites a follow-up into a standalone question, given the conversation so far."""

    def condense(self, conversation: Conversation, question: str) -> str: ...


@dataclass(frozen=True)
class Rewrite:
    """A follow-up as a standalone question, with what happened on the way (a model's
    rewrite that failed or was rejected) for the answer's diagnostics."""

    question: str
    diagnostics: tuple[str, ...] = ()


class Rewriter(Condenser, Protocol):
    """A condenser that also says how it got its question (`rag.answerers` builds them)."""

    def rewrite(self, conversation: Conversation, question: str) -> Rewrite: ...


def answer_stream(
    answerer: Answerer, question: str, passages: Sequence[Passage], *, stream: bool = True
) -> Iterator[str | Answer]:
    """Text deltas where the answerer streams (and `stream` is asked), then the Answer."""
    if stream and isinstance(answerer, StreamingAnswerer):
        yield from answerer.stream(question, passages)
    else:
        yield answerer.answer(question, passages)


def related_passages(passages: Sequence[Passage], limit: int = 3) -> tuple[Passage, ...]:
    """The closest passages, shown beside a refusal as 'related', never as the answer."""
    return tuple(passages[:limit])


def refusal(
    question: str,
    passages: Sequence[Passage],
    backend: str,
    diagnostics: Sequence[str] = (),
    *,
    reason: str | None = None,
) -> Answer:
    """The explicit cannot-answer outcome, with the closest passages as related reading
    and, where known, the reason in words a user can read."""
    return Answer(
        question=question,
        standalone_question=question,
        text=CANNOT_ANSWER,
        citations=(),
        passages=tuple(passages),
        refused=True,
        backend=backend,
        related=related_passages(passages),
        diagnostics=tuple(diagnostics),
        refusal_reason=reason,
    )

"""The answerer extension point and what every answerer shares.

An answerer turns a question and the passages retrieved for it into an `Answer` whose
citations `[n]` number those passages from 1. It has one method to implement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rag.prompts import CANNOT_ANSWER
from rag.types import Answer, Passage


class Answerer(Protocol):
    name: str

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer: ...


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

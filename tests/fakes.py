"""Small fakes of the project's seams, for tests."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rag.llm import Message


@dataclass(frozen=True)
class Broken:
    """A scripted stream that yields `chunks` and then raises `error` (from `complete`,
    the error is raised at once)."""

    chunks: tuple[str, ...]
    error: Exception


Scripted = str | Sequence[str] | Exception | Broken


class QueuedLLM:
    """An `LLM` that answers from a queue of scripted replies, one per call.

    A reply is a `str` (streamed as word-sized deltas), a list/tuple of `str` (streamed as
    exactly those deltas; `complete` joins them), an `Exception` (raised), or `Broken`
    (a stream that fails midway). Calls beyond the queue fail the test with AssertionError.
    The messages of every call are recorded in `calls`.
    """

    def __init__(self, replies: Iterable[Scripted] = (), name: str = "queued-fake") -> None:
        self._replies: deque[Scripted] = deque(replies)
        self._name = name
        self.calls: list[list[Message]] = []

    @property
    def name(self) -> str:
        return self._name

    def add(self, *replies: Scripted) -> QueuedLLM:
        self._replies.extend(replies)
        return self

    @property
    def pending(self) -> int:
        return len(self._replies)

    def _next(self, messages: Sequence[Message]) -> Scripted:
        self.calls.append([Message(role=m["role"], content=m["content"]) for m in messages])
        if not self._replies:
            raise AssertionError(
                f"QueuedLLM: no scripted reply left for call {len(self.calls)}: "
                f"{messages[-1]['content'][:80] if messages else ''!r}"
            )
        return self._replies.popleft()

    def complete(self, messages: Sequence[Message]) -> str:
        reply = self._next(messages)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, Broken):
            raise reply.error
        return reply if isinstance(reply, str) else "".join(reply)

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        reply = self._next(messages)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, Broken):
            yield from reply.chunks
            raise reply.error
        yield from (re.findall(r"\s*\S+", reply) if isinstance(reply, str) else reply)

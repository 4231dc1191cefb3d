"""Small fakes of the project's seams, for tests."""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from rag.embeddings import Vectors
from rag.llm import Message


def unit_vectors(rows: int, dimension: int = 16, seed: int = 0) -> Vectors:
    """Seeded random L2-normalised vectors, for the vector indexes' mechanics."""
    vectors = np.random.default_rng(seed).normal(size=(rows, dimension)).astype(np.float32)
    normalised: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalised


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


_PIECE = re.compile(r"\w+|[^\w\s]")


class HashEmbedder:
    """A deterministic stand-in for the embedding model, for tests of the index mechanics
    (incremental ingest, integrity checks, atomic writes), not of retrieval quality.

    Each word is hashed to one signed dimension (the hashing trick, as in haystack's mock
    embedder), so equal texts get equal vectors and texts sharing words point the same way;
    vectors are L2-normalised like the real model's. A token is a word or a punctuation
    mark, plus the model's two special tokens. `texts` counts what it was asked to embed.
    Use it with `Settings(embedding_model=HashEmbedder.name)`, or re-ingest sees another
    model and rebuilds."""

    name = "hash-embedder"

    def __init__(self, dimension: int = 64, max_tokens: int = 256, name: str = name) -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += len(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest())
                vectors[row, digest % self.dimension] += 1.0 if digest & (1 << 63) else -1.0
            if not vectors[row].any():
                vectors[row, 0] = 1.0
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def count_tokens(self, text: str) -> int:
        return len(_PIECE.findall(text)) + 2

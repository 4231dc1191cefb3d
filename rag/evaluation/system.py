"""What an evaluation needs of the system it scores: `rag.assistant.Assistant` is one, the
honesty test's deliberately wrong wrappers are others. The evaluation depends on this
protocol, not on the facade (which imports the evaluation to run it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rag.conversation import Conversation
from rag.embeddings import Embedder
from rag.extractive import ExtractiveAnswerer
from rag.llm import LLM
from rag.retrieval import Filters
from rag.settings import Settings
from rag.store import LoadedIndex
from rag.types import Answer, Comparison, Passage


class System(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def index(self) -> LoadedIndex: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def extractive(self) -> ExtractiveAnswerer: ...

    @property
    def llm(self) -> LLM: ...

    def authors(self) -> list[str]: ...

    def search(
        self, query: str, *, k: int | None = None, filters: Filters = Filters()
    ) -> list[Passage]: ...

    def answer(
        self, question: str, passages: Sequence[Passage], *, backend: str | None = None
    ) -> Answer: ...

    def ask(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        backend: str | None = None,
        k: int | None = None,
        filters: Filters = Filters(),
    ) -> Answer: ...

    def condense(
        self, question: str, conversation: Conversation | None, backend: str | None = None
    ) -> str: ...

    def compare(
        self,
        question: str,
        authors: Sequence[str] | None = None,
        backend: str | None = None,
    ) -> Comparison: ...

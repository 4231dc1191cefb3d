"""The facade the CLI, the UI and the evaluation call: one place that wires settings, the
index, the embedder and the retriever, loading each only when first needed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rag.embeddings import Embedder, load_embedder
from rag.indexing import IngestReport, Progress, ingest
from rag.retrieval import Filters, Retriever
from rag.settings import Settings
from rag.store import LoadedIndex, load_index
from rag.types import Passage


class Assistant:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder_factory: Callable[[], Embedder] | None = None,
    ) -> None:
        self.settings = settings
        self._embedder_factory = embedder_factory or (
            lambda: load_embedder(settings.embedding_model, settings.embedding_batch_size)
        )
        self._embedder: Embedder | None = None
        self._index: LoadedIndex | None = None
        self._retriever: Retriever | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    @property
    def index(self) -> LoadedIndex:
        if self._index is None:
            self._index = load_index(self.settings.collection_dir)
        return self._index

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.index, self.embedder, self.settings)
        return self._retriever

    def reload(self) -> None:
        """Pick up a new index generation (after an ingest)."""
        self._index = None
        self._retriever = None

    def ingest(
        self, paths: Sequence[Path], *, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        report = ingest(
            paths, self.settings, lambda: self.embedder, rebuild=rebuild, progress=progress
        )
        self.reload()
        return report

    def search(self, query: str, *, k: int | None = None, filters: Filters = Filters()) -> list[Passage]:
        return self.retriever.search(query, k=k, filters=filters)

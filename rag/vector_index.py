"""Nearest-neighbour search over vectors: the `VectorIndex` protocol and its registry.

A vector index holds L2-normalised float32 vectors under int64 ids (the row of the chunk or
sentence they embed) and ranks by inner product, which is cosine for such vectors. The
store keeps one for chunks and one for sentences; which implementation backs each is a
name in `REGISTRY` (`RAG_VECTOR_STORE`), so a new engine is one class plus one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from rag.errors import ConfigError

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search over id-keyed vectors. `search` pads missing hits with id -1."""

    kind: str  # the registry name it was built under, recorded in the manifest
    dimension: int

    def __len__(self) -> int: ...

    def add(self, ids: Ids, vectors: Vectors) -> None: ...

    def remove(self, ids: Ids) -> int:
        """Drop these ids; returns how many were present."""
        ...

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        """The `k` best (scores, ids) per query row, best first; shape (len(queries), k)."""
        ...

    def save(self, path: Path) -> None:
        """Write the index to `path` (a file or folder the implementation owns)."""
        ...


class FaissFlatIndex:
    """Exact search (FAISS `IndexFlatIP` under an id map): the reference the approximate
    indexes are measured against, and the right choice for small collections."""

    kind = "flat"

    def __init__(self, dimension: int) -> None:
        import faiss

        self.dimension = dimension
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(ids, dtype=np.int64),
            )

    def remove(self, ids: Ids) -> int:
        import faiss

        selector = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        return int(self._index.remove_ids(selector))

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if k <= 0 or not len(self):
            empty = np.zeros((len(queries), max(k, 0)))
            return empty.astype(np.float32), np.full(empty.shape, -1, dtype=np.int64)
        scores, ids = self._index.search(queries, k)
        return scores.astype(np.float32), ids.astype(np.int64)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissFlatIndex:
        import faiss

        index = faiss.read_index(str(path))
        loaded = cls.__new__(cls)
        loaded.dimension = int(index.d)
        loaded._index = index
        return loaded


IndexFactory = Callable[[int], VectorIndex]
IndexLoader = Callable[[Path], VectorIndex]

# name -> (create an empty index of a dimension, load a saved one)
REGISTRY: dict[str, tuple[IndexFactory, IndexLoader]] = {
    FaissFlatIndex.kind: (FaissFlatIndex, FaissFlatIndex.load),
}


def create_index(kind: str, dimension: int) -> VectorIndex:
    return _entry(kind)[0](dimension)


def load_vector_index(kind: str, path: Path) -> VectorIndex:
    return _entry(kind)[1](path)


def _entry(kind: str) -> tuple[IndexFactory, IndexLoader]:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise ConfigError(
            f"unknown vector index {kind!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None


def choose_kind(n_vectors: int, requested: str) -> str:
    """The registry kind for an index of `n_vectors`: `requested` unless it is "auto"
    (placeholder: "auto" is exact search at every size until the approximate kinds land)."""
    if requested == "auto":
        return FaissFlatIndex.kind
    _entry(requested)
    return requested

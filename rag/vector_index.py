"""Nearest-neighbour search over vectors: the `VectorIndex` protocol and its registry.

A vector index holds L2-normalised float32 vectors under int64 ids (the row of the chunk or
sentence they embed) and ranks by inner product, which is cosine for such vectors. The
store keeps one for chunks and one for sentences; which implementation backs each is a
name in `REGISTRY` (`RAG_VECTOR_STORE`), so a new engine is one class plus one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.settings import Settings

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
Entry = tuple[IndexFactory, IndexLoader]
# A kind that needs settings (a server address) is registered as a function of them
# returning its entry; None stands for the defaults, so the contract test needs none.
Configure = Callable[["Settings | None"], Entry]


def _qdrant(settings: Settings | None) -> Entry:
    try:
        from rag.integrations.qdrant import configure
    except ImportError as exc:
        raise ConfigError(
            f"RAG_VECTOR_STORE=qdrant needs qdrant-client ({exc}); "
            "install the extra: pip install 'rag[qdrant]'"
        ) from exc
    return configure(settings)


# name -> (create an empty index of a dimension, load a saved one), or a function of the
# settings returning that pair
REGISTRY: dict[str, Entry | Configure] = {
    FaissFlatIndex.kind: (FaissFlatIndex, FaissFlatIndex.load),
    "qdrant": _qdrant,
}


def _drop_qdrant(path: Path, settings: Settings | None) -> None:
    from rag.integrations.qdrant import drop_saved

    drop_saved(path, settings)


# Kinds whose saved index holds data outside its path (a remote collection).
_DROPPERS: dict[str, Callable[[Path, Settings | None], None]] = {"qdrant": _drop_qdrant}


def create_index(kind: str, dimension: int, settings: Settings | None = None) -> VectorIndex:
    return _entry(kind, settings)[0](dimension)


def load_vector_index(kind: str, path: Path, settings: Settings | None = None) -> VectorIndex:
    return _entry(kind, settings)[1](path)


def drop_saved_index(kind: str, path: Path, settings: Settings | None = None) -> None:
    """Free what an index saved at `path` holds elsewhere (a remote collection); call it
    before deleting a generation's folder. Nothing to do for file-backed kinds."""
    dropper = _DROPPERS.get(kind)
    if dropper is not None:
        dropper(path, settings)


def _entry(kind: str, settings: Settings | None) -> Entry:
    try:
        entry = REGISTRY[kind]
    except KeyError:
        raise ConfigError(
            f"unknown vector index {kind!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None
    return entry if isinstance(entry, tuple) else entry(settings)


def choose_kind(n_vectors: int, requested: str) -> str:
    """The registry kind for an index of `n_vectors`: `requested` unless it is "auto"
    (placeholder: "auto" is exact search at every size until the approximate kinds land)."""
    if requested == "auto":
        return FaissFlatIndex.kind
    if requested not in REGISTRY:
        _entry(requested, None)
    return requested

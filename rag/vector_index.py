"""Nearest-neighbour search over vectors: the `VectorIndex` protocol and its registry.

A vector index holds L2-normalised float32 vectors under int64 ids (the row of the chunk or
sentence they embed) and ranks by inner product, which is cosine for such vectors. The
store keeps one for chunks and one for sentences; which implementation backs each is a
name in `REGISTRY` (`RAG_VECTOR_STORE`), so a new engine is one class plus one entry here.

Kinds: "flat" (exact), "hnsw" (graph, float32), "ivf_sq8" and "ivf_pq" (inverted file with
8-bit or product-quantised codes, re-scored exactly from the float32 vectors on disk).
`choose_kind("auto")` is flat below 50,000 vectors and ivf_pq above, with sqrt(n) cells
(a power of two), nprobe 8 and 20x candidates re-scored: the cheapest setting with
recall@10 >= 0.95 at every size measured. Measured by eval/ann_sweep.py on this 2-core
machine under load (other jobs running; read the ratios), MiniLM vectors of the demo index
repeated with gaussian noise (norm 0.5) in their principal subspace and renormalised, 200
queries, one at a time; recall@10 against exact search:

    size  kind     parameters                    recall@10  p50 ms  build s     MB
     10k  flat                                       1.000    0.71      0.0    15.4
     10k  ivf_pq   nlist=128 nprobe=8 rescore=10     0.956    0.18     80.5     1.2
    100k  flat                                       1.000   64.2       1.4   154.4
    100k  hnsw     M=16 efSearch=32                  0.968    0.09     64.3   168.8
    100k  hnsw     M=32 efSearch=32                  0.990    0.11     90.2   181.6
    100k  ivf_sq8  nlist=256 nprobe=8                0.980    0.37      7.0    39.6
    100k  ivf_pq   nlist=256 nprobe=8                0.542    0.21     90.6     6.4
    100k  ivf_pq   nlist=256 nprobe=8 rescore=10     0.990    0.33     90.6     6.4
      1M  flat                                       1.000  517        3.5  1544
      1M  ivf_sq8  nlist=1024 nprobe=8               0.980    2.17    134.5   393.6
      1M  ivf_pq   nlist=1024 nprobe=8 rescore=10    0.943    0.73    192.1    58.0
      1M  ivf_pq   nlist=1024 nprobe=8 rescore=20    0.988    0.78    192.1    58.0
      1M  ivf_pq   nlist=1024 nprobe=16 rescore=40   0.999    1.34    192.1    58.0

Why ivf_pq: at 1M chunks the sentence index holds ~3M vectors; as float32 (flat, HNSW)
that is 4.6 GB and as SQ8 1.2 GB, against a 2 GB budget for the whole process, while PQ
codes take 48 bytes a vector (~150 MB) and the exact re-scoring reads only the candidates'
rows of the memory-mapped embeddings. HNSW searches fastest but builds at ~1,000 vectors/s
here (100k: 64 s with M=16, 90 s with M=32), so 3M sentence vectors would take an hour;
IVF trains its cells and codes on a sample, so its build time grows with the adds only.
The perturbed vectors cluster around the 981 originals, which favours IVF's cells (real
collections spread more: re-measure with `eval/ann_sweep.py --index` on one); PQ codes
alone find about half of the true top 10, hence the re-scoring, whose candidates must grow
with the collection (10x suffices at 100k, 20x at 1M).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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


RowSource = Any  # an array-like of float32 vectors indexed by id (e.g. a read-only np.memmap)

# Parameters, chosen by eval/ann_sweep.py (see the module docstring for the figures).
APPROXIMATE_MIN_VECTORS = 50_000  # "auto": exact below this many vectors
APPROXIMATE_KIND = "ivf_pq"  # "auto": the kind at or above it
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 32
IVF_CELLS_PER_SQRT = 1  # nlist = sqrt(n), a power of two
IVF_NPROBE = 8
IVF_TRAIN_PER_CELL = 40  # k-means sample: this many points per cell
IVF_KMEANS_ITERATIONS = 10
PQ_DIMENSIONS_PER_BYTE = 8
RESCORE_FACTOR = 20  # candidates fetched per wanted hit when re-scoring exactly
_MIN_TRAIN = 10_000
_MIN_POINTS_PER_CELL = 39  # below this FAISS's k-means warns and cells go empty
_ADD_BATCH = 65_536
_NO_ID_ABOVE = 1 << 62
_FEW_QUERIES = 8


def ivf_nlist(n_vectors: int) -> int:
    """Cells for `n_vectors`: a multiple of sqrt(n), rounded to a power of two."""
    target = IVF_CELLS_PER_SQRT * np.sqrt(max(n_vectors, 1))
    return int(2 ** max(0, round(float(np.log2(target)))))


def choose_kind(n_vectors: int, requested: str) -> str:
    """The index kind for a collection of `n_vectors`: `requested` itself unless "auto",
    which is exact search below `APPROXIMATE_MIN_VECTORS` and `APPROXIMATE_KIND` above."""
    if requested != "auto":
        _entry(requested, None)  # an unknown name fails here, before any work
        return requested
    return FaissFlatIndex.kind if n_vectors < APPROXIMATE_MIN_VECTORS else APPROXIMATE_KIND


@contextlib.contextmanager
def _threads_for(queries: int) -> Iterator[None]:
    """One OpenMP thread for a search of a few queries. FAISS otherwise opens a parallel
    region per search whose idle threads wait at its barrier: measured on this 2-core
    machine under load, a flat search of 5,000 vectors took 130 ms instead of under 1.
    The setting is per calling thread, so concurrent searches and builds keep theirs."""
    if queries > _FEW_QUERIES:
        yield
        return
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _floats(vectors: Vectors) -> Vectors:
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _check_ids(ids: Ids) -> None:
    if len(ids) and int(np.min(ids)) < 0:
        raise ValueError("vector ids must be non-negative (they are rows)")


def _empty(queries: int, k: int) -> tuple[Scores, Ids]:
    shape = (queries, max(k, 0))
    return np.zeros(shape, dtype=np.float32), np.full(shape, -1, dtype=np.int64)


def _tidy(scores: Any, ids: Any) -> tuple[Scores, Ids]:
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    scores[ids < 0] = 0.0
    return scores, ids


def _rescore(queries: Vectors, candidates: Ids, exact: RowSource, k: int) -> tuple[Scores, Ids]:
    """The `k` best of each row of `candidates` by exact inner product with `exact[id]`."""
    scores, ids = _empty(len(queries), k)
    for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
        found = np.unique(found[found >= 0])  # sorted: reads a memmap in file order
        if not len(found):
            continue
        values = np.asarray(exact[found], dtype=np.float32) @ query
        order = np.lexsort((found, -values))[:k]
        scores[row, : len(order)] = values[order]
        ids[row, : len(order)] = found[order]
    return scores, ids


def _pq_subquantizers(dimension: int) -> int:
    """Sub-quantizers for PQ codes: one byte per `PQ_DIMENSIONS_PER_BYTE` dimensions (a
    divisor of the dimension)."""
    wanted = max(1, dimension // PQ_DIMENSIONS_PER_BYTE)
    return max(m for m in range(1, wanted + 1) if dimension % m == 0)


class FaissFlatIndex:
    """Exact search (FAISS `IndexFlatIP` under an id map): the reference the approximate
    indexes are measured against, and the right choice for small collections."""

    kind = "flat"
    lossy = False

    def __init__(self, dimension: int, capacity: int = 0) -> None:
        import faiss

        del capacity
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
            return _empty(len(queries), k)
        with _threads_for(len(queries)):
            return _tidy(*self._index.search(queries, k))

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


class FaissHnswIndex:
    """Approximate search on a FAISS HNSW graph (full float32 vectors in RAM): the fastest
    searches, but a slow, single-pass build (see the figures in the module docstring), so
    it suits collections up to a few hundred thousand vectors.

    HNSW cannot drop a node from its graph, so `remove` forgets the id instead (its slot
    in the id map becomes -1, which the search's selector skips); the node still routes
    searches, and the next rebuild of the generation drops it."""

    kind = "hnsw"
    lossy = False

    def __init__(self, dimension: int, capacity: int = 0) -> None:
        import faiss

        del capacity  # the graph grows as vectors arrive
        self.dimension = dimension
        graph = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        self._index: Any = faiss.IndexIDMap(graph)  # faiss's stubs lack IndexIDMap.id_map
        self._removed = 0
        self.ef_search = HNSW_EF_SEARCH

    def __len__(self) -> int:
        return int(self._index.ntotal) - self._removed

    def add(self, ids: Ids, vectors: Vectors) -> None:
        if len(ids):
            _check_ids(ids)
            self._index.add_with_ids(_floats(vectors), np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: Ids) -> int:
        import faiss

        held = faiss.vector_to_array(self._index.id_map)
        gone = np.isin(held, np.asarray(ids, dtype=np.int64)) & (held >= 0)
        count = int(gone.sum())
        if count:
            held[gone] = -1
            faiss.copy_array_to_vector(held, self._index.id_map)
            self._removed += count
        return count

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        import faiss

        queries = _floats(np.atleast_2d(queries))
        if k <= 0 or not len(self):
            return _empty(len(queries), k)
        params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            efSearch=max(self.ef_search, k)
        )
        if self._removed:
            params.sel = faiss.IDSelectorRange(0, _NO_ID_ABOVE)
        with _threads_for(len(queries)):
            scores, ids = self._index.search(queries, k, params=params)
        return _tidy(scores, ids)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissHnswIndex:
        import faiss

        index: Any = faiss.read_index(str(path))
        loaded = cls.__new__(cls)
        loaded.dimension = int(index.d)
        loaded._index = index
        loaded._removed = int((faiss.vector_to_array(index.id_map) < 0).sum())
        loaded.ef_search = HNSW_EF_SEARCH
        return loaded


class FaissIvfIndex:
    """Approximate search on a FAISS inverted file with compressed codes: k-means cells
    (trained on a sample of the first vectors added), of which `nprobe` are scanned per
    query. Codes are 8-bit scalars per dimension (`ivf_sq8`, a quarter of float32) or
    product-quantised (`ivf_pq`, 8 dimensions per byte: a 32nd).

    Compressed scores are approximate, so when the caller attaches the exact vectors
    (`rescore_with`, typically the generation's memory-mapped embeddings, indexed by id),
    the index fetches `RESCORE_FACTOR` times the asked candidates and ranks them by exact
    inner product; the float32 vectors then stay on disk, read only for those candidates."""

    kind = "ivf_sq8"
    lossy = True

    def __init__(self, dimension: int, capacity: int = 0) -> None:
        self.dimension = dimension
        self._capacity = capacity
        self._index: Any = None  # built on the first add: the cells need training data
        self._exact: RowSource | None = None
        self.nprobe = IVF_NPROBE  # cells scanned per query (at most all of them)
        self.rescore_factor = RESCORE_FACTOR

    # -- building

    def _codes(self, quantizer: Any, nlist: int, train_rows: int) -> Any:
        import faiss

        del train_rows
        return faiss.IndexIVFScalarQuantizer(
            quantizer,
            self.dimension,
            nlist,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )

    def _train(self, vectors: Vectors) -> Any:
        import faiss

        rows = len(vectors)
        nlist = ivf_nlist(max(self._capacity, rows))
        nlist = max(1, min(nlist, rows // _MIN_POINTS_PER_CELL))
        sample = vectors
        wanted = max(nlist * IVF_TRAIN_PER_CELL, _MIN_TRAIN)
        if rows > wanted:
            picks = np.random.default_rng(0).choice(rows, wanted, replace=False)
            sample = vectors[np.sort(picks)]
        quantizer = faiss.IndexFlatIP(self.dimension)
        index = self._codes(quantizer, nlist, len(sample))
        index.cp.niter = IVF_KMEANS_ITERATIONS
        index.train(_floats(sample))
        self._index = index
        return index

    def add(self, ids: Ids, vectors: Vectors) -> None:
        if not len(ids):
            return
        _check_ids(ids)
        if self._index is None:
            self._train(vectors)
        for start in range(0, len(ids), _ADD_BATCH):  # bounded float32 copies
            stop = start + _ADD_BATCH
            self._index.add_with_ids(
                _floats(vectors[start:stop]), np.ascontiguousarray(ids[start:stop], dtype=np.int64)
            )

    def rescore_with(self, vectors: RowSource | None) -> None:
        """Rank candidates by exact inner product with `vectors[id]` (None: by the codes)."""
        self._exact = vectors

    # -- the protocol

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def remove(self, ids: Ids) -> int:
        import faiss

        if self._index is None:
            return 0
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        return int(self._index.remove_ids(selector))

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        queries = _floats(np.atleast_2d(queries))
        if k <= 0 or not len(self):
            return _empty(len(queries), k)
        self._index.nprobe = min(self.nprobe, int(self._index.nlist))
        with _threads_for(len(queries)):
            if self._exact is None or self.rescore_factor < 1:
                return _tidy(*self._index.search(queries, k))
            _, candidates = self._index.search(queries, k * self.rescore_factor)
        return _rescore(queries, candidates, self._exact, k)

    def save(self, path: Path) -> None:
        import faiss

        if self._index is None:  # nothing added: an untrained, empty index of the kind
            self._train(np.eye(2, self.dimension, dtype=np.float32)).reset()
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissIvfIndex:
        import faiss

        index: Any = faiss.read_index(str(path))  # already the concrete IVF class
        loaded = cls.__new__(cls)
        loaded.dimension = int(index.d)
        loaded._capacity = int(index.ntotal)
        loaded._index = index
        loaded._exact = None
        loaded.nprobe = IVF_NPROBE
        loaded.rescore_factor = RESCORE_FACTOR
        return loaded


class FaissIvfPqIndex(FaissIvfIndex):
    __doc__ = FaissIvfIndex.__doc__
    kind = "ivf_pq"

    def _codes(self, quantizer: Any, nlist: int, train_rows: int) -> Any:
        import faiss

        # 8 bits per sub-quantizer need 256 training points each; fewer rows, fewer bits.
        bits = int(min(8, max(1, np.floor(np.log2(max(train_rows, 2))))))
        index = faiss.IndexIVFPQ(
            quantizer,
            self.dimension,
            nlist,
            _pq_subquantizers(self.dimension),
            bits,
            faiss.METRIC_INNER_PRODUCT,
        )
        # FAISS's k-means is slow on 8-dimensional pieces: a smaller sample, fewer rounds
        index.pq.cp.niter = IVF_KMEANS_ITERATIONS
        index.pq.cp.max_points_per_centroid = 64
        return index


IndexFactory = Callable[..., VectorIndex]  # (dimension, capacity=0): capacity sizes IVF cells
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
    FaissHnswIndex.kind: (FaissHnswIndex, FaissHnswIndex.load),
    FaissIvfIndex.kind: (FaissIvfIndex, FaissIvfIndex.load),
    FaissIvfPqIndex.kind: (FaissIvfPqIndex, FaissIvfPqIndex.load),
    "qdrant": _qdrant,
}


def _drop_qdrant(path: Path, settings: Settings | None) -> None:
    from rag.integrations.qdrant import drop_saved

    drop_saved(path, settings)


# Kinds whose saved index holds data outside its path (a remote collection).
_DROPPERS: dict[str, Callable[[Path, Settings | None], None]] = {"qdrant": _drop_qdrant}


def create_index(
    kind: str, dimension: int, capacity: int = 0, *, settings: Settings | None = None
) -> VectorIndex:
    """An empty index; `capacity` (the vectors about to be added, when known) sizes the
    IVF cells, which are otherwise sized by the first batch added."""
    return _entry(kind, settings)[0](dimension, capacity)


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

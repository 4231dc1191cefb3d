"""Qdrant behind the `VectorIndex` protocol (`RAG_VECTOR_STORE=qdrant`, the `qdrant` extra).

Two modes, one code path through `qdrant_client`:

- local (`RAG_QDRANT_URL` empty): the index is built in an in-memory client and `save(path)`
  writes a Qdrant local-mode folder at `path`, inside the index generation, so it is
  hashed, fsynced and pruned with the rest. Loading copies the folder into memory and
  closes it at once: Qdrant lets one process open such a folder, and the app, the CLI and
  an ingest each load the same generation.
- server (`RAG_QDRANT_URL` set): points go straight to a remote collection named
  `<prefix>-<stamp>-<random>`; `save(path)` writes a small JSON naming it (no address or
  key). A loaded collection belongs to a saved generation, so the first change to it copies
  it into a new collection first: a new generation never alters the live one's data.
  `drop_saved(path)` deletes the collection a pruned generation named.

Vectors are L2-normalised, so Qdrant's cosine distance ranks as the inner product the
protocol promises; ids are the store's non-negative row numbers (Qdrant wants unsigned).
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import SecretStr
from qdrant_client import QdrantClient, models
from qdrant_client.local.qdrant_local import QdrantLocal

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, RagError
from rag.settings import Settings

# The shapes of rag.vector_index, restated: it imports this module, so not the reverse.
Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]
Entry = tuple[Callable[..., "QdrantIndex"], Callable[[Path], "QdrantIndex"]]

log = logging.getLogger(__name__)

LOCAL_COLLECTION = "vectors"  # the one collection inside a local-mode folder
POINTER_FORMAT = 1
UPSERT_BATCH = 1024  # points per upsert request
QUERY_BATCH = 256  # queries per batch search request
PAD_SCORE = float(np.finfo(np.float32).min)  # what FAISS returns beside id -1


@dataclass(frozen=True)
class QdrantConfig:
    """The settings Qdrant needs, taken from `Settings` once; the defaults are local mode."""

    url: str = ""
    api_key: SecretStr | None = field(default=None, repr=False)
    collection_prefix: str = "rag"
    lock_wait_s: float = 10.0  # how long a load waits for another process to close a folder

    @classmethod
    def from_settings(cls, settings: Settings | None) -> QdrantConfig:
        if settings is None:
            return cls()
        return cls(
            url=settings.qdrant_url.strip(),
            api_key=settings.qdrant_api_key,
            collection_prefix=settings.qdrant_collection_prefix,
        )

    @property
    def remote(self) -> bool:
        return bool(self.url)

    def connect(self) -> QdrantClient:
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        return QdrantClient(url=self.url, api_key=key)


def configure(settings: Settings | None) -> Entry:
    """The registry entry for these settings: (create of a dimension, load of a path)."""
    config = QdrantConfig.from_settings(settings)
    return partial(QdrantIndex.create, config=config), partial(QdrantIndex.load, config=config)


class QdrantIndex:
    """A `VectorIndex` over one Qdrant collection (in memory, or on a server)."""

    kind = "qdrant"

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        dimension: int,
        config: QdrantConfig,
        *,
        remote: bool,
        shared: bool,
    ) -> None:
        self.dimension = dimension
        self._client = client
        self._collection = collection
        self._config = config
        self._remote = remote
        # The collection is named by a saved generation: copy it before changing anything.
        self._shared = shared

    @property
    def collection(self) -> str:
        return self._collection

    @classmethod
    def create(cls, dimension: int, capacity: int = 0, *, config: QdrantConfig) -> QdrantIndex:
        del capacity  # a Qdrant collection needs no sizing up front
        if config.remote:
            client, name = config.connect(), _new_name(config.collection_prefix)
        else:
            client, name = QdrantClient(location=":memory:"), LOCAL_COLLECTION
        _create_collection(client, name, dimension)
        return cls(client, name, dimension, config, remote=config.remote, shared=False)

    def __len__(self) -> int:
        return int(self._client.count(self._collection, exact=True).count)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        vectors = self._matrix(vectors, "add")
        point_ids = _point_ids(ids)
        if len(point_ids) != len(vectors):
            raise RagError(f"internal: {len(point_ids)} ids for {len(vectors)} vectors")
        if not point_ids:
            return
        self._writable()
        _upsert(self._client, self._collection, point_ids, vectors)

    def remove(self, ids: Ids) -> int:
        wanted = [int(i) for i in np.unique(np.asarray(ids, dtype=np.int64)) if i >= 0]
        found: list[models.ExtendedPointId] = []
        for start in range(0, len(wanted), UPSERT_BATCH):
            batch = wanted[start : start + UPSERT_BATCH]
            records = self._client.retrieve(
                self._collection, ids=batch, with_payload=False, with_vectors=False
            )
            found.extend(int(r.id) for r in records)
        if found:
            self._writable()
            for start in range(0, len(found), UPSERT_BATCH):
                self._client.delete(
                    self._collection,
                    points_selector=models.PointIdsList(points=found[start : start + UPSERT_BATCH]),
                    wait=True,
                )
        return len(found)

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        queries = self._matrix(np.atleast_2d(queries), "search")
        scores = np.full((len(queries), max(k, 0)), PAD_SCORE, dtype=np.float32)
        ids = np.full(scores.shape, -1, dtype=np.int64)
        if k <= 0:
            return scores, ids
        for start in range(0, len(queries), QUERY_BATCH):
            requests = [
                models.QueryRequest(query=q.tolist(), limit=k, with_payload=False)
                for q in queries[start : start + QUERY_BATCH]
            ]
            answers = self._client.query_batch_points(self._collection, requests=requests)
            for row, answer in enumerate(answers, start):
                for col, point in enumerate(answer.points[:k]):
                    scores[row, col] = point.score
                    ids[row, col] = int(point.id)
        return scores, ids

    def save(self, path: Path) -> None:
        if self._remote:
            # Each saved generation owns its collection, so dropping one never empties another.
            self._writable()
            pointer = {
                "format": POINTER_FORMAT,
                "kind": self.kind,
                "collection": self._collection,
                "dimension": self.dimension,
                "points": len(self),
            }
            path.write_text(json.dumps(pointer, indent=2) + "\n", encoding="utf-8")
            self._shared = True
            return
        staging = path.with_name(f".{path.name}.tmp-{secrets.token_hex(3)}")
        disk = QdrantClient(path=str(staging))
        try:
            _create_collection(disk, LOCAL_COLLECTION, self.dimension)
            _skip_per_point_fsync(disk)
            _copy_points(self._client, self._collection, disk, LOCAL_COLLECTION)
        except BaseException:
            disk.close()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        disk.close()
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        staging.rename(path)

    @classmethod
    def load(cls, path: Path, config: QdrantConfig) -> QdrantIndex:
        if path.is_dir():
            return cls._load_local(path, config)
        if path.is_file():
            return cls._load_pointer(path, config)
        raise IndexCorruptError(f"{path}: no saved Qdrant index there")

    @classmethod
    def _load_local(cls, path: Path, config: QdrantConfig) -> QdrantIndex:
        disk = _open_folder(path, config.lock_wait_s)
        try:
            if not disk.collection_exists(LOCAL_COLLECTION):
                raise IndexCorruptError(
                    f"{path}: Qdrant folder without the {LOCAL_COLLECTION!r} collection"
                )
            dimension = _dimension_of(disk, LOCAL_COLLECTION)
            memory = QdrantClient(location=":memory:")
            _create_collection(memory, LOCAL_COLLECTION, dimension)
            _copy_points(disk, LOCAL_COLLECTION, memory, LOCAL_COLLECTION)
        finally:
            disk.close()
        return cls(memory, LOCAL_COLLECTION, dimension, config, remote=False, shared=False)

    @classmethod
    def _load_pointer(cls, path: Path, config: QdrantConfig) -> QdrantIndex:
        collection, dimension = _read_pointer(path)
        if not config.remote:
            raise ConfigError(
                f"{path} names the Qdrant collection {collection!r} on a server; "
                "set RAG_QDRANT_URL (and RAG_QDRANT_API_KEY) to reach it"
            )
        client = config.connect()
        if not client.collection_exists(collection):
            raise IndexCorruptError(
                f"{path} names the Qdrant collection {collection!r}, which {config.url} "
                "does not hold (dropped by hand?); rebuild with `rag ingest --rebuild`"
            )
        held = _dimension_of(client, collection)
        if held != dimension:
            raise IndexCorruptError(
                f"{path} says {dimension} dimensions but Qdrant collection {collection!r} "
                f"holds {held}; rebuild with `rag ingest --rebuild`"
            )
        return cls(client, collection, dimension, config, remote=True, shared=True)

    def _matrix(self, vectors: Vectors, what: str) -> Vectors:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise IndexMismatchError(
                f"Qdrant index {self._collection!r} holds {self.dimension}-dimensional "
                f"vectors; {what} got shape {vectors.shape}. Was the embedding model changed? "
                "Rebuild with `rag ingest --rebuild`"
            )
        return vectors

    def _writable(self) -> None:
        """Copy a saved generation's collection before the first change to it."""
        if not self._shared:
            return
        fork = _new_name(self._config.collection_prefix)
        log.info(
            "copying Qdrant collection %s into %s so the saved generation stays unchanged",
            self._collection,
            fork,
        )
        _create_collection(self._client, fork, self.dimension)
        _copy_points(self._client, self._collection, self._client, fork)
        self._collection, self._shared = fork, False


def drop_saved(path: Path, settings: Settings | None) -> None:
    """Delete the remote collection a saved generation names (its folder is about to go).
    A local-mode folder holds its own data, so there is nothing to do for it."""
    if not path.is_file():
        return
    collection, _ = _read_pointer(path)
    config = QdrantConfig.from_settings(settings)
    if not config.remote:
        raise ConfigError(
            f"{path} names the Qdrant collection {collection!r}; set RAG_QDRANT_URL to drop it"
        )
    client = config.connect()
    try:
        if client.delete_collection(collection):
            log.info("dropped Qdrant collection %s (named by %s)", collection, path)
        else:
            log.warning("Qdrant collection %s named by %s was already gone", collection, path)
    finally:
        client.close()


def _new_name(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"


def _create_collection(client: QdrantClient, name: str, dimension: int) -> None:
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
    )


def _dimension_of(client: QdrantClient, name: str) -> int:
    vectors = client.get_collection(name).config.params.vectors
    if not isinstance(vectors, models.VectorParams):
        raise IndexCorruptError(f"Qdrant collection {name!r} has named vectors, not one vector")
    return int(vectors.size)


def _point_ids(ids: Ids) -> list[models.ExtendedPointId]:
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) and int(ids.min()) < 0:
        raise RagError(f"internal: Qdrant point ids must be non-negative, got {int(ids.min())}")
    return [int(i) for i in ids]


def _upsert(
    client: QdrantClient, collection: str, ids: list[models.ExtendedPointId], vectors: Vectors
) -> None:
    for start in range(0, len(ids), UPSERT_BATCH):
        end = start + UPSERT_BATCH
        batch = models.Batch(ids=ids[start:end], vectors=vectors[start:end].tolist())
        client.upsert(collection, points=batch, wait=True)


def _copy_points(source: QdrantClient, name: str, target: QdrantClient, into: str) -> None:
    offset: Any = None
    while True:
        records, offset = source.scroll(
            name, limit=UPSERT_BATCH, offset=offset, with_payload=False, with_vectors=True
        )
        if records:
            ids: list[models.ExtendedPointId] = [int(r.id) for r in records]
            vectors = np.asarray([r.vector for r in records], dtype=np.float32)
            _upsert(target, into, ids, vectors)
        if offset is None:
            return


def _read_pointer(path: Path) -> tuple[str, int]:
    try:
        pointer = json.loads(path.read_text(encoding="utf-8"))
        collection, dimension = pointer["collection"], pointer["dimension"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(
            f"{path}: not a saved Qdrant index ({exc}); rebuild with `rag ingest --rebuild`"
        ) from exc
    if not isinstance(collection, str) or not isinstance(dimension, int):
        raise IndexCorruptError(f"{path}: 'collection' must be a name and 'dimension' a number")
    return collection, dimension


def _open_folder(path: Path, wait_s: float) -> QdrantClient:
    """Open a local-mode folder, waiting a little while another process copies it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise RagError(
                    f"{path} stayed open in another process for {wait_s:.0f} s (Qdrant local "
                    "mode lets one process open it); set RAG_QDRANT_URL to share an index"
                ) from exc
            time.sleep(0.2)


def _skip_per_point_fsync(client: QdrantClient) -> None:
    """Local mode commits each point to SQLite with an fsync (67 s per 10k points here);
    durability comes from the store fsyncing the whole generation before naming it live,
    so the folder being written needs none. Reaches into qdrant_client's local storage:
    if its layout changes, saving is just slower."""
    local = client._client
    persistence = (
        local.collections[LOCAL_COLLECTION].storage if isinstance(local, QdrantLocal) else None
    )
    if persistence is None:
        log.warning("Qdrant local save keeps SQLite's per-point fsync (storage layout changed)")
        return
    try:
        persistence.storage.execute("PRAGMA synchronous=OFF")
    except (AttributeError, sqlite3.Error) as exc:
        log.warning("Qdrant local save keeps SQLite's per-point fsync (%s)", exc)

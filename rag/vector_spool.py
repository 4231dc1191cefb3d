"""Vectors appended to a scratch file as ingest embeds them, and gathered back into the
arrays of a new generation at commit. Ingest then holds one step's vectors at a time,
not the run's, and no mapped file pages either: reads and writes go through the file
(the page cache), so peak RSS is the new generation's arrays, not a multiple of them."""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag.embeddings import Vectors
from rag.errors import RagError

_PREFIX = ".tmp-spool-"


class VectorSpool:
    """An append-only float32 file of fixed width in a folder of its own, removed on close
    (`contextlib.closing` scopes it)."""

    def __init__(self, parent: Path, dimension: int) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.folder = parent / f"{_PREFIX}{secrets.token_hex(4)}"
        self.folder.mkdir()
        self.dimension = dimension
        self.rows = 0
        self._fd = os.open(self.folder / "vectors.f32", os.O_RDWR | os.O_CREAT | os.O_EXCL)

    def append(self, vectors: Vectors) -> int:
        """Write `vectors` after the rows already held; returns the row of the first."""
        block = np.ascontiguousarray(vectors, dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != self.dimension:
            raise RagError(f"internal: spooling vectors of shape {block.shape}")
        start = self.rows
        data = block.data.cast("B")
        offset = start * self._row_bytes
        while data:
            written = os.pwrite(self._fd, data, offset)
            data, offset = data[written:], offset + written
        self.rows += len(block)
        return start

    def gather(self, rows: npt.NDArray[np.int64], out: Vectors) -> None:
        """Copy the spooled `rows` into `out` (C-contiguous, len(rows) rows), one read per
        run of consecutive rows: a document's texts were appended together."""
        if len(rows) != len(out) or not out.flags.c_contiguous:
            raise RagError(f"internal: gathering {len(rows)} rows into {out.shape}")
        if not len(rows):
            return
        if rows.min() < 0 or rows.max() >= self.rows:
            raise RagError(f"internal: spool rows outside 0..{self.rows - 1}")
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        starts = np.concatenate(([0], breaks))
        ends = np.concatenate((breaks, [len(rows)]))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            target = out[a:b].data.cast("B")
            offset = int(rows[a]) * self._row_bytes
            while target:
                read = os.preadv(self._fd, [target], offset)
                if read <= 0:
                    raise RagError(f"internal: the vector spool {self.folder} is short")
                target, offset = target[read:], offset + read

    @property
    def _row_bytes(self) -> int:
        return self.dimension * 4

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class Spooled:
    """Vectors of one document's texts, held in a spool until commit."""

    spool: VectorSpool
    rows: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.rows)


def remove_stale_spools(parent: Path) -> None:
    """Spools a killed ingest left behind (the caller holds the collection's writer lock)."""
    for folder in parent.glob(f"{_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


class SpooledVectors:
    """The vectors of many parts (spooled, or arrays already at hand) as one array that is
    read when sliced: the store writes a new generation's vectors and builds its vector
    indexes from it a block at a time, so commit never holds the collection's vectors
    (at a million chunks, 7.4 GB) in memory. `np.asarray` of it reads them all."""

    def __init__(self, parts: Sequence[Vectors | Spooled], dimension: int) -> None:
        self._parts = list(parts)
        self._starts = np.cumsum([0, *(len(p) for p in self._parts)])
        self.shape = (int(self._starts[-1]), dimension)
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice | npt.NDArray[np.int64]) -> Vectors:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise RagError("internal: spooled vectors are read in steps of one row")
            key = np.arange(start, max(start, stop), dtype=np.int64)
        rows = np.asarray(key, dtype=np.int64)
        order = np.argsort(rows, kind="stable")  # each part's rows together, in order
        ordered = rows[order]
        owner = np.searchsorted(self._starts, ordered, side="right") - 1
        cuts = [0, *(np.flatnonzero(np.diff(owner)) + 1).tolist(), len(ordered)]
        gathered = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        for a, b in itertools.pairwise(cuts):
            if a == b:
                continue
            part_number = int(owner[a])
            part = self._parts[part_number]
            local = ordered[a:b] - self._starts[part_number]
            if isinstance(part, Spooled):
                part.spool.gather(part.rows[local], gathered[a:b])
            else:
                gathered[a:b] = np.asarray(part, dtype=np.float32)[local]
        out = np.empty_like(gathered)
        out[order] = gathered
        return out

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> Vectors:
        whole = self[0 : len(self)]
        return whole if dtype is None else whole.astype(dtype, copy=False)

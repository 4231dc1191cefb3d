"""CSR tables (compressed sparse rows): the index stores "for each key, its rows" as
`values[offsets[k]:offsets[k + 1]]` (rag.store), and readers gather many keys at once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Rows = npt.NDArray[np.int64]


def gather(offsets: Rows, values: Rows, keys: Rows) -> tuple[Rows, Rows]:
    """The values of each key (`values[offsets[k]:offsets[k + 1]]`), flattened, with the
    position in `keys` each came from: one numpy gather, no loop over the keys."""
    keys = np.asarray(keys, dtype=np.int64)
    counts = offsets[keys + 1] - offsets[keys]
    first = np.repeat(offsets[keys] - np.cumsum(counts) + counts, counts)
    flat = np.asarray(values[first + np.arange(int(counts.sum()))], dtype=np.int64)
    return flat, np.repeat(np.arange(len(keys)), counts)


def group_max(
    values: npt.NDArray[np.floating], owner: Rows, groups: int, fill: float
) -> npt.NDArray[np.float32]:
    """The maximum of each group's values along the last axis, where `owner` (as `gather`
    gives it: non-decreasing) says which group each value belongs to; `fill` for a group
    with none. One `reduceat`, not an unbuffered `np.maximum.at`."""
    out = np.full((*values.shape[:-1], groups), fill, dtype=np.float32)
    if len(owner):
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        out[..., owner[starts]] = np.maximum.reduceat(values, starts, axis=-1)
    return out

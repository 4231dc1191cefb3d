"""CSR gathers and per-group maxima: the pure helpers the large-collection path runs on."""

from __future__ import annotations

import numpy as np

from rag.csr import gather, group_max


def test_gather_flattens_each_keys_rows_with_their_origin() -> None:
    offsets = np.array([0, 2, 2, 5])  # key 0: 10, 11; key 1: none; key 2: 20, 21, 22
    values = np.array([10, 11, 20, 21, 22])
    flat, owner = gather(offsets, values, np.array([2, 1, 0, 2]))
    assert flat.tolist() == [20, 21, 22, 10, 11, 20, 21, 22]
    assert owner.tolist() == [0, 0, 0, 2, 2, 3, 3, 3]
    flat, owner = gather(offsets, values, np.zeros(0, dtype=np.int64))
    assert flat.shape == owner.shape == (0,)


def test_group_max_equals_a_maximum_at_with_the_fill_where_a_group_has_none() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        owner = np.sort(rng.integers(0, 6, size=rng.integers(0, 15)))
        values = rng.normal(size=(3, len(owner))).astype(np.float32)
        want = np.full((3, 6), -np.inf, dtype=np.float32)
        for row in range(3):
            np.maximum.at(want[row], owner, values[row])
        want[np.isneginf(want)] = -9.0
        assert np.array_equal(group_max(values, owner, 6, -9.0), want)
        assert np.array_equal(group_max(values[0], owner, 6, -9.0), want[0])

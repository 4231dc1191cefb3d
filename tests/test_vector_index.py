"""The VectorIndex protocol's contract, checked on every registered implementation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.vector_index import REGISTRY, VectorIndex, create_index, load_vector_index


def _unit(rows: int, dimension: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_add_search_remove_save_load(kind: str, tmp_path: Path) -> None:
    vectors = _unit(50)
    ids = np.arange(100, 150, dtype=np.int64)
    index = create_index(kind, 16)
    assert isinstance(index, VectorIndex)
    index.add(ids, vectors)
    assert len(index) == 50
    scores, found = index.search(vectors[[3, 7]], 1)
    assert found[:, 0].tolist() == [103, 107]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)

    assert index.remove(np.array([103, 999], dtype=np.int64)) == 1
    _, found = index.search(vectors[3], 5)
    assert 103 not in found[0].tolist()

    index.save(tmp_path / "v.index")
    again = load_vector_index(kind, tmp_path / "v.index")
    assert len(again) == 49
    _, found = again.search(vectors[7], 1)
    assert found[0, 0] == 107


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_more_asked_than_held_pads_with_minus_one(kind: str) -> None:
    index = create_index(kind, 16)
    index.add(np.arange(3, dtype=np.int64), _unit(3))
    _, found = index.search(_unit(1, seed=1), 5)
    assert found.shape == (1, 5)
    assert sorted(found[0].tolist())[:2] == [-1, -1]


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="flat"):
        create_index("annoy", 16)

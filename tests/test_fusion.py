"""Pure pieces of retrieval: fusion and diversity."""

from __future__ import annotations

import numpy as np

from rag.retrieval import diversify, rrf_fuse, weighted_fuse, zscore_fuse
from rag.types import Chunk


def test_rrf_rewards_agreement_between_rankings() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    lexical = [(3, 12.0), (2, 10.0), (9, 1.0)]
    fused = rrf_fuse([dense, lexical], [0.5, 0.5], k=60)
    order = [row for row, _ in fused]
    # 2 and 3 are found by both; 1 and 9 by one only.
    assert set(order[:2]) == {2, 3}
    assert set(order[2:]) == {1, 9}


def test_rrf_weights_shift_the_winner() -> None:
    dense = [(1, 0.9), (2, 0.1)]
    lexical = [(2, 5.0), (1, 1.0)]
    assert rrf_fuse([dense, lexical], [0.9, 0.1])[0][0] == 1
    assert rrf_fuse([dense, lexical], [0.1, 0.9])[0][0] == 2


def test_weighted_fuse_normalises_each_ranking() -> None:
    dense = [(1, 0.5), (2, 0.25)]
    lexical = [(2, 100.0), (1, 10.0)]
    fused = dict(weighted_fuse([dense, lexical], [0.5, 0.5]))
    assert fused[1] == 0.5 * 1.0 + 0.5 * 0.1
    assert fused[2] == 0.5 * 0.5 + 0.5 * 1.0


def _chunk(doc: str, index: int, start: int, end: int) -> Chunk:
    return Chunk(f"{doc}#{index}", doc, index, "x" * (end - start), start, end)


def test_diversify_caps_passages_per_document() -> None:
    chunks = [_chunk("a", i, i * 100, i * 100 + 100) for i in range(5)] + [_chunk("b", 0, 0, 100)]
    vectors = np.eye(6, dtype=np.float32)
    candidates = [(i, 1.0 - i / 10) for i in range(6)]
    chosen = diversify(candidates, chunks, vectors, k=4, max_per_doc=2, max_overlap=0.5)
    assert [row for row, _ in chosen] == [0, 1, 5]


def test_diversify_skips_overlapping_and_near_identical_passages() -> None:
    chunks = [
        _chunk("a", 0, 0, 100),
        _chunk("a", 1, 20, 120),
        _chunk("b", 0, 0, 100),
        _chunk("c", 0, 0, 100),
    ]
    vectors = np.eye(4, dtype=np.float32)
    vectors[3] = vectors[2]  # c duplicates b (a reprint)
    chosen = diversify(
        [(0, 1.0), (1, 0.9), (2, 0.8), (3, 0.7)],
        chunks,
        vectors,
        k=4,
        max_per_doc=3,
        max_overlap=0.5,
    )
    assert [row for row, _ in chosen] == [0, 2]


def test_zscore_fuse_lets_a_scorer_that_stands_out_win() -> None:
    rows = list(range(100, 120))
    # Cosines spread evenly (row 100 best); BM25 flat but far above the rest for row 110.
    dense = np.linspace(0.60, 0.50, 20)
    bm25 = np.ones(20)
    bm25[10] = 9.0
    fused = zscore_fuse(rows, [dense, bm25], [1.0, 1.0])
    assert fused[0][0] == 110
    assert fused[1][0] == 100
    assert sorted(row for row, _ in fused) == rows
    # A scorer's scale and offset do not matter, only how far a candidate stands out.
    rescaled = zscore_fuse(rows, [dense * 100 + 3, bm25 / 7 - 1], [1.0, 1.0])
    assert [row for row, _ in rescaled] == [row for row, _ in fused]


def test_zscore_fuse_weights_shift_the_winner_and_flat_scorers_add_nothing() -> None:
    rows = [0, 1]
    a = np.array([1.0, 0.0])
    b = np.array([0.0, 1.0])
    flat = np.array([5.0, 5.0])
    assert zscore_fuse(rows, [a, b, flat], [0.9, 0.1, 1.0])[0][0] == 0
    assert zscore_fuse(rows, [a, b, flat], [0.1, 0.9, 1.0])[0][0] == 1
    assert zscore_fuse(rows, [flat], [1.0]) == [(0, 0.0), (1, 0.0)]

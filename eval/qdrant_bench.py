"""Qdrant local mode against the embedded FAISS flat index (issue 13, goal 4): prints a
table, asserts nothing.

Random unit vectors of the model's dimension (384) under ids 0..n-1, through the
`VectorIndex` registry exactly as the store uses it: `add` in batches of 10,000 (vectors/s),
`save` into a folder, `load` back (seconds), then single-query `search` for k=10 (p50 and
p95 over --queries queries, after two warm-up queries) and recall@10 against flat's exact
answer. Local mode is Qdrant's in-process engine (numpy, exact); a Qdrant server would
answer from its own HNSW index over the network, so these figures say nothing about one.
On a busy machine FAISS's OpenMP threads wait on each other for one query (28 ms instead of
0.1 ms at 2,000 vectors with load 10 on 2 cores): set OMP_NUM_THREADS=1 to compare engines.

    PYTHONPATH=. .venv/bin/python eval/qdrant_bench.py [--sizes 10000 100000] [--queries 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.vector_index import VectorIndex, create_index, load_vector_index

DIMENSION = 384
ADD_BATCH = 10_000
K = 10


def unit_vectors(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def measure(
    kind: str, vectors: np.ndarray, queries: np.ndarray, folder: Path
) -> tuple[dict[str, float], np.ndarray]:
    """Figures of one kind, and the ids each query found (for recall against flat)."""
    index = create_index(kind, DIMENSION)
    started = time.perf_counter()
    for start in range(0, len(vectors), ADD_BATCH):
        batch = vectors[start : start + ADD_BATCH]
        index.add(np.arange(start, start + len(batch), dtype=np.int64), batch)
    add_s = time.perf_counter() - started

    path = folder / f"{kind}.index"
    started = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - started
    del index
    started = time.perf_counter()
    loaded = load_vector_index(kind, path)
    load_s = time.perf_counter() - started

    latencies, found = search_each(loaded, queries)
    figures = {
        "add_per_s": len(vectors) / add_s,
        "save_s": save_s,
        "load_s": load_s,
        "disk_mb": disk_bytes(path) / 1e6,
        "p50_ms": float(np.percentile(latencies, 50)) * 1000,
        "p95_ms": float(np.percentile(latencies, 95)) * 1000,
    }
    return figures, found


def search_each(index: VectorIndex, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    for query in queries[:2]:
        index.search(query, K)
    latencies, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = index.search(query, K)
        latencies.append(time.perf_counter() - started)
        found.append(ids[0])
    return latencies, np.array(found)


def disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True))
    return hits / exact.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--kinds", nargs="+", default=["flat", "qdrant"])
    args = parser.parse_args()

    header = (
        f"{'vectors':>8} {'kind':<7} {'add/s':>9} {'save s':>7} {'load s':>7} "
        f"{'disk MB':>8} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9} {'p50 ratio':>9}"
    )
    import faiss

    print(
        f"random unit vectors, dimension {DIMENSION}, k={K}, {args.queries} single queries, "
        f"FAISS threads {faiss.omp_get_max_threads()} (OMP_NUM_THREADS)"
    )
    print(header)
    for size in args.sizes:
        vectors = unit_vectors(size, seed=size)
        queries = unit_vectors(args.queries, seed=1)
        results: dict[str, dict[str, float]] = {}
        found: dict[str, np.ndarray] = {}
        with tempfile.TemporaryDirectory() as folder:
            for kind in args.kinds:
                results[kind], found[kind] = measure(kind, vectors, queries, Path(folder))
        for kind, r in results.items():
            hit = recall(found[kind], found["flat"]) if "flat" in found else float("nan")
            ratio = r["p50_ms"] / results["flat"]["p50_ms"] if "flat" in results else float("nan")
            print(
                f"{size:>8} {kind:<7} {r['add_per_s']:>9,.0f} {r['save_s']:>7.2f} "
                f"{r['load_s']:>7.2f} {r['disk_mb']:>8.1f} {r['p50_ms']:>7.2f} "
                f"{r['p95_ms']:>7.2f} {hit:>9.3f} {ratio:>9.1f}x"
            )


if __name__ == "__main__":
    main()

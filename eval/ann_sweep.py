"""Recall@10 against exact search, latency, build time and size of each approximate vector
index kind (rag.vector_index) at several collection sizes: the measurements behind
`choose_kind` and the parameters in rag/vector_index.py.

Vectors: the demo index's real chunk and sentence vectors (MiniLM, 384 dimensions),
repeated and perturbed with gaussian noise drawn in their own principal subspace (so the
noise follows how real embeddings vary), norm `--noise` relative to the unit vector, then
renormalised; queries are fresh perturbations of the same base. Each search is one query
at a time, as `Retriever` issues them; compressed kinds re-score from a memory-mapped .npy
as the store does. Prints one table row per (size, kind, parameters).

    PYTHONPATH=. .venv/bin/python eval/ann_sweep.py --index index/default --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag import vector_index as vi
from rag.index_files import current_generation


def base_vectors(index_dir: Path) -> np.ndarray:
    generation = current_generation(index_dir)
    parts = [np.load(generation / name) for name in ("embeddings.npy", "sentence_embeddings.npy")]
    return np.concatenate(parts).astype(np.float32)


def perturbed(base: np.ndarray, rows: int, noise: float, seed: int) -> np.ndarray:
    """`rows` unit vectors: random base rows plus noise shaped like the base's variation."""
    rng = np.random.default_rng(seed)
    centred = base - base.mean(axis=0)
    _, spread, axes = np.linalg.svd(centred, full_matrices=False)
    shape = (spread[:, None] * axes) / np.sqrt(len(base))  # covariance square root
    out = np.empty((rows, base.shape[1]), dtype=np.float32)
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        step = rng.normal(size=(n, len(spread))).astype(np.float32) @ shape
        step *= noise / np.linalg.norm(step, axis=1, keepdims=True)
        block = base[rng.integers(0, len(base), n)] + step
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        scores = queries @ vectors[start : start + 200_000].T
        both = np.concatenate([best, scores], axis=1)
        both_ids = np.concatenate(
            [ids, np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)], axis=1
        )
        keep = np.argsort(-both, axis=1)[:, :k]
        best = np.take_along_axis(both, keep, axis=1)
        ids = np.take_along_axis(both_ids, keep, axis=1)
    return ids


def measure(index: Any, queries: np.ndarray, truth: np.ndarray, k: int) -> tuple[float, float]:
    """(recall@k, p50 ms) over single-query searches."""
    hits, times = 0, []
    for query, expected in zip(queries, truth, strict=True):
        started = time.perf_counter()
        _, found = index.search(query[None, :], k)
        times.append(time.perf_counter() - started)
        hits += len(set(found[0].tolist()) & set(expected.tolist()))
    return hits / truth.size, 1000 * float(np.median(times))


def size_of(index: Any) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v.index"
        index.save(path)
        return path.stat().st_size


def configs(
    n: int, args: argparse.Namespace
) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(kind, build parameters, search parameter variants)."""
    kinds = set(args.kinds)
    if "flat" in kinds:
        yield "flat", {}, [{}]
    if "hnsw" in kinds and n <= 200_000:
        for m in (16, 32):
            yield "hnsw", {"HNSW_M": m}, [{"ef_search": ef} for ef in (16, 32, 64, 128)]
    for per_sqrt in (1, 4) if n <= 200_000 else (1,):
        for kind in sorted(kinds & {"ivf_sq8", "ivf_pq"}):
            factors = (0, 4) if kind == "ivf_sq8" else args.rescore
            for pq_dims in (8,) if kind == "ivf_sq8" else args.pq_dims:
                yield (
                    kind,
                    {"IVF_CELLS_PER_SQRT": per_sqrt}
                    | ({"PQ_DIMENSIONS_PER_BYTE": pq_dims} if kind == "ivf_pq" else {}),
                    [{"nprobe": p, "rescore_factor": f} for p in args.nprobe for f in factors],
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("index/default"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument(
        "--kinds", nargs="+", default=["flat", "hnsw", "ivf_sq8", "ivf_pq"], help="HNSW: <=200k"
    )
    parser.add_argument("--nprobe", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--rescore", type=int, nargs="+", default=[0, 4, 10])
    parser.add_argument("--pq-dims", type=int, nargs="+", default=[8], help="dimensions a byte")
    parser.add_argument("--build-threads", type=int, default=2)
    args = parser.parse_args()
    base = base_vectors(args.index)
    print(
        f"base: {len(base)} real vectors from {args.index}; noise {args.noise} in their "
        f"principal subspace; {args.queries} queries; recall@10 vs exact"
    )
    print(
        f"{'size':>9} {'kind':8} {'build':22} {'search':26} {'recall@10':>9} "
        f"{'p50 ms':>7} {'build s':>8} {'MB':>7}"
    )
    for n in args.sizes:
        vectors = perturbed(base, n, args.noise, seed=n)
        queries = perturbed(base, args.queries, args.noise, seed=1)
        truth = exact_top(vectors, queries, 10)
        with tempfile.TemporaryDirectory() as folder:
            np.save(Path(folder) / "v.npy", vectors)
            memmap = np.load(Path(folder) / "v.npy", mmap_mode="r")
            for kind, build, variants in configs(n, args):
                saved = {name: getattr(vi, name) for name in build}
                for name, value in build.items():
                    setattr(vi, name, value)
                started = time.perf_counter()
                faiss.omp_set_num_threads(args.build_threads)
                index = vi.create_index(kind, vectors.shape[1], capacity=n)
                index.add(np.arange(n, dtype=np.int64), vectors)
                built = time.perf_counter() - started
                faiss.omp_set_num_threads(1)  # one query per search: no thread hand-offs
                megabytes = size_of(index) / 1e6
                for name, value in saved.items():
                    setattr(vi, name, value)
                label = " ".join(
                    f"{k.removeprefix('IVF_').removeprefix('HNSW_').lower()}={v}"
                    for k, v in build.items()
                )
                if isinstance(index, vi.FaissIvfIndex):
                    label += f" nlist={index._index.nlist}"
                for variant in variants:
                    for name, value in variant.items():
                        setattr(index, name, value)
                    if isinstance(index, vi.FaissIvfIndex):
                        index.rescore_with(memmap if variant.get("rescore_factor") else None)
                    recall, p50 = measure(index, queries, truth, 10)
                    search = " ".join(f"{k}={v}" for k, v in variant.items())
                    print(
                        f"{n:>9} {kind:8} {label:22} {search:26} {recall:>9.3f} "
                        f"{p50:>7.2f} {built:>8.1f} {megabytes:>7.1f}",
                        flush=True,
                    )
                del index


if __name__ == "__main__":
    main()

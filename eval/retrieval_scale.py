"""Search latency of `Retriever`'s two paths at one size: every chunk scored (the exhaustive
path) against candidates only (above `RAG_EXHAUSTIVE_MAX_CHUNKS`), on an index that
`make bench-scale` built (index/bench-scale/<size>-s<schema>-g1), over its 30 questions.
Each question is embedded once, untimed (the assistant remembers its vector), so the
figures are the paths' own cost. Also prints how far the two agree: the share of each
question's top passages in common, and of questions with the same first passage. This is
what `RAG_EXHAUSTIVE_MAX_CHUNKS` was set from (README, Scale). Prints, asserts nothing.

    PYTHONPATH=. .venv/bin/python eval/retrieval_scale.py index/bench-scale/10k-s5-g1
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from eval.bench_scale import index_settings, queries
from rag.assistant import Assistant

PATHS = {"exhaustive": 10**12, "candidates": 0}  # RAG_EXHAUSTIVE_MAX_CHUNKS for each


def measure(folder: Path, passes: int) -> dict[str, tuple[float, float, list[list[str]]]]:
    """Per path: search p50 and p95 (ms) and the chunk ids each timed search returned."""
    texts = queries()
    found: dict[str, tuple[float, float, list[list[str]]]] = {}
    for name, limit in PATHS.items():
        settings = index_settings(folder).model_copy(update={"exhaustive_max_chunks": limit})
        assistant = Assistant(settings)
        for text in texts:  # warm-up: loads, and embeds each question once
            assistant.search(text)
        seconds, results = [], []
        for _ in range(passes):
            for text in texts:
                started = time.perf_counter()
                passages = assistant.search(text)
                seconds.append(time.perf_counter() - started)
                results.append([p.chunk.chunk_id for p in passages])
        ordered = sorted(seconds)
        found[name] = (
            1000 * statistics.median(ordered),
            1000 * ordered[int(0.95 * (len(ordered) - 1))],
            results,
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a bench-scale index folder")
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    found = measure(args.folder, args.passes)
    for name, (p50, p95, _) in found.items():
        print(f"{name:<11} search p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    exact, candidates = found["exhaustive"][2], found["candidates"][2]
    pairs = list(zip(exact, candidates, strict=True))
    overlap = statistics.mean(len(set(a) & set(b)) / max(len(a), 1) for a, b in pairs)
    first = statistics.mean(a[:1] == b[:1] for a, b in pairs)
    print(f"top passages in common {overlap:.3f}; same first passage {first:.3f}")


if __name__ == "__main__":
    main()

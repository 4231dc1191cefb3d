"""Opening a large index (issue 13, goal 2): prints, asserts nothing.

Builds a synthetic collection through the store's own `write_generation` (random words,
one sentence per chunk plus one spanning two chunks' worth every tenth chunk, random unit
vectors: the shapes of a real index, not its content), then, in a fresh interpreter for
each, measures:

* `load_index`: seconds and RSS (current and peak) after it, against the RSS of the bare
  imports measured in the same interpreter (the floor) and the size of the embeddings;
* a `Retriever` built on it (random query vector) and one search;
* the document table alone (`rag docs`'s read).

    PYTHONPATH=. .venv/bin/python eval/load_scale.py --chunks 100000 [--dimension 384]

Run it with PYTHONPATH pointing at another checkout of `rag` (e.g. `git archive main rag`
unpacked in a temporary folder) to compare the store before and after; `--json` prints one
JSON object instead of the table (tests/test_store.py uses it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import mmap
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHUNKS_PER_DOC = 50
WORDS_PER_CHUNK = 14
MODEL = "synthetic-unit-vectors"


def _unit(rng: np.random.Generator, n: int, dimension: int) -> Any:
    """Random unit vectors, made a block at a time (no float64 copy of the whole)."""
    out = np.empty((n, dimension), dtype=np.float32)
    for start in range(0, n, 65536):
        block = rng.standard_normal((min(65536, n - start), dimension), dtype=np.float32)
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def build(collection_dir: Path, n_chunks: int, dimension: int, seed: int = 0) -> float:
    """Write a synthetic generation of `n_chunks` chunks; returns the seconds it took."""
    from rag.store import IndexConfig, write_generation
    from rag.types import Chunk, Document, DocumentMeta

    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = ["".join(rng.choice(letters, size=int(rng.integers(4, 10)))) for _ in range(5000)]
    documents, chunks, sentences = [], [], []
    picks = rng.integers(0, len(vocabulary), size=(n_chunks, WORDS_PER_CHUNK))
    for d in range(0, n_chunks, CHUNKS_PER_DOC):
        doc_id = f"doc{d // CHUNKS_PER_DOC:06d}"
        parts, offset = [], 0
        for row in range(d, min(d + CHUNKS_PER_DOC, n_chunks)):
            text = " ".join(vocabulary[w] for w in picks[row]).capitalize() + "."
            chunk_index = row - d
            chunks.append(
                Chunk(
                    f"{doc_id}#{chunk_index}", doc_id, chunk_index, text, offset, offset + len(text)
                )
            )
            sentences.append((doc_id, offset, offset + len(text)))
            parts.append(text)
            offset += len(text) + 1
        meta = DocumentMeta(doc_id, f"/synthetic/{doc_id}.txt", f"{d:064x}", title=f"Document {d}")
        documents.append(Document(meta, " ".join(parts)))
    words = sorted(set(vocabulary))
    fields = {f.name for f in dataclasses.fields(IndexConfig)}
    extra = {"hnsw_min_chunks": 10**12} if "hnsw_min_chunks" in fields else {}  # before: flat
    config = IndexConfig(MODEL, dimension, {"chunk_tokens": 200, "version": 0}, **extra)
    started = time.perf_counter()
    write_generation(
        collection_dir,
        documents,
        chunks,
        _unit(rng, len(chunks), dimension),
        config,
        sentences=sentences,
        sentence_embeddings=_unit(rng, len(sentences), dimension),
        words=words,
        word_embeddings=_unit(rng, len(words), dimension),
    )
    return time.perf_counter() - started


def mapped(array: Any) -> bool:
    """Whether an array reads from a file mapping (np.memmap, or a view of one)."""
    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process, MB."""
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class _RandomEmbedder:
    """Random unit query vectors under the synthetic model's name."""

    name = MODEL
    max_tokens = 256

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._rng = np.random.default_rng(1)

    def embed(self, texts: list[str]) -> Any:
        return _unit(self._rng, len(texts), self.dimension)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def measure(collection_dir: Path) -> dict[str, Any]:
    """In this (fresh) interpreter: open the index, build a retriever, search once."""
    import rag.retrieval
    import rag.store
    from rag.settings import Settings

    floor, _ = _rss_mb()
    started = time.perf_counter()
    index = rag.store.load_index(collection_dir)
    n_chunks = len(index.chunks)
    load_s = time.perf_counter() - started
    after_load, _ = _rss_mb()
    started = time.perf_counter()
    retriever = rag.retrieval.Retriever(index, _RandomEmbedder(index.dimension), Settings())  # type: ignore[arg-type]
    retriever_s = time.perf_counter() - started
    started = time.perf_counter()
    passages = retriever.search("synthetic question about some words")
    search_s = time.perf_counter() - started
    now, peak = _rss_mb()
    return {
        "chunks": n_chunks,
        "sentences": len(index.sentences),
        "embeddings_mb": (index.embeddings.nbytes + index.sentence_embeddings.nbytes) / 2**20,
        "memmapped": mapped(index.embeddings),
        "rss_imports_mb": floor,
        "load_s": load_s,
        "rss_after_load_mb": after_load,
        "retriever_s": retriever_s,
        "first_search_s": search_s,
        "passages": len(passages),
        "rss_after_search_mb": now,
        "peak_rss_mb": peak,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_docs(collection_dir: Path) -> dict[str, Any]:
    from rag.index_files import current_generation, read_documents

    started = time.perf_counter()
    entries = read_documents(current_generation(collection_dir), Path("/synthetic"))
    return {"docs_s": time.perf_counter() - started, "documents": len(entries)}


def _fresh(step: str, collection_dir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", step, "--dir", str(collection_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))},
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--dir", type=Path, help="build here (default: a temporary folder)")
    parser.add_argument("--measure", choices=["load", "docs"], help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.measure:
        step = measure if args.measure == "load" else measure_docs
        print(json.dumps(step(args.dir)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        collection_dir = args.dir or Path(scratch) / "synthetic"
        build_s = build(collection_dir, args.chunks, args.dimension)
        result = {"build_s": build_s, **_fresh("load", collection_dir)}
        result.update(_fresh("docs", collection_dir))
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"synthetic index: {result['chunks']} chunks, {result['sentences']} sentences, "
        f"dimension {args.dimension}, random words and unit vectors"
    )
    for key, value in result.items():
        print(f"  {key:22} {value:10.2f}" if isinstance(value, float) else f"  {key:22} {value}")
    grown = result["rss_after_load_mb"] - result["rss_imports_mb"]
    print(
        f"  load RSS over the imports: {grown:.0f} MB (embeddings {result['embeddings_mb']:.0f} MB)"
    )


if __name__ == "__main__":
    main()

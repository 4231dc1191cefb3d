"""Search latency of `Retriever` at scale: the exhaustive path (every chunk scored) against
the candidate path (rag.retrieval, above `exhaustive_max_chunks`), on a synthetic index.

The synthetic index is the demo index repeated: each copy of a document keeps its text
(so BM25 and word matching see real text, with every posting list `copies` times longer)
and gets its chunk and sentence vectors perturbed (isotropic gaussian noise of norm 0.25,
renormalised: cosine ~0.97 to the original, so a copy stays on its topic); the vector
indexes are the kinds `choose_kind("auto")` picks for those sizes. Queries are the eval
questions, embedded by the real model once beforehand (query embedding is not timed;
unknown-word embedding is off). Prints p50/p95 ms per path and size.

    PYTHONPATH=. .venv/bin/python eval/retrieval_scale.py --index index/default --sizes 20000 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from rag.embeddings import load_embedder
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import LoadedIndex, build_bm25, load_index
from rag.vector_index import choose_kind, create_index


class _Embedded:
    """Answers `embed` from vectors computed beforehand (the model is not what is timed)."""

    def __init__(self, name: str, dimension: int, vectors: dict[str, np.ndarray]) -> None:
        self.name, self.dimension, self._vectors = name, dimension, vectors

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vectors[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def synthetic(demo: LoadedIndex, copies: int) -> LoadedIndex:
    documents, chunks, sentences = {}, [], []
    for c in range(copies):
        for doc_id, doc in demo.documents.items():
            new = f"{doc_id}~{c}" if c else doc_id
            meta = dataclasses.replace(doc.meta, doc_id=new)
            documents[new] = dataclasses.replace(doc, meta=meta)
        for chunk in demo.chunks:
            new = f"{chunk.doc_id}~{c}" if c else chunk.doc_id
            chunks.append(dataclasses.replace(chunk, doc_id=new, chunk_id=f"{new}#{chunk.index}"))
        sentences += [(f"{d}~{c}" if c else d, a, b) for d, a, b in demo.sentences]
    rng = np.random.default_rng(0)

    def vectors(base: np.ndarray) -> np.ndarray:
        noise = rng.normal(size=(len(base) * copies, base.shape[1])).astype(np.float32)
        noise *= 0.25 / np.linalg.norm(noise, axis=1, keepdims=True)
        out = np.tile(base, (copies, 1)) + noise
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embeddings = vectors(np.asarray(demo.embeddings))
    sentence_embeddings = vectors(np.asarray(demo.sentence_embeddings))
    bm25 = build_bm25([c.text for c in chunks])
    return dataclasses.replace(
        demo,
        documents=documents,
        chunks=chunks,
        embeddings=embeddings,
        bm25=bm25,
        sentences=sentences,
        sentence_embeddings=sentence_embeddings,
    )


def attach_indexes(index: LoadedIndex) -> dict[str, str]:
    kinds = {}
    for name, vectors in (
        ("chunk_index", index.embeddings),
        ("sentence_index", index.sentence_embeddings),
    ):
        kind = choose_kind(len(vectors), "auto")
        vector_index = create_index(kind, vectors.shape[1], capacity=len(vectors))
        vector_index.add(np.arange(len(vectors), dtype=np.int64), vectors)
        if hasattr(vector_index, "rescore_with"):
            vector_index.rescore_with(vectors)
        setattr(index, name, vector_index)
        kinds[name] = kind
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("index/default"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    settings = Settings(word_embed_unknown=False, _env_file=None)  # type: ignore[call-arg]
    demo = load_index(args.index)
    questions = [
        json.loads(line)["question"]
        for line in Path("eval/questions.jsonl").read_text(encoding="utf-8").splitlines()
    ][: args.queries]
    model = load_embedder(settings.embedding_model)
    embedded = _Embedded(
        model.name, model.dimension, dict(zip(questions, model.embed(questions), strict=True))
    )
    print(
        f"demo: {len(demo.chunks)} chunks, {len(demo.sentences)} sentences; "
        f"{len(questions)} queries"
    )
    print(
        f"{'chunks':>9} {'sentences':>9} {'path':10} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'setup s':>8} kinds"
    )
    for size in args.sizes:
        started = time.perf_counter()
        index = synthetic(demo, max(1, round(size / len(demo.chunks))))
        kinds = attach_indexes(index)
        setup = time.perf_counter() - started
        for path, threshold in (("candidates", 0), ("exhaustive", 10**9)):
            retriever = Retriever(
                index, embedded, settings.model_copy(update={"exhaustive_max_chunks": threshold})
            )
            vectors = embedded.embed(questions)
            retriever.search(questions[0], query_vector=vectors[0])  # builds what is lazy
            times = []
            for question, vector in zip(questions, vectors, strict=True):
                began = time.perf_counter()
                retriever.search(question, query_vector=vector)
                times.append(1000 * (time.perf_counter() - began))
            print(
                f"{len(index.chunks):>9} {len(index.sentences):>9} {path:10} "
                f"{np.percentile(times, 50):>8.1f} {np.percentile(times, 95):>8.1f} "
                f"{setup:>8.1f} {kinds}",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Ingest speed against the model's own speed (issue 13, goal 1): prints, asserts nothing.

One process, the model loaded once (its load time is not counted). On the demo corpus
(and with --copies N, N perturbed copies of it in a temporary folder as well) it reports:

* the texts the index holds vectors for: chunks (with their context header), sentences,
  words; how many `embed` calls ingest made, the texts passed to them and how many of
  those were distinct;
* the raw encode rate of the same backend on the same texts: chunks and sentences in one
  `model.encode(texts, batch_size=settings.embedding_batch_size)`, words in another;
* a full `Assistant.ingest` (rebuild) into a temporary index: its seconds, texts/s over
  the texts the index needs, and its ratio to the raw encode time (the floor);
* where ingest spends it: in the model on chunks and sentences (and what the per-document
  calls of the code before issue 13 take on the same texts), on words, outside the model;
* peak RSS of the process (ru_maxrss) after the ingest.

    PYTHONPATH=. .venv/bin/python eval/ingest_speed.py [--copies 5] [--backend onnx]
    PYTHONPATH=. .venv/bin/python eval/ingest_speed.py --compare-backends 3
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from eval.ingest_memory import RandomEmbedder
from rag.assistant import Assistant
from rag.chunking import indexed_text
from rag.embeddings import (
    BACKENDS,
    Embedder,
    SentenceTransformerEmbedder,
    Vectors,
    embedder_for,
    load_embedder,
    resolve_model_path,
)
from rag.indexing import searchable_sentences
from rag.onnx_embedding import OnnxEmbedder
from rag.settings import Settings
from rag.store import LoadedIndex, load_index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


class CountingEmbedder:
    """Passes through to the real embedder and records every text it was asked for."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self.calls = 0
        self.texts: list[str] = []
        self.seconds: list[float] = []  # per call
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts.extend(texts)
        self.batches.append(list(texts))
        started = time.perf_counter()
        vectors = self.inner.embed(texts)
        self.seconds.append(time.perf_counter() - started)
        return vectors

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_corpus(folder: Path, copies: int, seed: int) -> Path:
    """The demo corpus plus `copies` copies of each file with words shuffled inside each
    sentence-ish run, so no copy's sentences or chunks repeat the original's."""
    rng = random.Random(seed)
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        shutil.copy(path, folder / path.name)
        for copy in range(copies):
            lines = []
            for line in text.splitlines():
                words = line.split(" ")
                if len(words) > 3:
                    i, j = rng.randrange(len(words)), rng.randrange(len(words))
                    words[i], words[j] = words[j], words[i]
                    words.insert(rng.randrange(len(words)), f"v{copy}")
                lines.append(" ".join(words))
            (folder / f"{path.stem}_copy{copy}.txt").write_text("\n".join(lines), encoding="utf-8")
    shutil.copy(CORPUS / "catalog.toml", folder / "catalog.toml")
    return folder


def raw_encode_s(embedder: Embedder, texts: list[str], batch_size: int) -> float:
    """The backend's own encode loop over `texts` at a fixed batch size, longest first (as
    sentence-transformers' `encode` sorts): the floor ingest is measured against."""
    if not texts:
        return float("nan")
    started = time.perf_counter()
    if isinstance(embedder, SentenceTransformerEmbedder):
        embedder._model.encode(texts, batch_size=batch_size, show_progress_bar=False)
    elif isinstance(embedder, OnnxEmbedder):
        ordered = sorted(texts, key=len, reverse=True)
        for start in range(0, len(ordered), batch_size):
            embedder._embed_batch(ordered[start : start + batch_size])
    else:
        return float("nan")
    return time.perf_counter() - started


def compare_backends(settings: Settings, rounds: int) -> None:
    """Raw encode texts/s of each backend on the demo corpus's chunk and sentence texts,
    rounds interleaved (a busy machine slows all backends alike), median reported."""
    with tempfile.TemporaryDirectory(prefix="rag-speed-") as tmp:
        # The demo index's texts, chunked with the model's tokenizer (vectors not needed).
        demo = settings.model_copy(update={"index_dir": Path(tmp), "collection": "texts"})
        stand_in = RandomEmbedder(resolve_model_path(settings.embedding_model))
        Assistant(demo, embedder_factory=lambda: stand_in).ingest([CORPUS])
        index = load_index(demo.collection_dir)
    texts = [indexed_text(c.text, index.documents[c.doc_id].meta) for c in index.chunks]
    texts += index.sentence_texts()
    models = {
        backend: load_embedder(
            settings.embedding_model, backend=backend, cache_dir=settings.models_dir
        )
        for backend in ("torch", "onnx", "onnx-int8")
    }
    for model in models.values():
        model.embed(texts[:64])  # warm
    seconds: dict[str, list[float]] = {b: [] for b in models}
    for _ in range(rounds):
        for backend, model in models.items():
            seconds[backend].append(raw_encode_s(model, texts, settings.embedding_batch_size))
    base = statistics.median(seconds["torch"])
    print(
        f"raw encode of {len(texts)} demo texts, batch {settings.embedding_batch_size}, "
        f"median of {rounds} interleaved rounds:"
    )
    for backend, values in seconds.items():
        median = statistics.median(values)
        print(
            f"  {backend:<10} {median:7.2f} s  {len(texts) / median:7.1f} texts/s  "
            f"{base / median:.2f}x torch"
        )


def per_document_s(embedder: Embedder, index: LoadedIndex) -> float:
    """The embedding path before issue 13: per document, one call for its chunks and one
    for its sentences."""
    started = time.perf_counter()
    for doc_id, document in index.documents.items():
        embedder.embed([indexed_text(c.text, document.meta) for c in index.chunks_of(doc_id)])
        embedder.embed([document.text[a:b] for a, b in searchable_sentences(document)])
    return time.perf_counter() - started


def measure(name: str, corpus: Path, embedder: Embedder, index_dir: Path, backend: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        index_dir=index_dir, collection="speed", embedding_backend=backend, _env_file=None
    )
    counting = CountingEmbedder(embedder)
    assistant = Assistant(settings, embedder_factory=lambda: counting)
    started = time.perf_counter()
    report = assistant.ingest([corpus], rebuild=True)
    ingest_s = time.perf_counter() - started
    rss = peak_rss_mib()
    index = assistant.index
    chunk_texts = [indexed_text(c.text, index.documents[c.doc_id].meta) for c in index.chunks]
    sentence_texts = index.sentence_texts()
    words = list(index.words)
    passages = chunk_texts + sentence_texts
    needed = len(passages) + len(words)
    passages_s = raw_encode_s(embedder, passages, settings.embedding_batch_size)
    words_s = raw_encode_s(embedder, words, settings.embedding_batch_size)
    raw_s = passages_s + words_s
    old_s = per_document_s(embedder, index)
    word_set = set(words)
    in_words = sum(
        s for s, t in zip(counting.seconds, counting.batches, strict=True) if t[0] in word_set
    )
    in_passages = sum(counting.seconds) - in_words
    print(f"== {name}: {report.documents} documents, {report.chunks} chunks")
    print(
        f"  index needs {needed} vectors: {len(chunk_texts)} chunks + {len(sentence_texts)} "
        f"sentences + {len(words)} words ({len(set(passages))} distinct chunk/sentence texts)"
    )
    print(
        f"  ingest embedded {len(counting.texts)} texts in {counting.calls} embed calls "
        f"({len(set(counting.texts))} distinct)"
    )
    print(
        f"  raw encode (batch {settings.embedding_batch_size}): chunks+sentences "
        f"{passages_s:.2f} s ({len(passages) / passages_s:.1f} texts/s), words {words_s:.2f} s "
        f"({len(words) / words_s:.1f}/s); all {needed / raw_s:.1f} texts/s"
    )
    print(
        f"  chunks+sentences inside ingest {in_passages:.2f} s "
        f"({len(passages) / in_passages:.1f} texts/s, {in_passages / passages_s:.2f}x raw); "
        f"the old per-document path on them {old_s:.2f} s ({old_s / passages_s:.2f}x raw)"
    )
    print(
        f"  words inside ingest {in_words:.2f} s ({len(words) / in_words:.1f}/s, "
        f"{in_words / words_s:.2f}x raw at batch {settings.embedding_batch_size}); "
        f"outside the model {ingest_s - sum(counting.seconds):.2f} s"
    )
    print(
        f"  ingest (rebuild, model warm): {ingest_s:.2f} s = {needed / ingest_s:.1f} texts/s; "
        f"ratio to raw encode {ingest_s / raw_s:.2f}x"
    )
    print(f"  peak RSS so far {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=0, help="also a corpus of N copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--backend", choices=sorted(BACKENDS), help="embedding backend (default: the setting)"
    )
    parser.add_argument(
        "--compare-backends", type=int, metavar="ROUNDS", help="only raw encode of each backend"
    )
    args = parser.parse_args()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    if args.backend:
        settings = settings.model_copy(update={"embedding_backend": args.backend})
    if args.compare_backends:
        compare_backends(settings, args.compare_backends)
        return
    started = time.perf_counter()
    embedder = embedder_for(settings)
    print(f"backend {settings.embedding_backend}")
    embedder.embed(["warm up the model once before anything is timed"])
    print(f"model load {time.perf_counter() - started:.2f} s; RSS {peak_rss_mib():.0f} MiB")
    with tempfile.TemporaryDirectory(prefix="rag-speed-") as tmp:
        measure("demo corpus", CORPUS, embedder, Path(tmp) / "demo", settings.embedding_backend)
        if args.copies:
            folder = Path(tmp) / "corpus"
            folder.mkdir()
            synthetic_corpus(folder, args.copies, args.seed)
            measure(
                f"demo corpus + {args.copies} perturbed copies",
                folder,
                embedder,
                Path(tmp) / "s",
                settings.embedding_backend,
            )


if __name__ == "__main__":
    main()

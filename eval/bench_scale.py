"""`make bench-scale`: how build, disk, cold start, memory and query latency grow with the
collection, on synthetic indexes of 10k, 100k and 1M chunks. Prints, asserts nothing.

The indexes are written through the store's own `write_generation`, the call `rag ingest`
ends in, so a change of the store shows in these figures:

* the base set (10k chunks, or the whole of a smaller size) is real text: documents made
  of the demo corpus's cleaned sentences (ingested from corpus/ with the real model, then
  recombined, ~3 sentences a chunk as in the demo), chunk vectors embedded by the real
  model, sentence and word vectors those of the demo's own ingest;
* a larger size is that base repeated: each copy after the first swaps a share of its
  words for variants (a suffix of letters per copy) and shifts its digits, so BM25 and the
  word table see new terms, and its vectors are the real ones plus gaussian noise,
  renormalised. Vectors are generated copy by copy into memory-mapped files, so the
  generator never holds the vectors of a large size in memory.

Built indexes are cached under index/bench-scale/<size>-<key>/ (key: the store's schema
version and GENERATOR_VERSION); `--rebuild` builds anew. Each size is measured in fresh
processes: `rag search` cold (median of 3, beside a bare `import sentence_transformers`
measured in the same run) and a warm Assistant (RSS after load, search and extractive ask
p50/p95 over ~30 questions). Table, figures and a plot go to eval/runs/bench-scale-<stamp>/.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import json
import math
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from rag.assistant import Assistant
from rag.chunking import indexed_text
from rag.embeddings import Embedder, Vectors, load_embedder
from rag.errors import RagError
from rag.evaluation.schema import load_eval_set
from rag.index_files import SCHEMA_VERSION, current_generation
from rag.indexing import Progress, embed_distinct
from rag.settings import Settings
from rag.store import IndexConfig, load_index, write_generation
from rag.types import Chunk, Document, DocumentMeta
from rag.wordmatch import content_words

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "eval" / "questions.jsonl"
CACHE = ROOT / "index" / "bench-scale"
RUNS = ROOT / "eval" / "runs"
COLLECTION = "bench"
GENERATOR_VERSION = 1  # bump when the synthetic data changes: cached indexes are rebuilt
DEFAULT_SIZES = "10k,100k,1M"
BASE_CHUNKS = 10_000  # real text and real vectors; larger sizes are perturbed copies of it
DOC_SENTENCES = 60  # sentences drawn from one demo document into one synthetic document
PARAGRAPH_SENTENCES = 4
SWAP_PER_MILLE = 150  # share of the vocabulary each copy swaps for variants
NOISE_SIGMA = 0.025  # per dimension: noise of norm ~0.5 beside a unit vector
BLOCK_ROWS = 20_000  # vectors generated per block
QUERY_COUNT = 30  # eval questions and perturbed variants of some, timed warm
COLD_RUNS = 3
SEED = 13
TARGETS_1M = {  # issue 13 goal 3: (figure key, limit, unit)
    "search p50": ("search_p50_ms", 50.0, "ms"),
    "ask p50": ("ask_p50_ms", 120.0, "ms"),
    "cold `rag search`": ("cold_s", 5.0, "s"),
    "RSS after load": ("rss_after_load_mib", 2048.0, "MiB"),
}
EmbedderFactory = Callable[[], Embedder]
RAG_COMMAND = "from rag.cli import main; main()"


# ------------------------------------------------------------------ sizes and places


def parse_size(text: str) -> int:
    """'2k' -> 2000, '1M' -> 1000000, '300' -> 300."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise SystemExit(f"--sizes: {text!r} is not a size; write e.g. 2k, 10k, 100k, 1M or 300")
    number = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    if number < 1:
        raise SystemExit(f"--sizes: {text!r} must be at least 1 chunk")
    return int(number)


def size_label(chunks: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if chunks >= scale and chunks % scale == 0:
            return f"{chunks // scale}{unit}"
    return str(chunks)


def cache_key() -> str:
    return f"s{SCHEMA_VERSION}-g{GENERATOR_VERSION}"


def slug(model: str) -> str:
    """A model name (or path) as part of a folder name."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", model.strip("/"))[-60:]


def size_folder(cache: Path, chunks: int, base_chunks: int) -> Path:
    """The index folder of one size (RAG_INDEX_DIR; the collection is COLLECTION)."""
    base = "" if base_chunks == BASE_CHUNKS or chunks <= base_chunks else f"-b{base_chunks}"
    return cache / f"{size_label(chunks)}{base}-{cache_key()}"


def index_settings(index_dir: Path, model: str | None = None) -> Settings:
    """Defaults everywhere but the index location (and the model, where not the default)."""
    values: dict[str, Any] = {"index_dir": index_dir, "collection": COLLECTION}
    if model is not None:
        values["embedding_model"] = model
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


def rss_mib() -> float:
    """This process's resident set now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a new interpreter, so its memory figures are its own."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# ------------------------------------------------------------------ the source: demo sentences


@dataclass(frozen=True)
class Pool:
    """The demo corpus's cleaned sentences with their real vectors, by source document."""

    metas: list[DocumentMeta]
    doc_sentences: list[list[int]]  # per source document, rows into `texts`
    texts: list[str]
    tokens: list[int]  # word pieces per sentence (the model's tokenizer)
    vectors: Vectors
    words: list[str]
    word_vectors: Vectors
    model: str
    dimension: int
    chunker: dict[str, int]


def source_pool(
    cache: Path, factory: EmbedderFactory, model: str | None, notify: Callable[[str], None]
) -> Pool:
    """Ingest corpus/ once (cached beside the sizes) and read its sentences back."""
    model = model or Settings.model_fields["embedding_model"].default
    settings = Settings(  # type: ignore[call-arg]
        index_dir=cache / f"source-{slug(model)}-{cache_key()}",
        collection="demo",
        embedding_model=model,
        _env_file=None,
    )
    assistant = Assistant(settings, embedder_factory=factory)
    notify(f"the demo sentences: ingest of {CORPUS} into {settings.collection_dir} (cached)")
    report = assistant.ingest([CORPUS], progress=throttled(notify))  # no-op when cached
    if report.skipped:
        raise RagError(f"ingest of {CORPUS} skipped files: {report.skipped}")
    index = load_index(settings.collection_dir)
    metas = [d for d in index.documents.values() if any(s[0] == d.doc_id for s in index.sentences)]
    rows: dict[str, list[int]] = {m.doc_id: [] for m in (d.meta for d in metas)}
    for row, (doc_id, _, _) in enumerate(index.sentences):
        rows[doc_id].append(row)
    texts = index.sentence_texts()
    embedder = assistant.embedder
    return Pool(
        metas=[d.meta for d in metas],
        doc_sentences=[rows[d.doc_id] for d in metas],
        texts=texts,
        tokens=[embedder.count_tokens(t) for t in texts],
        vectors=np.asarray(index.sentence_embeddings, dtype=np.float32),
        words=list(index.words),
        word_vectors=np.asarray(index.word_embeddings, dtype=np.float32),
        model=index.embedding_model,
        dimension=index.dimension,
        chunker=index.chunker,
    )


# ------------------------------------------------------------------ layout of the base set


@dataclass(frozen=True)
class Layout:
    """The base set: each document a list of pool sentences, each chunk a run of them."""

    sources: list[int]  # source document of each document
    sentences: list[list[int]]  # pool rows of each document's sentences, in order
    chunks: list[list[tuple[int, int]]]  # each document's chunks: [first, end) sentence positions

    @property
    def chunk_count(self) -> int:
        return sum(len(c) for c in self.chunks)

    @property
    def sentence_count(self) -> int:
        return sum(len(s) for s in self.sentences)


def pack(tokens: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Whole sentences up to `budget` word pieces a chunk, the next chunk repeating the last
    sentences of this one up to `overlap` word pieces (as the real chunker does)."""
    runs: list[tuple[int, int]] = []
    start = 0
    while start < len(tokens):
        end, used = start + 1, tokens[start]
        while end < len(tokens) and used + tokens[end] <= budget:
            used += tokens[end]
            end += 1
        runs.append((start, end))
        if end == len(tokens):
            break
        back, kept = end, 0
        while back - 1 > start and kept + tokens[back - 1] <= overlap:
            back -= 1
            kept += tokens[back]
        start = max(back, start + 1)
    return runs


def layout(pool: Pool, chunks: int, rng: np.random.Generator) -> Layout:
    """Documents of up to DOC_SENTENCES sentences drawn (in their order) from one demo
    document each, round robin, until exactly `chunks` chunks."""
    budget, overlap = pool.chunker["chunk_tokens"], pool.chunker["overlap_tokens"]
    sources: list[int] = []
    sentences: list[list[int]] = []
    runs: list[list[tuple[int, int]]] = []
    total = 0
    while total < chunks:
        source = len(sources) % len(pool.metas)
        own = pool.doc_sentences[source]
        picked = sorted(rng.choice(len(own), size=min(DOC_SENTENCES, len(own)), replace=False))
        rows = [own[i] for i in picked]
        packed = pack([pool.tokens[r] for r in rows], budget, overlap)[: chunks - total]
        rows = rows[: packed[-1][1]]  # the last document ends with its last chunk
        sources.append(source)
        sentences.append(rows)
        runs.append(packed)
        total += len(packed)
    return Layout(sources, sentences, runs)


# ------------------------------------------------------------------ perturbation


_TOKEN = re.compile(r"[^\W\d_]+|\d")


def suffix(copy: int) -> str:
    """Letters naming a copy (1 -> 'qb'): no digits, so the word table keeps the variants."""
    letters = ""
    while True:
        copy, digit = divmod(copy, 26)
        letters = chr(ord("a") + digit) + letters
        if copy == 0:
            break
    return "q" + letters


def swapped(word: str, copy: int) -> bool:
    """Whether `copy` swaps this (lower-cased) word for its variant."""
    return zlib.crc32(f"{copy}\0{word}".encode()) % 1000 < SWAP_PER_MILLE


def perturb(text: str, copy: int, vocabulary: frozenset[str]) -> str:
    """The text as copy `copy` has it: digits shifted by the copy number, a share of the
    vocabulary's words given the copy's suffix. Copy 0 is the text itself."""
    if copy == 0:
        return text
    ending = suffix(copy)

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.isdigit():
            return str((int(token) + copy) % 10)
        lower = token.lower()
        return token + ending if lower in vocabulary and swapped(lower, copy) else token

    return _TOKEN.sub(one, text)


def unit_rows(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def noisy(vectors: Vectors, rng: np.random.Generator) -> Vectors:
    """Real vectors plus gaussian noise, renormalised."""
    noise = rng.standard_normal(vectors.shape, dtype=np.float32) * NOISE_SIGMA
    return unit_rows(vectors + noise).astype(np.float32)


# ------------------------------------------------------------------ the synthetic collection


@dataclass(frozen=True)
class Synthetic:
    """Everything `write_generation` takes; vectors are memory-mapped .npy files."""

    documents: list[Document]
    chunks: list[Chunk]
    embeddings: Vectors
    sentences: list[tuple[str, int, int]]
    sentence_embeddings: Vectors
    words: list[str]
    word_embeddings: Vectors
    copies: int
    mean_noisy_cosine: float | None  # of a noisy copy's chunk vectors to the real ones


def render(
    layout_: Layout, pool: Pool, doc: int, copy: int, texts: Sequence[str]
) -> tuple[Document, list[Chunk], list[tuple[str, int, int]]]:
    """One document of one copy: its text, chunks and sentence spans."""
    source = pool.metas[layout_.sources[doc]]
    doc_id = f"syn{copy:03d}-{doc:05d}"
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for position, row in enumerate(layout_.sentences[doc]):
        if position:
            gap = "\n\n" if position % PARAGRAPH_SENTENCES == 0 else " "
            parts.append(gap)
            at += len(gap)
        spans.append((at, at + len(texts[row])))
        parts.append(texts[row])
        at += len(texts[row])
    text = "".join(parts)
    meta = DocumentMeta(
        doc_id=doc_id,
        source=f"synthetic/{doc_id}.txt",
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        title=f"{source.title or source.doc_id} ({copy}.{doc})",
        author=source.author,
        outlet=source.outlet,
        date=source.date,
    )
    chunks = [
        Chunk(
            f"{doc_id}#{n}",
            doc_id,
            n,
            text[spans[a][0] : spans[b - 1][1]],
            spans[a][0],
            spans[b - 1][1],
        )
        for n, (a, b) in enumerate(layout_.chunks[doc])
    ]
    return Document(meta, text), chunks, [(doc_id, a, b) for a, b in spans]


def word_table(pool: Pool, copies: int) -> tuple[list[str], Vectors]:
    """The base vocabulary and each copy's variants (sorted, as ingest writes it); a
    variant's vector is its word's plus noise."""
    entries = [(w, row, 0) for row, w in enumerate(pool.words)]
    for copy in range(1, copies):
        ending = suffix(copy)
        entries += [(w + ending, row, copy) for row, w in enumerate(pool.words) if swapped(w, copy)]
    entries.sort()
    vectors = pool.word_vectors[[row for _, row, _ in entries]]
    variant = np.array([copy > 0 for *_, copy in entries])
    if variant.any():
        vectors[variant] = noisy(vectors[variant], np.random.default_rng(SEED))
    return [w for w, _, _ in entries], vectors


class NpyAppender:
    """A float32 .npy file written block by block with plain writes (no mapping: the pages
    written do not count as this process's memory), read back memory-mapped."""

    def __init__(self, path: Path, rows: int, dimension: int) -> None:
        self.path, self.rows, self.written = path, rows, 0
        self._file = path.open("wb")
        header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dimension)}
        np.lib.format.write_array_header_1_0(self._file, header)

    def append(self, block: Vectors) -> None:
        self._file.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
        self.written += len(block)

    def close(self) -> Vectors:
        self._file.close()
        if self.written != self.rows:
            raise RagError(f"internal: {self.path} holds {self.written} of {self.rows} rows")
        vectors: Vectors = np.load(self.path, mmap_mode="r")
        return vectors


def synthesize(
    pool: Pool,
    base: Layout,
    base_vectors: Vectors,
    copies: int,
    scratch: Path,
    notify: Callable[[str], None],
) -> Synthetic:
    """`copies` copies of the base set; vectors streamed copy by copy into `scratch`."""
    scratch.mkdir(parents=True, exist_ok=True)
    n_chunks, n_sentences = base.chunk_count, base.sentence_count
    embeddings = NpyAppender(scratch / "embeddings.npy", n_chunks * copies, pool.dimension)
    sentence_embeddings = NpyAppender(
        scratch / "sentence_embeddings.npy", n_sentences * copies, pool.dimension
    )
    base_rows = np.array([r for rows in base.sentences for r in rows], dtype=np.int64)
    vocabulary = frozenset(pool.words)
    documents: list[Document] = []
    chunks: list[Chunk] = []
    sentences: list[tuple[str, int, int]] = []
    cosines: list[float] = []
    for copy in range(copies):
        rng = np.random.default_rng([SEED, copy])
        texts = [perturb(t, copy, vocabulary) for t in pool.texts]
        for doc in range(len(base.sentences)):
            document, doc_chunks, doc_sentences = render(base, pool, doc, copy, texts)
            documents.append(document)
            chunks.extend(doc_chunks)
            sentences.extend(doc_sentences)
        for start in range(0, n_chunks, BLOCK_ROWS):
            real = base_vectors[start : start + BLOCK_ROWS]
            block = real if copy == 0 else noisy(real, rng)
            embeddings.append(block)
            if copy == 1 and start == 0:
                cosines.append(float(np.mean(np.sum(block * real, axis=1))))
        for start in range(0, n_sentences, BLOCK_ROWS):
            real = pool.vectors[base_rows[start : start + BLOCK_ROWS]]
            block = real if copy == 0 else noisy(real, rng)
            sentence_embeddings.append(block)
        if copy % 10 == 9 or copy == copies - 1:
            notify(f"copy {copy + 1}/{copies} generated, peak RSS {peak_rss_mib():.0f} MiB")
    words, word_embeddings = word_table(pool, copies)
    return Synthetic(
        documents,
        chunks,
        embeddings.close(),
        sentences,
        sentence_embeddings.close(),
        words,
        word_embeddings,
        copies,
        cosines[0] if cosines else None,
    )


def base_chunk_vectors(
    pool: Pool, base: Layout, factory: EmbedderFactory, notify: Callable[[str], None]
) -> Vectors:
    """The base set's chunk vectors, embedded by the model as ingest embeds them."""
    texts: list[str] = []
    for doc in range(len(base.sentences)):
        document, doc_chunks, _ = render(base, pool, doc, 0, pool.texts)
        texts += [indexed_text(c.text, document.meta) for c in doc_chunks]
    table = embed_distinct(
        texts, factory(), Settings.model_fields["embedding_batch_size"].default, throttled(notify)
    )
    return table.vectors_of(texts)


def throttled(notify: Callable[[str], None], every_s: float = 15.0) -> Progress:
    """An ingest progress callback that says where it is every `every_s` seconds."""
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        if time.monotonic() - last[0] > every_s or done == total:
            last[0] = time.monotonic()
            notify(f"{stage}: {done}/{total}")

    return progress


def vectors_note(copies: int) -> str:
    if copies == 1:
        return "real (model)"
    return f"1 real + {copies - 1} noisy copies"


# ------------------------------------------------------------------ build (cached)


def build_size(
    chunks: int,
    base_chunks: int,
    cache: Path,
    factory: EmbedderFactory,
    model: str | None,
    generate_only: bool = False,
) -> dict[str, Any]:
    """Build one size's index (run in a fresh process): figures of the build."""
    started = time.perf_counter()
    folder = size_folder(cache, chunks, base_chunks)
    say = lambda line: print(f"  [{size_label(chunks)}] {line}", flush=True)  # noqa: E731
    pool = source_pool(cache, factory, model, say)
    base_n = min(chunks, base_chunks)
    copies = math.ceil(chunks / base_n)
    if copies * base_n != chunks:
        raise SystemExit(f"--sizes: {chunks} is not a multiple of the base set ({base_n} chunks)")
    base = layout(pool, base_n, np.random.default_rng(SEED))
    base_file = cache / f"base-{base_n}-{slug(pool.model)}-{cache_key()}.npy"
    if base_file.is_file():
        base_vectors = np.load(base_file)
    else:
        say(f"embedding the base set's {base_n} chunks with {pool.model}...")
        base_vectors = base_chunk_vectors(pool, base, factory, say)
        np.save(base_file, base_vectors)
    embedded_s = time.perf_counter() - started
    shutil.rmtree(folder, ignore_errors=True)
    scratch = folder / "scratch"
    generating = time.perf_counter()
    data = synthesize(pool, base, base_vectors, copies, scratch, say)
    figures: dict[str, Any] = {
        "chunks": len(data.chunks),
        "documents": len(data.documents),
        "sentences": len(data.sentences),
        "words": len(data.words),
        "copies": copies,
        "vectors": vectors_note(copies),
        "noise_sigma": NOISE_SIGMA if copies > 1 else None,
        "mean_noisy_cosine": data.mean_noisy_cosine,
        "embed_or_cached_s": embedded_s,
        "generate_s": time.perf_counter() - generating,
        "generate_peak_rss_mib": peak_rss_mib(),
    }
    if generate_only:
        shutil.rmtree(folder, ignore_errors=True)
        return figures
    say(f"writing the generation ({len(data.chunks)} chunks, {len(data.sentences)} sentences)...")
    writing = time.perf_counter()
    config = IndexConfig(pool.model, pool.dimension, pool.chunker, Settings().vector_store)
    generation = write_generation(
        folder / COLLECTION,
        data.documents,
        data.chunks,
        data.embeddings,
        config,
        sentences=data.sentences,
        sentence_embeddings=data.sentence_embeddings,
        words=data.words,
        word_embeddings=data.word_embeddings,
    )
    del data
    shutil.rmtree(scratch, ignore_errors=True)
    figures.update(
        write_s=time.perf_counter() - writing,
        build_s=time.perf_counter() - started,
        build_peak_rss_mib=peak_rss_mib(),
        generation=generation.name,
        model=pool.model,
        built=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    (folder / "build.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


def cached_build(folder: Path) -> dict[str, Any] | None:
    """The build figures of a cached index that is still the live generation, else None."""
    try:
        figures: dict[str, Any] = json.loads((folder / "build.json").read_text(encoding="utf-8"))
        if current_generation(folder / COLLECTION).name == figures["generation"]:
            return figures
    except (OSError, ValueError, KeyError, RagError):
        return None
    return None


def disk_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


# ------------------------------------------------------------------ measure


def queries(count: int = QUERY_COUNT) -> list[str]:
    """Eval questions across types, and perturbed variants of some (as copy 1 has them)."""
    questions = [q.question for q in load_eval_set(QUESTIONS)]
    plain = count - count // 3
    step = max(1, len(questions) // plain)
    chosen = questions[::step][:plain]
    variants = [perturb(q, 1, frozenset(content_words(q))) for q in chosen]
    return chosen + variants[: count - len(chosen)]


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, q))


def measure_warm(
    index_dir: Path, model: str, factory: EmbedderFactory | None, texts: list[str], passes: int
) -> dict[str, Any]:
    """A warm Assistant over one size (run in a fresh process): load, RSS, query latency."""
    settings = index_settings(index_dir, model)
    assistant = Assistant(settings, embedder_factory=factory)
    started = time.perf_counter()
    assistant.embedder  # noqa: B018 - the model first, so the index load is timed alone
    model_s = time.perf_counter() - started
    assistant.load()
    load_s = time.perf_counter() - started - model_s
    rss_after_load = rss_mib()
    for text in texts:  # warm-up, untimed
        assistant.search(text)
        assistant.ask(text, backend="extractive")
    search: list[float] = []
    ask: list[float] = []
    # The assistant remembers recent questions' vectors (rag.embeddings.QueryMemo): each
    # timed call starts without them, as a new question would.
    forget = getattr(assistant.embedder, "forget", lambda: None)
    for _ in range(passes):
        for text in texts:
            forget()
            at = time.perf_counter()
            assistant.search(text)
            search.append(time.perf_counter() - at)
            forget()
            at = time.perf_counter()
            assistant.ask(text, backend="extractive")
            ask.append(time.perf_counter() - at)
    return {
        "model_load_s": model_s,
        "index_load_s": load_s,
        "rss_after_load_mib": rss_after_load,
        "warm_peak_rss_mib": peak_rss_mib(),
        "queries": len(search),
        "search_p50_ms": percentile_ms(search, 50),
        "search_p95_ms": percentile_ms(search, 95),
        "ask_p50_ms": percentile_ms(ask, 50),
        "ask_p95_ms": percentile_ms(ask, 95),
    }


def timed_process(
    command: Sequence[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MiB), exit status and stderr tail of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert child.stderr is not None
    error = child.stderr.read()
    child.stderr.close()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, child.returncode, error.strip()[-300:]


def rag_search_command(query: str) -> list[str]:
    return [sys.executable, "-c", RAG_COMMAND, "search", query]


FLOOR_COMMAND = [sys.executable, "-c", "import sentence_transformers"]


def measure_cold(
    index_dir: Path,
    command: Sequence[str],
    floor: Sequence[str] = FLOOR_COMMAND,
    runs: int = COLD_RUNS,
) -> dict[str, Any]:
    """`command` (default: `rag search "<q>"`) in fresh processes over one size, taking
    turns with the floor (a bare import of sentence_transformers): medians of `runs`."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "RAG_INDEX_DIR": str(index_dir),
        "RAG_COLLECTION": COLLECTION,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    walls, peaks, floors = [], [], []
    for _ in range(runs):
        wall, peak, status, error = timed_process(command, env, index_dir)
        if status != 0:
            return {"cold_error": f"exit {status}: {error.splitlines()[-1] if error else ''}"}
        walls.append(wall)
        peaks.append(peak)
        floors.append(timed_process(floor, env, index_dir)[0])
    return {
        "cold_s": statistics.median(walls),
        "cold_peak_rss_mib": max(peaks),
        "floor_s": statistics.median(floors),
        "cold_runs": runs,
    }


# ------------------------------------------------------------------ report


def fmt(value: Any, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


COLUMNS = (
    "size",
    "chunks",
    "sentence vecs",
    "vectors",
    "build s",
    "disk MB",
    "cold `rag search` s",
    "floor s",
    "cold / floor",
    "cold peak RSS MB",
    "RSS after load MB",
    "index load s",
    "search p50/p95 ms",
    "ask p50/p95 ms",
)


def row_cells(row: dict[str, Any]) -> list[str]:
    cold, floor = row.get("cold_s"), row.get("floor_s")
    return [
        row["label"],
        f"{row['chunks']:,}",
        f"{row['sentences']:,}",
        row["vectors"],
        fmt(row.get("build_s")) + (" (cached)" if row.get("cached") else ""),
        fmt(row["disk_mib"]),
        row.get("cold_error") or fmt(cold, ".2f"),
        fmt(floor, ".2f"),
        fmt(cold / floor if cold and floor else None, ".2f"),
        fmt(row.get("cold_peak_rss_mib"), ".0f"),
        fmt(row["rss_after_load_mib"], ".0f"),
        fmt(row["index_load_s"], ".2f"),
        f"{row['search_p50_ms']:.1f} / {row['search_p95_ms']:.1f}",
        f"{row['ask_p50_ms']:.1f} / {row['ask_p95_ms']:.1f}",
    ]


def target_rows(rows: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The 1M targets beside the figures of the largest size measured."""
    largest = max(rows, key=lambda r: r["chunks"])
    at = largest["label"]
    out = []
    for name, (key, limit, unit) in TARGETS_1M.items():
        value = largest.get(key)
        verdict = "n/a" if value is None else ("met" if value < limit else "not met")
        if value is not None and largest["chunks"] < 1_000_000:
            verdict += f" (at {at}, not 1M)"
        out.append([name, f"< {limit:g} {unit}", f"{fmt(value, '.1f')} {unit} at {at}", verdict])
    return out


def markdown(rows: Sequence[dict[str, Any]], header: str) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [header, "", line(COLUMNS), line(["---"] * len(COLUMNS))]
    lines += [line(row_cells(r)) for r in rows]
    target_head = ("target at 1M chunks", "limit", "measured", "verdict")
    lines += ["", line(target_head), line(["---"] * 4), *map(line, target_rows(rows))]
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["chunks"] for r in rows]
    figure, (latency, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label, style in (
        ("search_p50_ms", "search p50", "o-"),
        ("search_p95_ms", "search p95", "o--"),
        ("ask_p50_ms", "ask p50", "s-"),
        ("ask_p95_ms", "ask p95", "s--"),
    ):
        latency.plot(sizes, [r[key] for r in rows], style, label=label)
    latency.axhline(50, color="tab:blue", linestyle=":", linewidth=1, label="1M target: search p50")
    latency.axhline(120, color="tab:green", linestyle=":", linewidth=1, label="1M target: ask p50")
    latency.set(xscale="log", xlabel="chunks", ylabel="ms (warm)", title="Query latency")
    memory.plot(sizes, [r["rss_after_load_mib"] for r in rows], "o-", label="RSS after load")
    cold = [(r["chunks"], r["cold_peak_rss_mib"]) for r in rows if "cold_peak_rss_mib" in r]
    if cold:
        memory.plot(*zip(*cold, strict=True), "s--", label="cold `rag search` peak RSS")
    memory.axhline(2048, color="tab:red", linestyle=":", linewidth=1, label="1M target: 2 GB")
    memory.set(xscale="log", xlabel="chunks", ylabel="MiB", title="Memory")
    for axes in (latency, memory):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ------------------------------------------------------------------ main


@dataclass(frozen=True)
class Plan:
    sizes: list[int]
    base_chunks: int = BASE_CHUNKS
    cache: Path = CACHE
    runs: Path = RUNS
    rebuild: bool = False
    passes: int = 2
    query_count: int = QUERY_COUNT
    cold_runs: int = COLD_RUNS
    model: str | None = None  # None: the Settings default
    factory: EmbedderFactory | None = None  # None: the real model (picklable: runs in a child)
    cold_command: Callable[[str], list[str]] = rag_search_command
    floor_command: tuple[str, ...] = tuple(FLOOR_COMMAND)


def run(plan: Plan, console: Console) -> Path:
    """Build (or reuse) each size, measure it in fresh processes, write the run folder."""
    started = dt.datetime.now()
    load_start = os.getloadavg()[0]
    plan.cache.mkdir(parents=True, exist_ok=True)
    model = plan.model or Settings.model_fields["embedding_model"].default
    factory = plan.factory or _ModelFactory(model)
    texts = queries(plan.query_count)
    rows: list[dict[str, Any]] = []
    for chunks in plan.sizes:
        folder = size_folder(plan.cache, chunks, plan.base_chunks)
        label = size_label(chunks)
        build = None if plan.rebuild else cached_build(folder)
        cached = build is not None
        if build is None:
            console.print(f"Building {label} ({chunks:,} chunks) into {folder}...")
            build = in_fresh_process(
                build_size, chunks, plan.base_chunks, plan.cache, factory, plan.model
            )
        else:
            console.print(f"Reusing {label} from {folder} (built {build['built']})")
        console.print(f"Measuring {label}: cold `rag search` x{plan.cold_runs}, warm queries...")
        row: dict[str, Any] = {**build, "label": label, "cached": cached}
        row["disk_mib"] = disk_mib(current_generation(folder / COLLECTION))
        if plan.cold_runs:
            row.update(
                measure_cold(
                    folder, plan.cold_command(texts[0]), plan.floor_command, plan.cold_runs
                )
            )
        row.update(
            in_fresh_process(measure_warm, folder, build["model"], plan.factory, texts, plan.passes)
        )
        rows.append(row)
    load_end = os.getloadavg()[0]
    folder = plan.runs / f"bench-scale-{started:%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    note = (
        f"{started:%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs, 1-minute load average {load_start:.1f} "
        f"at start, {load_end:.1f} at end. Vectors: 'real' = embedded by {model} (chunks) or "
        f"taken from the demo's ingest (sentences, words); noisy copies = real vectors + "
        f"N(0, {NOISE_SIGMA}^2) per dimension, renormalised, text with "
        f"{SWAP_PER_MILLE / 10:g}% of the vocabulary swapped for per-copy variants and digits "
        f"shifted. Cold: median of {plan.cold_runs} fresh `rag search` processes; floor: bare "
        f"`import sentence_transformers`, same run, taking turns. Warm: {plan.passes} passes over "
        f"{len(texts)} questions after a warm-up; ask = extractive, search included."
    )
    header = f"# `make bench-scale`\n\n{note}"
    (folder / "table.md").write_text(markdown(rows, header), encoding="utf-8")
    (folder / "figures.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    plot(rows, folder / "scale.png")
    table = Table(*COLUMNS, title="Scale (synthetic indexes through the store's own API)")
    for row in rows:
        table.add_row(*row_cells(row))
    table.caption = note
    console.print(table)
    targets = Table("target at 1M chunks", "limit", "measured", "verdict")
    for cells in target_rows(rows):
        targets.add_row(*cells)
    console.print(targets)
    console.print(f"Table, figures and plot written to {folder}")
    return folder


@dataclass(frozen=True)
class _ModelFactory:
    """The real model by name; a picklable factory for the fresh processes."""

    model: str

    def __call__(self) -> Embedder:
        return load_embedder(self.model)


def generate_only(plan: Plan, console: Console) -> None:
    """Check that the generator streams: synthesize each size, report time and peak RSS,
    write no index."""
    factory = plan.factory or _ModelFactory(
        plan.model or Settings.model_fields["embedding_model"].default
    )
    for chunks in plan.sizes:
        figures = in_fresh_process(
            build_size, chunks, plan.base_chunks, plan.cache, factory, plan.model, True
        )
        console.print(
            f"{size_label(chunks)}: {figures['chunks']:,} chunks, {figures['sentences']:,} "
            f"sentences, {figures['words']:,} words generated in {figures['generate_s']:.1f} s, "
            f"peak RSS {figures['generate_peak_rss_mib']:.0f} MiB (no index written)"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="e.g. 2k,10k,100k,1M")
    parser.add_argument("--rebuild", action="store_true", help="build anew, ignore the cache")
    parser.add_argument("--passes", type=int, default=2, help="timed passes over the questions")
    parser.add_argument("--cold-runs", type=int, default=COLD_RUNS, help="0: no cold start")
    parser.add_argument(
        "--generate-only", action="store_true", help="only synthesize (no index): time and RSS"
    )
    args = parser.parse_args(argv)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    plan = Plan(sizes, rebuild=args.rebuild, passes=args.passes, cold_runs=args.cold_runs)
    console = Console(width=None if sys.stdout.isatty() else 160)
    if args.generate_only:
        generate_only(plan, console)
    else:
        run(plan, console)


if __name__ == "__main__":
    main()

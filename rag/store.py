"""The on-disk index of one collection: documents, chunks, embeddings, a FAISS index and a
BM25 index, described by a manifest. No pickle anywhere: JSON lines, .npy without object
arrays, FAISS's own format and bm25s's JSON + .npy files.

Layout (`index/<collection>/`)::

    CURRENT                 name of the live generation (swapped atomically)
    gen-<stamp>/            one complete, immutable generation
        manifest.json       schema version, model, chunker, hashes and counts of all files
        documents.jsonl     metadata and cleaned text per document
        chunks.jsonl        chunk text, span and heading
        embeddings.npy      float32 (chunks x dimension), L2-normalised
        sentences.jsonl     [doc_id, start, end] of each indexed sentence
        sentence_embeddings.npy  float32 (sentences x dimension), for sentence-level search
        words.jsonl         the sentences' vocabulary (rag.wordmatch), one word per line
        word_embeddings.npy float32 (words x dimension), for soft word matching
        dense.faiss         FAISS index over the embeddings
        bm25/               bm25s index over the chunk terms

A new generation is written completely beside the live one and only then named in
CURRENT (write, fsync, rename), so a process killed at any point leaves the previous
generation loadable and correct.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from rag.chunking import indexed_text
from rag.embeddings import Vectors
from rag.errors import IndexCorruptError, IndexMismatchError, RagError
from rag.index_files import (
    CURRENT,
    MANIFEST,
    SCHEMA_VERSION,
    check_file,
    current_generation,
    document_from_row,
    read_jsonl,
    read_manifest,
    sha256,
)
from rag.lexical import terms
from rag.types import Chunk, Document

_DATA_FILES = (
    "documents.jsonl",
    "chunks.jsonl",
    "embeddings.npy",
    "dense.faiss",
    "sentences.jsonl",
    "sentence_embeddings.npy",
    "words.jsonl",
    "word_embeddings.npy",
)
_HNSW_M = 32
_HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class IndexConfig:
    """What an index was built with; loading compares it with the running configuration."""

    embedding_model: str
    dimension: int
    chunker: dict[str, int]
    hnsw_min_chunks: int


@dataclass
class LoadedIndex:
    """One generation in memory. Read-only by convention: ingest builds a new one."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    embeddings: Vectors
    dense: faiss.Index
    bm25: bm25s.BM25
    sentences: list[tuple[str, int, int]]  # (doc_id, start, end) in the document's text
    sentence_embeddings: Vectors
    words: list[str]  # the vocabulary of the sentences, for soft word matching
    word_embeddings: Vectors

    def sentence_texts(self) -> list[str]:
        return [self.documents[d].text[a:b] for d, a, b in self.sentences]

    def sentence_chunks(self) -> list[list[int]]:
        """For each sentence, the rows of the chunks that contain it (overlap: one or two)."""
        by_doc: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            by_doc.setdefault(chunk.doc_id, []).append(row)
        owners = []
        for doc_id, start, end in self.sentences:
            rows = by_doc.get(doc_id, [])
            owners.append(
                [r for r in rows if self.chunks[r].start <= start and end <= self.chunks[r].end]
            )
        return owners

    @property
    def embedding_model(self) -> str:
        return str(self.manifest["embedding"]["model"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["embedding"]["dimension"])

    @property
    def chunker(self) -> dict[str, int]:
        return dict(self.manifest["chunker"])

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return [c for c in self.chunks if c.doc_id == doc_id]

    def check_compatible(self, model: str, dimension: int) -> None:
        if self.embedding_model != model or self.dimension != dimension:
            raise IndexMismatchError(
                f"the index at {self.path.parent} was built with embedding model "
                f"{self.embedding_model!r} (dimension {self.dimension}) but the running "
                f"configuration uses {model!r} (dimension {dimension}); set "
                f"RAG_EMBEDDING_MODEL={self.embedding_model} or rebuild with "
                "`rag ingest --rebuild`"
            )


# ---------------------------------------------------------------- serialisation


def _document_row(document: Document) -> dict[str, Any]:
    return {**asdict(document.meta), "text": document.text, "headings": document.headings}


def _chunk_from_row(row: dict[str, Any]) -> Chunk:
    return Chunk(**{k: row[k] for k in Chunk.__dataclass_fields__})


def _write_jsonl(path: Path, rows: Sequence[object]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _fsync_tree(folder: Path) -> None:
    for path in [*_all_files(folder), folder / MANIFEST]:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- building


def build_dense_index(embeddings: Vectors, hnsw_min_chunks: int) -> faiss.Index:
    """Exact inner product for small collections; HNSW once exact search gets slow."""
    dimension = embeddings.shape[1]
    index: faiss.Index
    if len(embeddings) >= hnsw_min_chunks:
        index = faiss.IndexHNSWFlat(dimension, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = _HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(embeddings):
        index.add(embeddings)
    return index


def build_bm25(texts: Sequence[str]) -> bm25s.BM25:
    retriever = bm25s.BM25()
    corpus_terms = [terms(text) or [""] for text in texts]
    retriever.index(corpus_terms, show_progress=False)
    return retriever


def _write_rows(
    staging: Path, name: str, rows: Sequence[Any], vectors: Vectors | None, config: IndexConfig
) -> None:
    """`<name>s.jsonl` and `<name>_embeddings.npy`, one vector per row (none: empty)."""
    if vectors is None:
        vectors = np.zeros((0, config.dimension), dtype=np.float32)
    if len(rows) != len(vectors):
        raise RagError(f"internal: {len(rows)} {name}s, {len(vectors)} vectors")
    _write_jsonl(staging / f"{name}s.jsonl", rows)
    np.save(staging / f"{name}_embeddings.npy", vectors.astype(np.float32), allow_pickle=False)


def write_generation(
    collection_dir: Path,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    embeddings: Vectors,
    config: IndexConfig,
    sentences: Sequence[tuple[str, int, int]] = (),
    sentence_embeddings: Vectors | None = None,
    words: Sequence[str] = (),
    word_embeddings: Vectors | None = None,
    extra_manifest: dict[str, Any] | None = None,
) -> Path:
    """Write a complete new generation and make it current. Returns its folder."""
    if len(chunks) != len(embeddings):
        raise RagError(f"internal: {len(chunks)} chunks but {len(embeddings)} embeddings")
    collection_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    staging = collection_dir / f".tmp-{name}"
    staging.mkdir()
    try:
        _write_jsonl(staging / "documents.jsonl", [_document_row(d) for d in documents])
        _write_jsonl(staging / "chunks.jsonl", [asdict(c) for c in chunks])
        np.save(staging / "embeddings.npy", embeddings.astype(np.float32), allow_pickle=False)
        _write_rows(staging, "sentence", [list(s) for s in sentences], sentence_embeddings, config)
        _write_rows(staging, "word", list(words), word_embeddings, config)
        dense = build_dense_index(embeddings, config.hnsw_min_chunks)
        faiss.write_index(dense, str(staging / "dense.faiss"))
        if chunks:
            metas = {d.doc_id: d.meta for d in documents}
            texts = [indexed_text(c.text, metas[c.doc_id]) for c in chunks]
            build_bm25(texts).save(str(staging / "bm25"), allow_pickle=False)
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embedding": {"model": config.embedding_model, "dimension": config.dimension},
            "chunker": config.chunker,
            "dense_index": "hnsw" if isinstance(dense, faiss.IndexHNSWFlat) else "flat",
            "counts": {
                "documents": len(documents),
                "chunks": len(chunks),
                "sentences": len(sentences),
                "words": len(words),
            },
            "documents": {
                d.doc_id: {
                    "content_hash": d.meta.content_hash,
                    "source": d.meta.source,
                    "chunks": sum(1 for c in chunks if c.doc_id == d.doc_id),
                }
                for d in documents
            },
            **(extra_manifest or {}),
            "files": {
                str(p.relative_to(staging)): {"bytes": p.stat().st_size, "sha256": sha256(p)}
                for p in _all_files(staging)
            },
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _fsync_tree(staging)
        final = collection_dir / name
        staging.rename(final)
        _set_current(collection_dir, name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune_generations(collection_dir, keep={name})
    return final


def _set_current(collection_dir: Path, name: str) -> None:
    pointer = collection_dir / f".{CURRENT}.{secrets.token_hex(3)}"
    pointer.write_text(name + "\n", encoding="utf-8")
    with pointer.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer, collection_dir / CURRENT)
    _fsync_dir(collection_dir)


def _prune_generations(collection_dir: Path, keep: set[str]) -> None:
    """Drop generations other than the live one and its predecessor, and stale staging."""
    generations = sorted(p for p in collection_dir.glob("gen-*") if p.is_dir())
    survivors = {p.name for p in generations[-2:]} | keep
    for path in generations:
        if path.name not in survivors:
            shutil.rmtree(path, ignore_errors=True)
    for path in collection_dir.glob(".tmp-gen-*"):
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def writer_lock(collection_dir: Path) -> Iterator[None]:
    """One writer per collection; a second ingest fails fast instead of racing."""
    collection_dir.mkdir(parents=True, exist_ok=True)
    with (collection_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RagError(
                f"another `rag ingest` is writing {collection_dir}; wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- loading


def _verify_files(generation: Path, manifest: dict[str, Any]) -> None:
    expected: dict[str, dict[str, Any]] = manifest.get("files", {})
    for name in _DATA_FILES:
        if name not in expected:
            raise IndexCorruptError(f"{generation / MANIFEST} does not list {name}")
    for name in expected:
        check_file(generation, manifest, name)


def load_index(collection_dir: Path) -> LoadedIndex:
    """Load the live generation, checking every file against the manifest and each other."""
    generation = current_generation(collection_dir)
    manifest = read_manifest(generation)
    _verify_files(generation, manifest)
    documents = {
        d.doc_id: d for d in map(document_from_row, read_jsonl(generation / "documents.jsonl"))
    }
    chunks = [_chunk_from_row(r) for r in read_jsonl(generation / "chunks.jsonl")]
    embeddings = np.load(generation / "embeddings.npy", allow_pickle=False)
    dense = faiss.read_index(str(generation / "dense.faiss"))
    if isinstance(dense, faiss.IndexHNSWFlat):
        dense.hnsw.efSearch = _HNSW_EF_SEARCH
    bm25 = bm25s.BM25.load(str(generation / "bm25"), allow_pickle=False) if chunks else bm25s.BM25()
    sentences = [(str(d), int(a), int(b)) for d, a, b in read_jsonl(generation / "sentences.jsonl")]
    sentence_embeddings = np.load(generation / "sentence_embeddings.npy", allow_pickle=False)
    words = read_jsonl(generation / "words.jsonl")
    word_embeddings = np.load(generation / "word_embeddings.npy", allow_pickle=False)
    counts = manifest["counts"]
    problems = []
    if not all(isinstance(w, str) for w in words):
        problems.append("words.jsonl holds a line that is not a JSON string")
    if word_embeddings.shape != (len(words), manifest["embedding"]["dimension"]):
        problems.append(
            f"word embeddings shape {word_embeddings.shape} does not fit {len(words)} words"
        )
    if sentence_embeddings.shape != (len(sentences), manifest["embedding"]["dimension"]):
        problems.append(
            f"sentence embeddings shape {sentence_embeddings.shape} does not fit "
            f"{len(sentences)} sentences"
        )
    if len(documents) != counts["documents"]:
        problems.append(f"{len(documents)} documents, manifest says {counts['documents']}")
    if len(chunks) != counts["chunks"]:
        problems.append(f"{len(chunks)} chunks, manifest says {counts['chunks']}")
    if embeddings.shape != (len(chunks), manifest["embedding"]["dimension"]):
        problems.append(f"embeddings shape {embeddings.shape} does not fit {len(chunks)} chunks")
    if dense.ntotal != len(chunks):
        problems.append(f"FAISS holds {dense.ntotal} vectors for {len(chunks)} chunks")
    for chunk in chunks:
        document = documents.get(chunk.doc_id)
        if document is None or document.text[chunk.start : chunk.end] != chunk.text:
            problems.append(f"chunk {chunk.chunk_id} does not match its document's text")
            break
    if problems:
        raise IndexCorruptError(
            f"the index at {generation} is inconsistent: {'; '.join(problems)}; "
            "rebuild with `rag ingest --rebuild`"
        )
    return LoadedIndex(
        generation,
        manifest,
        documents,
        chunks,
        embeddings,
        dense,
        bm25,
        sentences,
        sentence_embeddings,
        words,
        word_embeddings,
    )

"""The columnar, memory-mapped generation: what is read back equals what was written,
an index of another schema is refused, large generations are checked by size and shape
(and fully by `rag verify`), and opening one maps its vectors rather than reading them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder
from typer.testing import CliRunner

import rag.store as store
from rag.cli import app
from rag.errors import IndexCorruptError, IndexMismatchError
from rag.store import IndexConfig, current_generation, load_index, write_generation
from rag.types import Chunk, Document, DocumentMeta
from rag.vector_index import VectorIndex

ROOT = Path(__file__).resolve().parent.parent
TEXT_A = "Georgia applied in 2022. Tbilisi got candidate status. Then it stalled."
TEXT_B = "Armenia froze its CSTO membership in 2024. Yerevan blamed the alliance."


def _text(doc_id: str) -> str:
    return TEXT_A if doc_id == "georgia" else TEXT_B


def _spans(text: str) -> list[tuple[int, int]]:
    starts = [0] + [i + 2 for i, c in enumerate(text) if c == "." and i + 2 < len(text)]
    return [(a, text.index(".", a) + 1) for a in starts]


def _collection(
    tmp_path: Path,
) -> tuple[Path, list[Document], list[Chunk], list[tuple[str, int, int]]]:
    """Two documents, chunks of two overlapping sentences, one heading; written once."""
    fake = HashEmbedder()
    documents = [
        Document(DocumentMeta(d, f"/c/{d}.txt", d * 8, title=d.title(), author=a), t, h)
        for d, t, a, h in (
            ("georgia", TEXT_A, "Ann", ((0, "Intro"),)),
            ("armenia", TEXT_B, None, ()),
        )
    ]
    chunks: list[Chunk] = []
    sentences: list[tuple[str, int, int]] = []
    for document in documents:
        spans = _spans(document.text)
        sentences += [(document.doc_id, a, b) for a, b in spans]
        for i in range(max(len(spans) - 1, 1)):
            start, end = spans[i][0], spans[min(i + 1, len(spans) - 1)][1]
            chunks.append(
                Chunk(
                    f"{document.doc_id}#{i}",
                    document.doc_id,
                    i,
                    document.text[start:end],
                    start,
                    end,
                    "Intro" if document.headings else None,
                )
            )
    words = ["alliance", "georgia", "tbilisi", "yerevan"]
    collection = tmp_path / "collection"
    write_generation(
        collection,
        documents,
        chunks,
        fake.embed([c.text for c in chunks]),
        IndexConfig(fake.name, fake.dimension, {"chunk_tokens": 10}),
        sentences=sentences,
        sentence_embeddings=fake.embed([_text(d)[a:b] for d, a, b in sentences]),
        words=words,
        word_embeddings=fake.embed(words),
    )
    return collection, documents, chunks, sentences


def test_a_loaded_index_returns_what_was_written(tmp_path: Path) -> None:
    collection, documents, chunks, sentences = _collection(tmp_path)
    index = load_index(collection)
    assert list(index.chunks) == chunks
    assert index.chunks[-1] == chunks[-1] and index.chunks[1:3] == chunks[1:3]
    assert dict(index.documents) == {d.doc_id: d for d in documents}
    assert list(index.sentences) == sentences
    assert "georgia" in index.documents and "nowhere" not in index.documents
    assert index.metas["georgia"].author == "Ann"
    assert index.chunks_of("armenia") == [c for c in chunks if c.doc_id == "armenia"]
    assert index.chunk_row("armenia#0") == chunks.index(chunks[-1])
    assert index.document_text("armenia") == TEXT_B and index.document_text("x") is None
    assert isinstance(index.chunk_index, VectorIndex) and len(index.sentence_index) == len(
        sentences
    )
    # Each sentence's owners are the chunks whose span holds it (the old walk's answer).
    expected = [
        [r for r, c in enumerate(chunks) if c.doc_id == d and c.start <= a and b <= c.end]
        for d, a, b in sentences
    ]
    assert index.sentence_chunks() == expected
    assert index.sentence_texts() == [_text(d)[a:b] for d, a, b in sentences]
    # The IDF and common words computed at ingest equal what the answerer derived itself.
    from rag.chunking import indexed_text
    from rag.extractive import idf_table
    from rag.lexical import terms
    from rag.slots import lowercase_words

    metas = {d.doc_id: d.meta for d in documents}
    assert dict(index.idf) == idf_table(
        [terms(indexed_text(c.text, metas[c.doc_id])) for c in chunks]
    )
    assert index.lowercase_words == lowercase_words(d.text for d in documents)
    scores, rows = index.chunk_index.search(np.asarray(index.embeddings[2:3]), 1)
    assert rows[0, 0] == 2 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    # The source names and each sentence's words, stored at ingest, equal what the
    # metadata and the postings give.
    from rag.sources import SourceNames

    for question in ("What does Ann say?", "Per Ann's paper?", "what does ann say?", "Who?"):
        assert index.source_names.named(question) == SourceNames.of(metas).named(question)
    assert index.source_names.named("What does Ann say?") == {"georgia"}
    word_offsets, word_sentences = index.csr("word_sentences")
    offsets, held = index.csr("sentence_words")
    assert sorted(
        (int(w), int(s)) for s in range(len(sentences)) for w in held[offsets[s] : offsets[s + 1]]
    ) == sorted(
        (w, int(s))
        for w in range(len(index.words))
        for s in word_sentences[word_offsets[w] : word_offsets[w + 1]]
    )


def test_a_document_line_out_of_place_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Metadata is read one line at a time, by offset: offsets that do not fit the file,
    or a line that is not the document its row names, make an inconsistent index, never
    another document's metadata."""
    collection, *_ = _collection(tmp_path)
    generation = current_generation(collection)
    offsets = np.load(generation / "documents_offsets.npy")
    manifest = json.loads((generation / "manifest.json").read_text())

    def save_offsets(values: list[int]) -> None:
        np.save(generation / "documents_offsets.npy", np.array(values, dtype=np.int64))
        facts = manifest["files"]["documents_offsets.npy"]
        facts["sha256"] = store.sha256(generation / "documents_offsets.npy")
        (generation / "manifest.json").write_text(json.dumps(manifest))

    save_offsets([0, int(offsets[1]), int(offsets[1])])
    with pytest.raises(IndexCorruptError, match=r"documents\.jsonl holds \d+ bytes"):
        load_index(collection)
    save_offsets([int(offsets[1]), int(offsets[2]), int(offsets[2])])  # row 0 reads row 1
    index = load_index(collection)
    with pytest.raises(IndexCorruptError, match=r"documents\.jsonl row 0 is 'armenia'"):
        index.metas["georgia"]


def test_an_index_of_the_previous_schema_is_refused_with_the_command_to_rebuild(
    tmp_path: Path,
) -> None:
    collection, *_ = _collection(tmp_path)
    manifest_path = current_generation(collection) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["schema_version"] = store.SCHEMA_VERSION - 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(
        IndexMismatchError,
        match=rf"schema version {store.SCHEMA_VERSION - 1}.*rag ingest --rebuild",
    ):
        load_index(collection)


def test_a_large_generation_is_checked_by_size_and_rag_verify_by_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection, *_ = _collection(tmp_path)
    monkeypatch.setattr(store, "FULL_VERIFY_MAX_BYTES", 0)  # every generation is "large"
    monkeypatch.setattr(store, "SMALL_FILE_BYTES", 0)  # and no file small enough to hash
    path = current_generation(collection) / "embeddings.npy"
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of one vector flipped
    load_index(collection)  # not hashed on load: the price of opening in O(1)
    verify = ["--index", str(collection.parent), "--collection", collection.name, "verify"]
    result = CliRunner().invoke(app, verify)
    assert isinstance(result.exception, IndexCorruptError)  # `main` prints it as one line
    assert "embeddings.npy does not match its checksum" in str(result.exception)
    assert "rag ingest --rebuild" in str(result.exception)
    path.write_bytes(data[:-8])  # truncated: the size check catches it on load
    with pytest.raises(IndexCorruptError, match=r"embeddings\.npy has \d+ bytes"):
        load_index(collection)
    path.write_bytes(data)
    result = CliRunner().invoke(app, verify)
    assert result.exit_code == 0 and result.output.startswith("ok: gen-")


def test_an_array_that_does_not_fit_its_counts_is_refused(tmp_path: Path) -> None:
    collection, *_ = _collection(tmp_path)
    generation = current_generation(collection)
    manifest = json.loads((generation / "manifest.json").read_text())
    np.save(generation / "sentences.npy", np.zeros((1, 3), dtype=np.int64))
    facts = manifest["files"]["sentences.npy"]
    facts["bytes"] = (generation / "sentences.npy").stat().st_size
    facts["sha256"] = store.sha256(generation / "sentences.npy")
    (generation / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match=r"sentences\.npy has shape \(1, 3\)"):
        load_index(collection)


def test_opening_a_large_index_maps_its_vectors_instead_of_reading_them() -> None:
    """A fresh interpreter opens a synthetic 10,000-chunk index (random unit vectors, built
    by eval/load_scale.py through write_generation) and searches it once."""
    done = subprocess.run(
        [sys.executable, "eval/load_scale.py", "--chunks", "10000", "--dimension", "512", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(result)
    assert result["chunks"] == 10000 and result["passages"] > 0
    assert result["memmapped"]
    # Opening reads neither vector array: RSS grows by far less than their 39 MB.
    assert result["rss_after_load_mb"] - result["rss_imports_mb"] < result["embeddings_mb"] / 2

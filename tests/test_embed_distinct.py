"""Ingest embeds each distinct text once, longest first, in slices that report progress,
and the vectors are those the per-document path gave (issue 13, goal 1)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from conftest import CORPUS
from fakes import HashEmbedder

from rag.assistant import Assistant
from rag.chunking import indexed_text
from rag.embeddings import Embedder, Vectors, batch_size_for
from rag.indexing import embed_distinct, searchable_sentences
from rag.settings import Settings


class Recording(HashEmbedder):
    """A HashEmbedder that keeps every batch it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        return super().embed(texts)


def test_each_distinct_text_once_longest_first_with_progress() -> None:
    model = Recording()
    texts = ["a b", "long " * 120, "a b", "mid length", "x", "a longer text"] * 3
    seen: list[tuple[str, int, int]] = []
    table = embed_distinct(texts, model, 1, lambda *step: seen.append(step))
    asked = [t for call in model.calls for t in call]
    assert sorted(asked) == sorted(set(texts))  # each distinct text once
    assert [len(t) for t in asked] == sorted((len(t) for t in asked), reverse=True)
    assert seen[0] == ("embedding texts", 0, 5) and seen[-1] == ("embedding texts", 5, 5)
    assert len(model.calls) == 2  # 4 batches of 1 (for a 600-character text), then the rest
    assert len(seen) == len(model.calls) + 1  # a step after every slice
    assert np.allclose(table.vectors_of(texts), HashEmbedder().embed(texts))


def test_slices_follow_the_batch_size_for_the_text_length() -> None:
    model = Recording()
    words = [f"w{i}" for i in range(5000)]
    embed_distinct(words, model, 32, lambda *_: None)
    assert len(model.calls[0]) == 4 * batch_size_for(5, 32)  # 4 batches of 512 short texts
    passages = [f"passage {i} " + "word " * 200 for i in range(300)]
    model.calls.clear()
    embed_distinct(passages, model, 32, lambda *_: None)
    assert len(model.calls[0]) == 4 * 32


def test_ingest_embeds_a_repeated_sentence_once(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shared = "The same sentence is quoted word for word in both documents."
    (corpus / "a.txt").write_text(f"First document opens here today.\n\n{shared}\n")
    (corpus / "b.txt").write_text(f"Second document opens elsewhere now.\n\n{shared}\n")
    model = Recording()
    settings = Settings(index_dir=tmp_path / "index", embedding_model=model.name, _env_file=None)  # type: ignore[call-arg]
    Assistant(settings, embedder_factory=lambda: model).ingest([corpus])
    asked = [t for call in model.calls for t in call]
    assert asked.count(shared) == 1
    assert len(asked) == len(set(asked))


def test_vectors_equal_the_per_document_path(tmp_path: Path, embedder: Embedder) -> None:
    """Batching across documents by length changes padding only: same vectors."""
    settings = Settings(index_dir=tmp_path, collection="one", _env_file=None)  # type: ignore[call-arg]
    assistant = Assistant(settings, embedder_factory=lambda: embedder)
    assistant.ingest([CORPUS / "000_0c4da8ee7c2bcb9d.txt"])
    index = assistant.index
    (document,) = index.documents.values()
    old_chunks = embedder.embed([indexed_text(c.text, document.meta) for c in index.chunks])
    old_sentences = embedder.embed([document.text[a:b] for a, b in searchable_sentences(document)])
    assert len(index.chunks) > 1 and len(old_sentences) > 10
    chunk_cosines = np.sum(index.embeddings * old_chunks, axis=1)
    sentence_cosines = np.sum(index.sentence_embeddings * old_sentences, axis=1)
    assert chunk_cosines.min() > 1 - 1e-5
    assert sentence_cosines.min() > 1 - 1e-5

"""Ingest in bounded steps (issue 13, goal 1): documents are chunked and embedded a step
of `ingest_batch_texts` texts at a time, their vectors spooled to a scratch file and read
back into the new generation; the index is the one a single step gives, each distinct
text is still embedded once, and no scratch file outlives the ingest."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS
from fakes import HashEmbedder

from rag.assistant import Assistant
from rag.embeddings import Vectors
from rag.errors import RagError
from rag.settings import Settings
from rag.store import load_index
from rag.vector_spool import Spooled, SpooledVectors, VectorSpool


class Recording(HashEmbedder):
    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.fail_after = fail_after

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("the model fell over")
        self.calls.append(list(texts))
        return super().embed(texts)


def settings_for(root: Path, **overrides: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        index_dir=root,
        collection="c",
        embedding_model=HashEmbedder.name,
        embedding_batch_size=8,
        _env_file=None,
        **overrides,
    )


def test_the_spool_gives_back_what_it_was_given(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    first, second = (rng.standard_normal((n, 4)).astype(np.float32) for n in (5, 3))
    with closing(VectorSpool(tmp_path, 4)) as spool:
        assert (spool.append(first), spool.append(second)) == (0, 5)
        both = np.concatenate([first, second])
        rows = np.array([6, 7, 0, 1, 2, 2, 5], dtype=np.int64)  # runs, a repeat, a jump
        out = np.empty((len(rows), 4), dtype=np.float32)
        spool.gather(rows, out)
        assert np.array_equal(out, both[rows])
        with pytest.raises(RagError, match="outside"):
            spool.gather(np.array([8]), np.empty((1, 4), dtype=np.float32))
        folder = spool.folder
        assert folder.parent == tmp_path and folder.exists()
    assert not folder.exists()


def test_spooled_vectors_read_as_the_array_they_stand_for(tmp_path: Path) -> None:
    """Commit hands the store spooled parts and arrays at hand as one array, read by
    slices (a block of rows), sorted or unsorted rows (a training sample) or whole; the
    .npy written from it a block at a time is np.save's."""
    import rag.store as store

    rng = np.random.default_rng(1)
    kept = rng.standard_normal((4, 3)).astype(np.float32)  # an unchanged document's
    with closing(VectorSpool(tmp_path, 3)) as spool:
        spooled = rng.standard_normal((9, 3)).astype(np.float32)
        spool.append(spooled)
        parts = [
            Spooled(spool, np.array([4, 5, 6], dtype=np.int64)),
            kept,
            Spooled(spool, np.array([0, 1, 8, 2], dtype=np.int64)),
        ]
        whole = np.concatenate([spooled[[4, 5, 6]], kept, spooled[[0, 1, 8, 2]]])
        vectors = SpooledVectors(parts, 3)
        assert len(vectors) == 11 and vectors.shape == (11, 3)
        assert np.array_equal(np.asarray(vectors), whole)
        for key in (slice(2, 9), slice(0, 11), slice(10, 20), slice(5, 5)):
            assert np.array_equal(vectors[key], whole[key])
        for rows in ([0, 3, 4, 10], [9, 1, 1, 6]):
            picked = np.array(rows, dtype=np.int64)
            assert np.array_equal(vectors[picked], whole[picked])
        written, saved = tmp_path / "written.npy", tmp_path / "saved.npy"
        store._save_rows(written, vectors)
        np.save(saved, whole)
        assert written.read_bytes() == saved.read_bytes()


def test_steps_give_the_index_one_step_gives(tmp_path: Path) -> None:
    whole, stepped = Recording(), Recording()
    one = Assistant(settings_for(tmp_path / "one"), embedder_factory=lambda: whole)
    many = Assistant(
        settings_for(tmp_path / "many", ingest_batch_texts=40), embedder_factory=lambda: stepped
    )
    seen: list[tuple[str, int, int]] = []
    assert one.ingest([CORPUS]).ok
    assert many.ingest([CORPUS], progress=lambda *step: seen.append(step)).ok
    a, b = load_index(tmp_path / "one" / "c"), load_index(tmp_path / "many" / "c")
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    assert np.array_equal(a.embeddings, b.embeddings)
    assert np.array_equal(a.sentence_embeddings, b.sentence_embeddings)
    # Each distinct text once across steps, and no embed call beyond a step's texts.
    passages = [t for call in stepped.calls for t in call if t not in set(b.words)]
    assert len(passages) == len(set(passages))
    assert sorted(passages) == sorted(
        t for call in whole.calls for t in call if t not in set(a.words)
    )
    # A step is whole documents: 40 texts, or one document when it has more.
    largest = max(
        len(b.chunks_of(d)) + sum(1 for s in b.sentences if s[0] == d) for d in b.documents
    )
    texts_calls = [call for call in stepped.calls if not set(call) <= set(b.words)]
    assert max(len(c) for c in texts_calls) <= max(40, largest) < len(passages)
    # One progress line for the run, moving forward to its total.
    embedding = [(done, total) for stage, done, total in seen if stage == "embedding texts"]
    total = len(b.chunks) + len(b.sentences)
    assert embedding[-1] == (total, total) and {t for _, t in embedding} == {total}
    assert [d for d, _ in embedding] == sorted(d for d, _ in embedding)
    assert not list((tmp_path / "many" / "c").glob(".tmp-*"))


def test_a_failing_step_keeps_the_live_index_and_leaves_no_spool(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ingest_batch_texts=40)
    good = Recording()
    assert Assistant(settings, embedder_factory=lambda: good).ingest([CORPUS]).ok
    before = load_index(settings.collection_dir)
    stale = settings.collection_dir / ".tmp-spool-dead"  # from an ingest that was killed
    stale.mkdir()
    failing = Recording(fail_after=3)
    with pytest.raises(RuntimeError, match="fell over"):
        Assistant(settings, embedder_factory=lambda: failing).ingest([CORPUS], rebuild=True)
    assert not list(settings.collection_dir.glob(".tmp-*"))
    after = load_index(settings.collection_dir)
    assert after.path == before.path and np.array_equal(after.embeddings, before.embeddings)

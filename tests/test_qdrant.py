"""Qdrant as a vector store: local-mode folders, settings reaching the index, and server mode.

Server mode runs twice: against a real server when RAG_QDRANT_URL is set (marked
`qdrant_server`, skipped otherwise), and always against qdrant_client's in-memory engine
standing in for the server behind the same client API."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from fakes import unit_vectors
from qdrant_client import QdrantClient

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, RagError
from rag.integrations.qdrant import QdrantConfig, QdrantIndex
from rag.settings import Settings
from rag.vector_index import (
    REGISTRY,
    create_index,
    drop_saved_index,
    load_vector_index,
)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_flat_entry_is_still_a_plain_pair_and_qdrant_a_function_of_settings() -> None:
    assert isinstance(REGISTRY["flat"], tuple)
    assert callable(REGISTRY["qdrant"])


def test_a_local_folder_reopens_with_the_same_answers_and_unchanged_files(
    tmp_path: Path,
) -> None:
    vectors = unit_vectors(3000, seed=1)  # more than one upsert and one scroll batch
    index = create_index("qdrant", 16)
    index.add(np.arange(10, 3010, dtype=np.int64), vectors)
    before = index.search(vectors[:40], 5)
    path = tmp_path / "gen-1" / "chunks.qdrant"
    path.parent.mkdir()
    index.save(path)
    files = _digests(path)

    again = load_vector_index("qdrant", path)
    also = load_vector_index("qdrant", path)  # the first load released the folder
    for reopened in (again, also):
        assert len(reopened) == 3000
        scores, ids = reopened.search(vectors[:40], 5)
        np.testing.assert_array_equal(ids, before[1])
        np.testing.assert_allclose(scores, before[0], atol=1e-6)
    assert ids[:, 0].tolist() == list(range(10, 50))
    assert scores.dtype == np.float32 and ids.dtype == np.int64
    # the store hashes the folder into its manifest: loading must not touch a byte
    assert _digests(path) == files

    # changing the loaded copy and saving elsewhere leaves the first folder as it was
    again.add(np.array([5000], dtype=np.int64), unit_vectors(1, seed=9))
    again.save(tmp_path / "gen-2.qdrant")
    assert len(load_vector_index("qdrant", path)) == 3000
    assert len(load_vector_index("qdrant", tmp_path / "gen-2.qdrant")) == 3001

    # a local folder holds its own data: pruning it needs nothing beyond deleting it
    drop_saved_index("qdrant", path)
    drop_saved_index("flat", path)
    assert _digests(path) == files


def test_a_mismatched_dimension_is_refused_naming_both(tmp_path: Path) -> None:
    index = create_index("qdrant", 16)
    with pytest.raises(IndexMismatchError, match=r"16-dimensional.*\(3, 8\).*--rebuild"):
        index.add(np.arange(3, dtype=np.int64), unit_vectors(3, dimension=8))
    index.add(np.arange(3, dtype=np.int64), unit_vectors(3))
    with pytest.raises(IndexMismatchError, match=r"16-dimensional.*search got shape \(1, 8\)"):
        index.search(unit_vectors(1, dimension=8), 2)
    assert len(index) == 3  # nothing stored was lost


def test_negative_ids_are_refused_and_absent_ones_not_counted() -> None:
    index = create_index("qdrant", 16)
    with pytest.raises(RagError, match="non-negative"):
        index.add(np.array([-1], dtype=np.int64), unit_vectors(1))
    index.add(np.arange(4, dtype=np.int64), unit_vectors(4))
    assert index.remove(np.array([-1, 2, 2, 77], dtype=np.int64)) == 1
    assert len(index) == 3


def test_a_folder_open_in_another_client_gives_a_clear_error(tmp_path: Path) -> None:
    index = create_index("qdrant", 16)
    index.add(np.arange(2, dtype=np.int64), unit_vectors(2))
    index.save(tmp_path / "v.qdrant")
    holder = QdrantClient(path=str(tmp_path / "v.qdrant"))
    try:
        with pytest.raises(RagError, match=r"v\.qdrant stayed open.*RAG_QDRANT_URL"):
            QdrantIndex.load(tmp_path / "v.qdrant", QdrantConfig(lock_wait_s=0.3))
    finally:
        holder.close()
    assert len(QdrantIndex.load(tmp_path / "v.qdrant", QdrantConfig())) == 2


def test_a_server_pointer_needs_the_url_and_a_bad_one_is_named(tmp_path: Path) -> None:
    pointer = tmp_path / "chunks.qdrant"
    pointer.write_text(json.dumps({"collection": "rag-x", "dimension": 16}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"chunks\.qdrant names .*'rag-x'.*RAG_QDRANT_URL"):
        load_vector_index("qdrant", pointer)
    pointer.write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"chunks\.qdrant: not a saved Qdrant index"):
        load_vector_index("qdrant", pointer, Settings(qdrant_url="http://127.0.0.1:1"))
    with pytest.raises(IndexCorruptError, match="no saved Qdrant index"):
        load_vector_index("qdrant", tmp_path / "missing.qdrant")


def test_the_api_key_is_not_in_the_config_repr() -> None:
    settings = Settings(qdrant_url="http://q:6333", qdrant_api_key="s3cret-key")
    config = QdrantConfig.from_settings(settings)
    assert "s3cret" not in repr(config) and "s3cret" not in str(settings)
    assert config.remote and config.url == "http://q:6333"


def exercise_server_mode(settings: Settings, tmp_path: Path) -> None:
    """Build, save, reload, change and drop generations the way the store does."""
    vectors = unit_vectors(1500, seed=3)
    index = create_index("qdrant", 16, settings=settings)
    assert isinstance(index, QdrantIndex)
    first = index.collection
    assert first.startswith(settings.qdrant_collection_prefix + "-")
    index.add(np.arange(1500, dtype=np.int64), vectors)
    old = tmp_path / "gen-1" / "chunks.qdrant"
    old.parent.mkdir()
    index.save(old)
    pointer = json.loads(old.read_text(encoding="utf-8"))
    assert pointer["collection"] == first and pointer["points"] == 1500
    assert "key" not in old.read_text(encoding="utf-8")

    live = load_vector_index("qdrant", old, settings)
    _, ids = live.search(vectors[:3], 1)
    assert ids[:, 0].tolist() == [0, 1, 2]

    # the next generation starts from the live one; the live collection must not change
    assert live.remove(np.array([0, 1], dtype=np.int64)) == 2
    assert isinstance(live, QdrantIndex) and live.collection != first
    new = tmp_path / "gen-2" / "chunks.qdrant"
    new.parent.mkdir()
    live.save(new)
    assert len(load_vector_index("qdrant", old, settings)) == 1500
    assert len(load_vector_index("qdrant", new, settings)) == 1498

    # pruning the old generation drops its collection only
    drop_saved_index("qdrant", old, settings)
    with pytest.raises(IndexCorruptError, match="does not hold"):
        load_vector_index("qdrant", old, settings)
    assert len(load_vector_index("qdrant", new, settings)) == 1498
    drop_saved_index("qdrant", new, settings)


def test_server_mode_against_the_in_memory_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = QdrantClient(location=":memory:")
    monkeypatch.setattr(server, "close", lambda **_: None)  # one shared "server"
    monkeypatch.setattr(QdrantConfig, "connect", lambda self: server)
    settings = Settings(qdrant_url="http://stand-in:6333", qdrant_collection_prefix="t13")
    exercise_server_mode(settings, tmp_path)
    assert server.get_collections().collections == []


@pytest.mark.qdrant_server
@pytest.mark.skipif(not os.environ.get("RAG_QDRANT_URL"), reason="RAG_QDRANT_URL not set")
def test_server_mode_against_a_real_server(tmp_path: Path) -> None:
    exercise_server_mode(Settings(), tmp_path)

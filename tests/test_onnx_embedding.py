"""The ONNX backend (issue 13, goal 1): the packaged MiniLM exported once with torch's
exporter, run by ONNX Runtime, gives the torch backend's vectors (fp32) or vectors close
to them (int8); the setting picks the class; the export is cached and written atomically."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder
from helpers import ROOT, small_library

from rag import onnx_embedding
from rag.assistant import Assistant
from rag.embeddings import Embedder, SentenceTransformerEmbedder, embedder_for, load_embedder
from rag.errors import ConfigError
from rag.onnx_embedding import OnnxEmbedder, export_folder
from rag.retrieval import warn_on_backend_mismatch
from rag.settings import Settings

TEXTS = [
    "The Treaty of Westphalia ended the Thirty Years' War in 1648.",
    "photosynthesis",
    "A much longer passage " * 80,  # past max_seq_length: truncated the same way
    "Ein deutscher Satz mit Umlauten: Grüße aus Köln.",
    "",
    "Rivers carry sediment to the sea; deltas form where it settles.",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_fp32(cache_dir: Path) -> OnnxEmbedder:
    settings = Settings(embedding_backend="onnx", model_cache_dir=cache_dir, _env_file=None)  # type: ignore[call-arg]
    model = embedder_for(settings)
    assert isinstance(model, OnnxEmbedder)
    return model


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


def test_fp32_vectors_are_the_torch_vectors(onnx_fp32: OnnxEmbedder, embedder: Embedder) -> None:
    assert isinstance(embedder, SentenceTransformerEmbedder)  # load_embedder's default
    ours, theirs = onnx_fp32.embed(TEXTS), embedder.embed(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), embedder.dimension)
    assert cosines(ours, theirs).min() >= 0.9999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (onnx_fp32.dimension, onnx_fp32.max_tokens) == (embedder.dimension, embedder.max_tokens)
    assert [onnx_fp32.count_tokens(t) for t in TEXTS] == [embedder.count_tokens(t) for t in TEXTS]
    # Order and batching do not change a text's vector.
    again = onnx_fp32.embed(TEXTS[::-1])[::-1]
    assert np.allclose(again, ours, atol=1e-5)
    assert onnx_fp32.embed([]).shape == (0, embedder.dimension)


def test_int8_vectors_stay_close(cache_dir: Path, embedder: Embedder) -> None:
    model = load_embedder("all-MiniLM-L6-v2", backend="onnx-int8", cache_dir=cache_dir)
    assert isinstance(model, OnnxEmbedder) and model.onnx_path.name == "model-int8.onnx"
    texts = [t for t in TEXTS if t]
    assert cosines(model.embed(texts), embedder.embed(texts)).mean() >= 0.98


def test_the_export_is_cached(
    onnx_fp32: OnnxEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = onnx_fp32.onnx_path
    assert exported.parent.parent == cache_dir and exported.name == "model.onnx"
    stamp = exported.stat().st_mtime_ns

    def no_export(*_: object) -> None:
        raise AssertionError("exported a second time")

    monkeypatch.setattr(onnx_embedding, "_export_fp32", no_export)
    second = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir)
    assert second.onnx_path == exported and exported.stat().st_mtime_ns == stamp
    assert np.allclose(second.embed(TEXTS[:1]), onnx_fp32.embed(TEXTS[:1]))


def test_a_failed_export_leaves_nothing_to_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(_: Path, target: Path) -> None:
        target.write_bytes(b"not a whole model")
        raise OSError("disk full")

    monkeypatch.setattr(onnx_embedding, "_export_fp32", half_written)
    with pytest.raises(OSError, match="disk full"):
        OnnxEmbedder("all-MiniLM-L6-v2", tmp_path)
    folder = next(tmp_path.iterdir())
    assert list(folder.iterdir()) == []  # no model.onnx, no temporary file


def test_an_unknown_backend_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"RAG_EMBEDDING_BACKEND='tpu'.*torch, onnx, onnx-int8"):
        load_embedder("all-MiniLM-L6-v2", backend="tpu", cache_dir=tmp_path)


def test_the_cache_folder_is_named_by_model_and_contents(tmp_path: Path) -> None:
    model = tmp_path / "my model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    first = export_folder(model, tmp_path / "cache")
    assert first.name.startswith(f"{tmp_path.name}-my-model-")
    (model / "config.json").write_text('{"changed": true}')
    assert export_folder(model, tmp_path / "cache") != first


def test_the_manifest_records_backends_and_a_mismatch_only_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    library = small_library(tmp_path, documents=1, embedding_backend="onnx")
    assert library.index.manifest["embedding_backends"] == ["onnx"]
    # An incremental ingest under another backend mixes vectors, and says so.
    int8 = library.settings.model_copy(update={"embedding_backend": "onnx-int8"})
    fake = HashEmbedder()
    source = sorted((ROOT / "corpus").glob("*.txt"))[1]
    (library.settings.corpus_dir / source.name).write_bytes(source.read_bytes())
    mixed = Assistant(int8, embedder_factory=lambda: fake)
    assert mixed.ingest([library.settings.corpus_dir]).ok
    assert mixed.index.manifest["embedding_backends"] == ["onnx", "onnx-int8"]
    with caplog.at_level(logging.WARNING, logger="rag.retrieval"):
        assert mixed.search("treaty")  # served, with a warning
    assert "backend onnx+onnx-int8 but queries use onnx-int8" in caplog.text
    # A rebuild holds one backend again: no warning.
    assert mixed.ingest([library.settings.corpus_dir], rebuild=True).ok
    assert mixed.index.manifest["embedding_backends"] == ["onnx-int8"]
    assert not warn_on_backend_mismatch(mixed.index.manifest, "onnx-int8")
    assert warn_on_backend_mismatch({}, "onnx-int8")  # an index from before: torch's
    assert not warn_on_backend_mismatch({}, "onnx")  # fp32 both: the same vectors
    assert Settings(_env_file=None).embedding_backend == "onnx"  # type: ignore[call-arg]

"""`rag ingest --engine ray` (issue 13, goal 4): the texts are embedded by Ray Data actors on
a local Ray instance that the engine starts (2 CPUs, no dashboard) and shuts down; the
index is the local engine's, its vectors within 1e-5. Slow (Ray and two model copies
start), but offline and part of `make test`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CORPUS
from typer.testing import CliRunner

import rag.assistant
from rag.assistant import Assistant
from rag.cli import app
from rag.embeddings import Embedder
from rag.ray_engine import RayEmbedding
from rag.settings import Settings
from rag.store import current_generation, load_index

pytestmark = pytest.mark.slow


def tiny_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    corpus.mkdir()
    source = sorted(CORPUS.glob("*.txt"))[0].read_text(encoding="utf-8")
    (corpus / "one.txt").write_text(source[:3000], encoding="utf-8")
    (corpus / "two.txt").write_text(source[3000:5000], encoding="utf-8")
    return corpus


def test_ray_engine_gives_the_local_index(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    corpus = tiny_corpus(tmp_path)
    local = Settings(index_dir=tmp_path / "local", collection="c", _env_file=None)  # type: ignore[call-arg]
    assert Assistant(local, embedder_factory=lambda: embedder).ingest([corpus]).ok

    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer .env
    # The driver counts tokens with the session's model; the Ray actors load their own.
    monkeypatch.setattr(rag.assistant, "load_embedder", lambda *args, **kwargs: embedder)
    calls: list[int] = []
    through_ray = RayEmbedding.embed

    def spy(self: RayEmbedding, texts: list[str], *args: Any) -> Any:
        calls.append(len(texts))
        return through_ray(self, texts, *args)

    monkeypatch.setattr(RayEmbedding, "embed", spy)
    env = {"RAG_RAY_NUM_CPUS": "2", "RAG_RAY_WORKERS": "2", "RAG_RAY_CPUS_PER_WORKER": "0.5"}
    env["RAG_EMBEDDING_BACKEND"] = "torch"  # the local index's backend: like with like
    argv = ["--index", str(tmp_path / "ray"), "--collection", "c", "ingest", str(corpus)]
    result = CliRunner().invoke(app, [*argv, "--engine", "ray"], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    assert calls and sum(calls) >= 3  # the texts went through Ray
    assert not ray.is_initialized()  # the engine shut down the instance it started

    ours, theirs = load_index(tmp_path / "ray" / "c"), load_index(tmp_path / "local" / "c")
    assert len(ours.chunks) >= 3 and [c.chunk_id for c in ours.chunks] == [
        c.chunk_id for c in theirs.chunks
    ]
    assert np.allclose(ours.embeddings, theirs.embeddings, atol=1e-5)
    assert np.allclose(ours.sentence_embeddings, theirs.sentence_embeddings, atol=1e-5)
    assert ours.words == theirs.words
    for name in ("chunks.npy", "sentences.npy", "words.jsonl", "texts.bin"):
        ray_file = current_generation(tmp_path / "ray" / "c") / name
        local_file = current_generation(tmp_path / "local" / "c") / name
        assert ray_file.read_bytes() == local_file.read_bytes(), name

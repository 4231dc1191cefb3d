"""eval/bench_scale.py (`make bench-scale`) at a tiny size: the synthetic index is written
through the store's API, loads and answers; the table and the plot are written. The hash
embedder stands in for the model (the figures are not the point here, the machinery is)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder
from rich.console import Console

from rag.assistant import Assistant
from rag.lexical import terms
from rag.store import load_index

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
import bench_scale


def rag_docs(_query: str) -> list[str]:
    """A fast stand-in for `rag search` in the cold-start probe: the hash embedder cannot be
    named to a fresh `rag` process, `rag docs` needs no model."""
    return [sys.executable, "-c", bench_scale.RAG_COMMAND, "docs"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("bench-scale")
    plan = bench_scale.Plan(
        sizes=[150, 300],
        base_chunks=150,  # 300 = the base set and one perturbed, noisy copy
        cache=tmp / "cache",
        runs=tmp / "runs",
        passes=1,
        query_count=6,
        cold_runs=1,
        model=HashEmbedder.name,
        factory=HashEmbedder,
        cold_command=rag_docs,
        floor_command=(sys.executable, "-c", "pass"),
    )
    return bench_scale.run(plan, Console(width=200)), tmp / "cache"


def test_writes_table_and_plot(run_folder: tuple[Path, Path]) -> None:
    folder, _ = run_folder
    table = (folder / "table.md").read_text(encoding="utf-8")
    rows = [
        line
        for line in table.splitlines()
        if line.startswith("| 150 ") or line.startswith("| 300 ")
    ]
    assert len(rows) == 2, table
    assert "real (model)" in rows[0] and "1 real + 1 noisy copies" in rows[1]
    assert "search p50" in table and "< 50 ms" in table and "(at 300, not 1M)" in table
    assert (folder / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "scale.png").stat().st_size > 10_000


def test_index_loads_and_answers(run_folder: tuple[Path, Path]) -> None:
    _, cache = run_folder
    index_dir = bench_scale.size_folder(cache, 300, 150)
    index = load_index(index_dir / bench_scale.COLLECTION)
    assert len(index.chunks) == 300
    assert len(index.sentences) > len(index.chunks)
    norms = np.linalg.norm(index.embeddings, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)
    # The copy's text and vocabulary differ from the base set's; its vectors are noisy.
    first, copy = index.chunks[0], next(c for c in index.chunks if c.doc_id == "syn001-00000")
    assert first.text != copy.text
    copy_terms = {t for c in index.chunks if c.doc_id.startswith("syn001") for t in terms(c.text)}
    base_terms = {t for c in index.chunks if c.doc_id.startswith("syn000") for t in terms(c.text)}
    assert copy_terms - base_terms
    assert any(w.endswith(bench_scale.suffix(1)) for w in index.words)
    cosine = float(index.embeddings[0] @ index.embeddings[150])
    assert 0.5 < cosine < 0.9999
    settings = bench_scale.index_settings(index_dir, HashEmbedder.name)
    passages = Assistant(settings, embedder_factory=HashEmbedder).search(first.text[:80])
    assert passages and passages[0].chunk.doc_id.startswith("syn")


def test_rerun_reuses_the_cached_index(run_folder: tuple[Path, Path]) -> None:
    _, cache = run_folder
    folder = bench_scale.size_folder(cache, 300, 150)
    assert bench_scale.cached_build(folder) is not None
    (folder / "build.json").unlink()
    assert bench_scale.cached_build(folder) is None  # rebuilt on the next run


def test_pack_overlaps_whole_sentences_within_budget() -> None:
    # 50+50+30 fit, 100 would not; the 30 is repeated (within the overlap), the 50 is not.
    assert bench_scale.pack([50, 50, 30, 100, 20], budget=160, overlap=40) == [(0, 3), (2, 5)]
    assert bench_scale.pack([50, 50, 50, 100], budget=160, overlap=40) == [(0, 3), (3, 4)]
    assert bench_scale.pack([200, 10], budget=160, overlap=40) == [(0, 1), (1, 2)]


def test_parse_size() -> None:
    assert [bench_scale.parse_size(s) for s in ("2k", "10k", "1M", "300")] == [
        2_000,
        10_000,
        1_000_000,
        300,
    ]

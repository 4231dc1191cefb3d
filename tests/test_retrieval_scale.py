"""The candidate path of retrieval (large collections): it must find what scoring every
chunk finds, and keep to the filters. The index is the demo corpus through the real store
with the hash embedder; the vector indexes are the approximate kinds a large collection
gets, attached as the store attaches them (`chunk_index`, `sentence_index`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder

from rag.indexing import ingest
from rag.retrieval import Filters, Retriever
from rag.settings import Settings
from rag.store import LoadedIndex, load_index
from rag.vector_index import create_index

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
][:30]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedIndex, Settings]:
    root = tmp_path_factory.mktemp("scale")
    settings = Settings(  # type: ignore[call-arg]
        index_dir=root / "index",
        collection="scale",
        embedding_model=HashEmbedder.name,
        _env_file=None,
    )
    fake = HashEmbedder()
    ingest([ROOT / "corpus"], settings, lambda: fake)
    return load_index(settings.collection_dir), settings


def _with_vector_indexes(index: LoadedIndex, kind: str) -> LoadedIndex:
    """A copy of the loaded index with approximate chunk and sentence indexes attached."""
    index = copy.copy(index)
    for name, vectors in (
        ("chunk_index", index.embeddings),
        ("sentence_index", index.sentence_embeddings),
    ):
        vector_index = create_index(kind, vectors.shape[1], capacity=len(vectors))
        vector_index.add(np.arange(len(vectors), dtype=np.int64), vectors)
        rescore = getattr(vector_index, "rescore_with", None)
        if rescore:
            rescore(vectors)
        setattr(index, name, vector_index)
    return index


def _candidates(index: LoadedIndex, fake: HashEmbedder, settings: Settings, kind: str) -> Retriever:
    """A retriever on the candidate path, over approximate indexes of `kind`."""
    return Retriever(
        _with_vector_indexes(index, kind),
        fake,
        settings.model_copy(update={"exhaustive_max_chunks": 0}),
    )


def _rows(passages: list) -> list[str]:  # type: ignore[type-arg]
    return [p.chunk.chunk_id for p in passages]


@pytest.mark.parametrize("kind", ["hnsw", "ivf_pq"])
def test_candidate_path_finds_what_scoring_every_chunk_finds(
    built: tuple[LoadedIndex, Settings], kind: str
) -> None:
    index, settings = built
    assert len(index.chunks) > 100
    fake = HashEmbedder()
    exhaustive = Retriever(index, fake, settings)
    assert exhaustive.exhaustive
    candidates = Retriever(
        _with_vector_indexes(index, kind),
        fake,
        settings.model_copy(update={"exhaustive_max_chunks": 0}),
    )
    assert not candidates.exhaustive
    overlap, first = [], 0
    for question in QUESTIONS:
        want = _rows(exhaustive.search(question))
        got = _rows(candidates.search(question))
        overlap.append(len(set(want) & set(got)) / len(want))
        first += want[0] == got[0]
    assert np.mean(overlap) >= 0.8, overlap
    assert first >= 0.8 * len(QUESTIONS)


def test_filters_hold_on_the_candidate_path(built: tuple[LoadedIndex, Settings]) -> None:
    index, settings = built
    fake = HashEmbedder()
    doc_id = sorted(index.documents)[1]
    only = Filters(doc_ids=(doc_id,))
    exhaustive = Retriever(index, fake, settings)
    candidates = _candidates(index, fake, settings, "hnsw")
    overlap = []
    for question in QUESTIONS[:10]:
        got = candidates.search(question, filters=only)
        assert got and {p.chunk.doc_id for p in got} == {doc_id}
        want = _rows(exhaustive.search(question, filters=only))
        overlap.append(len(set(want) & set(_rows(got))) / len(want))
    assert np.mean(overlap) >= 0.8, overlap


def test_a_filter_leaving_few_rows_scores_them_exactly(
    built: tuple[LoadedIndex, Settings],
) -> None:
    """Scored row by row, the allowed rows rank exactly as on the exhaustive path."""
    index, settings = built
    fake = HashEmbedder()
    doc_id = sorted(index.documents)[2]
    held = sum(1 for c in index.chunks if c.doc_id == doc_id)
    assert held < len(index.chunks) - 1
    exhaustive = Retriever(index, fake, settings)
    few = Retriever(index, fake, settings.model_copy(update={"exhaustive_max_chunks": held}))
    assert not few.exhaustive
    for question in QUESTIONS[:10]:
        want = exhaustive.search(question, filters=Filters(doc_ids=(doc_id,)))
        got = few.search(question, filters=Filters(doc_ids=(doc_id,)))
        assert _rows(got) == _rows(want)
        assert [p.score for p in got] == pytest.approx([p.score for p in want], abs=1e-4)


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_other_fusions_on_the_candidate_path(
    built: tuple[LoadedIndex, Settings], fusion: str
) -> None:
    index, settings = built
    fake = HashEmbedder()
    settings = settings.model_copy(update={"fusion": fusion})
    exhaustive = Retriever(index, fake, settings)
    candidates = _candidates(index, fake, settings, "ivf_sq8")
    overlap = []
    for question in QUESTIONS[:10]:
        want = _rows(exhaustive.search(question))
        overlap.append(len(set(want) & set(_rows(candidates.search(question)))) / len(want))
    assert np.mean(overlap) >= 0.7, overlap


def test_a_source_named_across_many_chunks_does_not_fill_the_pool(
    built: tuple[LoadedIndex, Settings],
) -> None:
    """A named source with more chunks than the candidate limit proposes its best ones
    (as the exhaustive path keeps its sentence top), not all of them: an author of
    thousands of documents would otherwise put them all in the pool."""
    index, settings = built
    fake = HashEmbedder()
    settings = settings.model_copy(update={"candidates": 4, "top_k": 1})  # limit: 4
    question = (
        "Since when has the current head of Armenia's government been in office, "
        "per the E-IR commentary?"
    )
    candidates = _candidates(index, fake, settings, "hnsw")
    named = candidates.named_sources(question)
    mask = index.chunk_mask(named)
    assert len(named) == 1 and mask.sum() > 4
    vector = candidates.embed_query(question)
    proposed = candidates._named_candidates(vector, 4, mask)
    assert 0 < len(proposed) <= 4 and mask[proposed].all()
    few = np.zeros_like(mask)
    few[np.flatnonzero(mask)[:3]] = True
    assert sorted(candidates._named_candidates(vector, 4, few)) == list(np.flatnonzero(few))
    got = candidates.search(question)
    want = Retriever(index, fake, settings).search(question)
    assert {p.chunk.doc_id for p in got} == {p.chunk.doc_id for p in want} == set(named)


def test_lexical_scores_equal_bm25s_scores(built: tuple[LoadedIndex, Settings]) -> None:
    """Read from the precomputed columns, a query's BM25 scores are bm25s's own, a
    repeated term counting twice."""
    from rag.lexical import terms

    index, settings = built
    retriever = Retriever(index, HashEmbedder(), settings)
    vocabulary = index.bm25.vocab_dict
    for question in [*QUESTIONS[:10], "Armenia Armenia CSTO", "zzzz unknown words"]:
        known = [t for t in terms(question) if t in vocabulary]
        want = (
            sum(index.bm25.get_scores([t]) for t in known) if known else np.zeros(len(index.chunks))
        )
        assert np.allclose(retriever.lexical_scores(question), want, atol=1e-5), question

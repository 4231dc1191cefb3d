"""The assistant's embedder remembers recent single texts: one ask embeds its question
for retrieval and for scoring the answer's sentences, and the model runs once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder

from rag.assistant import Assistant
from rag.embeddings import QueryMemo
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        index_dir=tmp_path / "index",
        collection="memo",
        embedding_model=HashEmbedder.name,
        _env_file=None,
    )


def test_single_texts_are_embedded_once_and_batches_pass_through() -> None:
    fake = HashEmbedder()
    memo = QueryMemo(fake, size=2)
    first = memo.embed(["Who leads Armenia?"])
    first[0, 0] = 99.0  # a caller's change does not reach the remembered vector
    again = memo.embed(["Who leads Armenia?"])
    assert fake.texts == 1
    assert np.array_equal(again, fake.embed(["Who leads Armenia?"]))
    fake.texts = 0
    memo.embed(["a", "b"])
    memo.embed(["a", "b"])
    assert fake.texts == 4  # batches (ingest) are not remembered
    memo.embed(["one"]), memo.embed(["two"]), memo.embed(["three"])
    memo.embed(["Who leads Armenia?"])  # pushed out by the newer two
    assert fake.texts == 4 + 4
    assert (memo.name, memo.dimension, memo.max_tokens) == (
        fake.name,
        fake.dimension,
        fake.max_tokens,
    )


def test_an_extractive_ask_embeds_its_question_once(tmp_path: Path) -> None:
    fake = HashEmbedder()
    settings = _settings(tmp_path)
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([ROOT / "corpus"])
    question = "What did the CSTO fail to do in 2022?"
    asked: list[str] = []
    embed = fake.embed
    fake.embed = lambda texts: asked.extend(texts) or embed(texts)  # type: ignore[method-assign]
    answer = assistant.ask(question, backend="extractive")
    assert answer.passages
    assert asked.count(question) == 1


def test_opening_an_index_for_questions_caps_blas_threads(tmp_path: Path) -> None:
    """BLAS threads left spinning between a question's small products slowed the demo's
    search from 9 to 15 ms on 2 cores: opening an index caps them (a setting)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {int(p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas"}

    before = max(blas_threads() or {1})
    fake = HashEmbedder()
    settings = _settings(tmp_path)
    try:
        threadpool_limits(limits=2, user_api="blas")
        two = blas_threads()
        if two != {2}:
            pytest.skip(f"BLAS runs {two} thread(s) here: nothing to cap")
        Assistant(settings, embedder_factory=lambda: fake).ingest([ROOT / "corpus"])
        assert blas_threads() == two  # ingest alone leaves them
        assistant = Assistant(settings, embedder_factory=lambda: fake)
        assistant.search("Who leads Armenia?")
        assert blas_threads() == {1}
        threadpool_limits(limits=2, user_api="blas")
        unset = settings.model_copy(update={"query_blas_threads": 0})
        Assistant(unset, embedder_factory=lambda: fake).search("Who leads Armenia?")
        assert blas_threads() == two
    finally:
        threadpool_limits(limits=before, user_api="blas")

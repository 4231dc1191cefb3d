"""Rerankers: an optional second look at the retrieved passages, for users who have a
cross-encoder (`RAG_RERANKER=<sentence-transformers CrossEncoder name or folder>`).

Off by default: no package ships a cross-encoder's weights, and models are never downloaded
(a name is looked up in the local Hugging Face cache only). The extension point is the
`Reranker` protocol, one method; `RERANKERS` maps a kind to its implementation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rag.errors import ConfigError
from rag.types import Passage

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


class Reranker(Protocol):
    name: str

    def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]:
        """The passages best first, scored by the reranker, ranks renumbered from 1."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder, loaded on first use from local files only."""

    def __init__(self, model: str, *, batch_size: int = 16) -> None:
        self.name = model
        self._batch_size = batch_size
        self._model: CrossEncoder | None = None

    def _load(self) -> CrossEncoder:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            folder = Path(self.name).expanduser()
            try:
                self._model = CrossEncoder(
                    str(folder) if folder.is_dir() else self.name,
                    device="cpu",
                    local_files_only=True,
                )
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"RAG_RERANKER={self.name!r}: cannot load it as a cross-encoder from local "
                    f"files ({exc.__class__.__name__}); point it at a folder holding a "
                    "sentence-transformers CrossEncoder, or unset it"
                ) from exc
        return self._model

    def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]:
        if not passages:
            return []
        scores = self._load().predict(
            [(query, p.chunk.text) for p in passages],
            batch_size=self._batch_size,
            show_progress_bar=False,
        )
        order = sorted(range(len(passages)), key=lambda i: (-float(scores[i]), i))
        return [
            dataclasses.replace(passages[i], score=float(scores[i]), rank=rank)
            for rank, i in enumerate(order, 1)
        ]


RERANKERS: dict[str, Callable[[str], Reranker]] = {"cross-encoder": CrossEncoderReranker}


def load_reranker(model: str | None, kind: str = "cross-encoder") -> Reranker | None:
    """The configured reranker (not yet loaded: that happens on first use), or None."""
    if not model:
        return None
    try:
        factory = RERANKERS[kind]
    except KeyError:
        raise ConfigError(
            f"RAG_RERANKER_KIND={kind!r} is not a reranker kind; known: {', '.join(RERANKERS)}"
        ) from None
    return factory(model)

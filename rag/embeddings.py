"""Text embeddings. The `Embedder` protocol is the extension point; `BACKENDS` names what
runs the model (sentence-transformers, or ONNX Runtime in rag.onnx_embedding); none ever
touches a model hub."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

from rag.encoding import Vectors as Vectors
from rag.encoding import batch_size_for as batch_size_for
from rag.encoding import resolve_model_path as resolve_model_path
from rag.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from rag.settings import Settings


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, so inner product is cosine."""

    name: str
    dimension: int
    max_tokens: int  # inputs longer than this are truncated by the model

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def count_tokens(self, text: str) -> int: ...


class SentenceTransformerEmbedder:
    """The real embedder: a sentence-transformers model loaded from local files only."""

    def __init__(self, model: str, *, batch_size: int = 32) -> None:
        path = resolve_model_path(model)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # No "Loading weights" progress bar or warnings on stderr: the CLI owns stderr.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]

        # A local folder and local_files_only: the model, tokenizer and config are read from
        # disk, with no hub look-up, whatever HF_HUB_OFFLINE says (tests/test_offline.py).
        self._model: SentenceTransformer = SentenceTransformer(
            str(path), device="cpu", local_files_only=True
        )
        self.name = model
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ConfigError(f"model {model!r} does not report an embedding dimension")
        self.dimension = int(dimension)
        max_tokens = self._model.max_seq_length
        if max_tokens is None:
            raise ConfigError(f"model {model!r} does not report its input length limit")
        self.max_tokens = int(max_tokens)
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size_for(max(len(t) for t in texts), self._batch_size),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Word pieces including [CLS]/[SEP], as the model will see them."""
        ids = self._model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
        return len(ids)


def _onnx(precision: Literal["fp32", "int8"]) -> Callable[[str, int, Path], Embedder]:
    def load(model: str, batch_size: int, cache_dir: Path) -> Embedder:
        from rag.onnx_embedding import OnnxEmbedder  # onnxruntime only when asked for

        return OnnxEmbedder(model, cache_dir, precision=precision, batch_size=batch_size)

    return load


# RAG_EMBEDDING_BACKEND -> loader(model, batch_size, cache_dir for exported models).
BACKENDS: dict[str, Callable[[str, int, Path], Embedder]] = {
    "torch": lambda model, batch_size, _: SentenceTransformerEmbedder(model, batch_size=batch_size),
    "onnx": _onnx("fp32"),
    "onnx-int8": _onnx("int8"),
}


def load_embedder(
    model: str,
    batch_size: int = 32,
    *,
    backend: str = "torch",
    cache_dir: Path = Path("index/.models"),
) -> Embedder:
    loader = BACKENDS.get(backend)
    if loader is None:
        raise ConfigError(
            f"RAG_EMBEDDING_BACKEND={backend!r} is not known; choose one of {', '.join(BACKENDS)}"
        )
    return loader(model, batch_size, cache_dir)


def embedder_for(settings: Settings) -> Embedder:
    """The embedder the settings ask for (model, batch size, backend, export cache)."""
    return load_embedder(
        settings.embedding_model,
        settings.embedding_batch_size,
        backend=settings.embedding_backend,
        cache_dir=settings.models_dir,
    )


class CachedEmbedder:
    """An embedder that remembers vectors by text. A settings sweep embeds the same sentences
    and questions for every configuration; the model is deterministic, so only time is saved."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self._cache: dict[str, Vectors] = {}

    def embed(self, texts: Sequence[str]) -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.inner.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class QueryMemo:
    """An embedder that remembers the vectors of its last few single texts. One question
    is embedded for retrieval and again for scoring the answer's sentences (and the compare
    view asks once per author): the model is deterministic, so only time is saved. Batches
    (ingest) pass straight through; the app's request threads share it, hence the lock."""

    def __init__(self, inner: Embedder, size: int = 256) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self._size = size
        self._recent: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) != 1:
            return self.inner.embed(texts)
        text = texts[0]
        with self._lock:
            known = self._recent.get(text)
            if known is not None:
                self._recent.move_to_end(text)
                return known.copy()
        row = self.inner.embed([text])  # shape (1, dimension)
        with self._lock:
            self._recent[text] = row
            while len(self._recent) > self._size:
                self._recent.popitem(last=False)
        return row.copy()

    def forget(self) -> None:
        """Drop what it remembers (a benchmark times each question as if new)."""
        with self._lock:
            self._recent.clear()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

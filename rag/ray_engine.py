"""Embedding across Ray workers (`rag ingest --engine ray`): each ingest step's texts go
through a Ray Data pipeline whose actors load the embedder once each (map_batches with an
actor class), so a Ray cluster's machines share a large corpus. Everything else in the
ingest (reading, chunking, the written generation) is the local path's. Ray is imported
here only, and this module only when the engine is asked for."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from rag.embeddings import Embedder, Vectors, embedder_for
from rag.errors import ConfigError
from rag.settings import Settings

log = logging.getLogger(__name__)

_RAY_BATCH = 256  # texts per Ray batch: each actor embeds them with the embedder's batching


class EmbedActor:
    """One Ray worker's embedder, loaded once when the actor starts."""

    def __init__(self, settings: Settings) -> None:
        self.embedder: Embedder = embedder_for(settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


class RayEmbedding:
    """Embeds lists of texts on Ray; a context manager that starts a local Ray instance
    (RAG_RAY_ADDRESS unset) or joins a cluster, and shuts down only what it started."""

    def __init__(self, settings: Settings) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: never phone home
        try:
            import ray
            import ray.data
        except ImportError as error:
            raise ConfigError(
                "`--engine ray` needs Ray Data: install the `ray` extra (pip install 'rag[ray]')"
            ) from error
        self._ray = ray
        self._settings = settings
        self._started = False
        if not ray.is_initialized():
            package_root = str(Path(__file__).resolve().parent.parent)
            ray.init(
                address=settings.ray_address,
                num_cpus=settings.ray_num_cpus if settings.ray_address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                # Local workers import this checkout's `rag`; a cluster's have it installed.
                runtime_env=(
                    {"env_vars": {"PYTHONPATH": package_root}}
                    if settings.ray_address is None
                    else None
                ),
            )
            self._started = True
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ingest reports its own progress
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)

    def embed(
        self, texts: list[str], dimension: int, progress: Any = None, stage: str = ""
    ) -> Vectors:
        """Vectors of `texts`, in their order (Ray returns batches in any order: each row
        carries its position). Longest first, so Ray batches hold texts of like length."""
        out = np.zeros((len(texts), dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        items = [{"row": i, "text": texts[i]} for i in order]
        s = self._settings
        dataset = self._ray.data.from_items(items).map_batches(
            EmbedActor,
            fn_constructor_args=(s,),
            batch_size=_RAY_BATCH,
            batch_format="numpy",
            compute=self._ray.data.ActorPoolStrategy(size=s.ray_workers),
            num_cpus=s.ray_cpus_per_worker,
        )
        done = 0
        for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
            out[batch["row"]] = np.asarray(batch["vector"], dtype=np.float32)
            done += len(batch["row"])
            if progress is not None:
                progress(stage, done, len(texts))
        if done != len(texts):
            raise RuntimeError(f"Ray returned {done} vectors for {len(texts)} texts")
        return out

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

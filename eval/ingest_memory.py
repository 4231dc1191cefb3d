"""Peak RSS of ingest against corpus size (issue 13, goal 1): prints, asserts nothing.

Each ingest runs in a fresh process (ru_maxrss is per process), into a fresh index, over
the demo corpus and over perturbed copies of it (eval/ingest_speed.py's generator). It
reports texts embedded, the vectors the index holds (MiB: the index itself), peak RSS and
peak RSS less the vectors, which should stay flat as the corpus grows.

`--embedder model` uses the configured embedding model (real, slow on a busy machine);
`--embedder hash` a stand-in that returns seeded random unit vectors of the model's
dimension and counts tokens with the model's own tokenizer, so everything but the model
runs for real and large corpora take minutes, not hours (the model's own memory does not
depend on corpus size: batches are bounded).

    PYTHONPATH=. .venv/bin/python eval/ingest_memory.py --copies 0 10 20 [--embedder model]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


class RandomEmbedder:
    """Seeded random unit vectors of MiniLM's shape; the model's tokenizer counts tokens."""

    def __init__(self, model_path: Path, dimension: int = 384, max_tokens: int = 256) -> None:
        from tokenizers import Tokenizer

        self.name = "random-384"
        self.dimension = dimension
        self.max_tokens = max_tokens
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
            out[row] = np.random.default_rng(seed).standard_normal(self.dimension)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)


def child(corpus: Path, index_dir: Path, embedder_kind: str) -> None:
    """One ingest in this process; prints a JSON line."""
    from rag.assistant import Assistant
    from rag.embeddings import embedder_for, resolve_model_path
    from rag.settings import Settings
    from rag.store import current_generation

    settings = Settings(index_dir=index_dir, collection="mem")
    if embedder_kind == "hash":
        model = RandomEmbedder(resolve_model_path(settings.embedding_model))
        settings = settings.model_copy(update={"embedding_model": model.name})
    else:
        model = embedder_for(settings)  # type: ignore[assignment]
    assistant = Assistant(settings, embedder_factory=lambda: model)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    report = assistant.ingest([corpus], rebuild=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before any reload
    generation = current_generation(settings.collection_dir)
    counts = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))["counts"]
    vectors = sum(p.stat().st_size for p in generation.glob("*.npy")) / 2**20
    index = sum(p.stat().st_size for p in generation.rglob("*") if p.is_file()) / 2**20
    texts = counts["chunks"] + counts["sentences"]
    print(
        json.dumps(
            {
                "documents": report.documents,
                "chunks": report.chunks,
                "texts": texts,
                "seconds": seconds,
                "vectors_mib": vectors,
                "index_mib": index,
                "before_ingest_mib": baseline,
                "peak_mib": peak,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[0, 10, 20])
    parser.add_argument("--embedder", choices=["hash", "model"], default="hash")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=3, metavar=("CORPUS", "INDEX", "EMBEDDER"))
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.child[2])
        return
    from eval.ingest_speed import CORPUS, synthetic_corpus

    print(f"embedder: {args.embedder}")
    print(
        f"{'copies':>6} {'docs':>5} {'chunks':>7} {'texts':>7} {'s':>7} {'vectors':>8} "
        f"{'index':>7} {'start':>6} {'peak':>7} {'peak-vec':>8}  (MiB)"
    )
    with tempfile.TemporaryDirectory(prefix="rag-mem-") as tmp:
        for copies in args.copies:
            corpus = CORPUS
            if copies:
                corpus = Path(tmp) / f"corpus-{copies}"
                corpus.mkdir()
                synthetic_corpus(corpus, copies, args.seed)
            command = [sys.executable, __file__, "--child", str(corpus), f"{tmp}/i{copies}"]
            done = subprocess.run(
                [*command, args.embedder], capture_output=True, text=True, check=False, cwd=ROOT
            )
            if done.returncode:
                sys.exit(f"the ingest of {corpus} failed:\n{done.stderr}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{copies:>6} {r['documents']:>5} {r['chunks']:>7} {r['texts']:>7} "
                f"{r['seconds']:>7.1f} {r['vectors_mib']:>8.1f} {r['index_mib']:>7.1f} "
                f"{r['before_ingest_mib']:>6.0f} {r['peak_mib']:>7.0f} "
                f"{r['peak_mib'] - r['vectors_mib']:>8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

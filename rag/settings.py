"""One documented Settings object, read from `RAG_*` environment variables (or a `.env`
file) and passed explicitly to whatever needs it. Nothing reads the environment elsewhere."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def packaged_prompts_dir() -> Path:
    """The prompt templates shipped inside the package: found the same way from a checkout,
    an editable install or an installed wheel."""
    return Path(str(resources.files("prompts")))


class Settings(BaseSettings):
    """Every knob of the system, with the value we measured as best as its default."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", extra="ignore", frozen=True
    )

    # Where things live
    index_dir: Path = Field(
        default=Path("index"), description="Folder holding one sub-folder per collection."
    )
    collection: str = Field(default="default", description="Name of the collection to use.")
    corpus_dir: Path = Field(
        default=Path("corpus"), description="Default input folder for `rag ingest`."
    )
    log_file: Path | None = Field(
        default=None,
        description="Log of the CLI and the app (what libraries said about files, reloads, "
        "LLM retries); default `<index_dir>/rag.log`. Warnings also go to the terminal, "
        "except libraries' notes on a file being read.",
    )
    catalog_name: str = Field(
        default="catalog.toml",
        description="File name of the metadata catalog read beside ingested files.",
    )
    max_file_bytes: int = Field(
        default=20_000_000, description="Larger input files are refused, not ingested."
    )
    ingest_file_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest one file may take to read, clean and describe (in a worker "
        "process); a file that takes longer is refused and the ingest goes on. A 10 MB line "
        "of punctuation takes 25-80 s on a busy 2-core machine (eval/hostile_bench.py).",
    )
    ingest_file_memory_mb: int = Field(
        default=2048,
        ge=0,
        description="Address space the worker reading one file may use (MB; 0: no limit); a "
        "file that needs more is refused and the ingest goes on.",
    )
    follow_external_links: bool = Field(
        default=False,
        description="Ingest files that symbolic links inside an ingested folder point to "
        "outside it. Off: such links are refused, so a link cannot pull in /etc/passwd.",
    )

    # The app (`rag serve`)
    upload_quota_bytes: int = Field(
        default=100_000_000,
        ge=0,
        description="Bytes of uploads the app holds at once in its temporary folder (those "
        "not added yet); an upload beyond it is refused until they are added or swept.",
    )
    upload_max_age_s: int = Field(
        default=3600,
        ge=1,
        description="Uploads never added are deleted from the temporary folder after this "
        "many seconds (added ones at once).",
    )
    max_sessions: int = Field(
        default=200,
        ge=1,
        description="Browser sessions the app keeps in memory (chat, last run); beyond it "
        "the least recently used is dropped. Each holds about 0.15 MB of Gradio's own.",
    )
    session_ttl_s: int = Field(
        default=3600,
        ge=1,
        description="A session's chat and last run are dropped after this many seconds "
        "without a question.",
    )
    chat_turns_kept: int = Field(
        default=50, ge=1, description="Turns of a chat the app keeps and shows."
    )
    context_turns_kept: int = Field(
        default=8,
        ge=1,
        description="Turns of a conversation kept as context for follow-up questions (the "
        "rewriters read the last four).",
    )

    reload_check_s: float = Field(
        default=1.0,
        ge=0,
        description="How often (at most) a running app or assistant checks whether an ingest "
        "elsewhere committed a newer index generation, which it then loads and swaps in.",
    )

    # Embedding
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="sentence-transformers model name; loaded offline from its PyPI package "
        "or a local folder path.",
    )
    embedding_batch_size: int = Field(default=32, description="Texts embedded per batch.")
    ingest_batch_texts: int = Field(
        default=8192,
        ge=1,
        description="Texts (chunks and sentences) an ingest chunks and embeds per step; their "
        "vectors then go to a scratch file until the new generation is written, so ingest "
        "memory does not grow with the corpus beyond the index itself.",
    )
    ingest_engine: Literal["local", "ray"] = Field(
        default="local",
        description="What embeds an ingest's texts: `local` (this process) or `ray` (Ray Data "
        "actors, each loading the embedder once; `rag ingest --engine ray`), for corpora "
        "larger than one machine embeds in good time. Needs the `ray` extra.",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster to join for `--engine ray` (e.g. `auto` or `ray://head:10001`; "
        "its workers need this package installed); unset: a local Ray instance is started "
        "for the ingest and shut down after it.",
    )
    ray_num_cpus: int | None = Field(
        default=None, ge=1, description="CPUs of the local Ray instance (unset: all)."
    )
    ray_workers: int = Field(
        default=2, ge=1, description="Embedding actors (model copies) of `--engine ray`."
    )
    ray_cpus_per_worker: float = Field(
        default=1.0, gt=0, description="CPUs Ray reserves for each embedding actor."
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        default="onnx",
        description="What runs the embedding model: `torch` (sentence-transformers), `onnx` "
        "(ONNX Runtime, fp32: the same vectors, measured 1.5x torch's encode rate) or "
        "`onnx-int8` (per-channel dynamic int8: 3.2x, but eval recall fell 0.028, more than "
        "the 0.01 allowed, so not the default). ONNX files are exported once into "
        "RAG_MODEL_CACHE_DIR.",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where ONNX exports of the embedding model are cached (written once, "
        "atomically; reused after by every index and process); default "
        "`$XDG_CACHE_HOME/rag/models` (`~/.cache/rag/models`).",
    )

    # Chunking (sizes in the embedding model's word pieces; measured on eval/questions.jsonl)
    chunk_tokens: int = Field(
        default=160, description="Target chunk size in word pieces (never above the model limit)."
    )
    chunk_overlap_tokens: int = Field(
        default=40, description="Word pieces of whole sentences repeated between chunks."
    )

    # Index
    vector_store: str = Field(
        default="auto",
        description="The vector index of chunks and sentences: 'auto' chooses by size "
        "(rag.vector_index.choose_kind), a registry name ('flat', ...) forces that kind.",
    )

    # Retrieval
    exhaustive_max_chunks: int = Field(
        default=20_000,
        ge=0,
        description="Up to this many chunks every chunk is scored by all four scorers (exact); "
        "above it only the candidates of the chunk index, the sentence index and BM25 are. "
        "Measured (README, Scale): exact scoring costs 17 ms at 10k chunks and 107 ms at "
        "100k, candidates 9 ms at both; on eval/questions.jsonl candidates lose 0.014 recall.",
    )
    query_blas_threads: int = Field(
        default=1,
        ge=0,
        description="Threads of numpy's BLAS once an index is opened for questions "
        "(process-wide; 0: leave the library's default). A question's matrix products are "
        "small, and idle BLAS threads spin on the cores the model and FAISS need: the demo's "
        "search took 15 ms with two, 9 ms with one, on 2 cores.",
    )
    top_k: int = Field(default=5, description="Passages returned per query.")
    candidates: int = Field(
        default=40,
        description="Candidates each ranking proposes before fusion (dense, sentence, BM25, "
        "word matching).",
    )
    fusion: Literal["zscore", "weighted", "rrf"] = Field(
        default="zscore",
        description="How the rankings are combined: zscore scores every candidate with every "
        "scorer and sums weighted z-scores (measured best, eval/kfold_retrieval.py); weighted "
        "sums max-normalised scores of each ranking's own candidates; rrf is reciprocal rank "
        "fusion.",
    )
    rrf_k: int = Field(default=60, description="Reciprocal-rank-fusion damping constant.")
    dense_weight: float = Field(
        default=1.0, description="Fusion weight of the dense ranking of whole chunks."
    )
    sentence_weight: float = Field(
        default=0.5,
        description="Fusion weight of the dense ranking of single sentences (a chunk scores "
        "as its best sentence): finds a one-sentence answer inside a long passage.",
    )
    lexical_weight: float = Field(default=1.0, description="Fusion weight of the BM25 ranking.")
    word_weight: float = Field(
        default=0.5,
        description="Fusion weight of soft word matching (a sentence scores by the question's "
        "words it holds or a near synonym of, weighted by IDF; a chunk as its best sentence): "
        "finds paraphrases that share few words with the text. 0 turns it off.",
    )
    source_boost: float = Field(
        default=3.0,
        ge=0,
        description="Added (in z-score units, zscore fusion) to the passages of a document the "
        "question names as its source ('per the RUSI paper', 'according to Melvin'; "
        "rag/sources.py), which then may fill the whole result. 0 turns it off. Chosen by "
        "k-fold (eval/kfold_retrieval.py): folds chose 3 and 5.",
    )
    word_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Least cosine similarity between two words (embedded alone) for soft word "
        "matching to count them as the same.",
    )
    word_embed_unknown: bool = Field(
        default=False,
        description="Embed the question's words that the collection does not use, so word "
        "matching can match them to near synonyms too: one more model call per question with "
        "such words (1.3-1.8x the search time; vectors are remembered). Off: such words "
        "take no part in word matching.",
    )
    expand_place_names: bool = Field(
        default=True,
        description="Append the names a query stands for: the country of a capital or "
        "institution (Yerevan -> Armenia, the Kremlin -> Russia), the place of a demonym "
        "(Azerbaijani -> Azerbaijan), an organisation described (the Moscow-led military "
        "alliance -> CSTO), an acronym spelled by a list of names (BRICS).",
    )
    max_per_doc: int = Field(
        default=3, description="At most this many passages from one document in a result."
    )
    max_overlap: float = Field(
        default=0.5,
        description="A passage overlapping an already chosen one of the same document by more "
        "than this share of its characters is skipped as a near-duplicate.",
    )

    # Reranking (optional; off by default: no cross-encoder's weights ship in a package)
    reranker: str | None = Field(
        default=None,
        description="A sentence-transformers CrossEncoder (a folder, or a name in the local "
        "Hugging Face cache) that reorders the retrieved passages. Unset: no reranking.",
    )
    reranker_kind: str = Field(
        default="cross-encoder", description="Which reranker implementation loads it."
    )
    rerank_candidates: int = Field(
        default=20, description="Passages retrieved for the reranker to reorder (top k kept)."
    )

    # Qdrant (optional vector store, `RAG_VECTOR_STORE=qdrant`; the `qdrant` extra)
    qdrant_url: str = Field(
        default="",
        description="Qdrant server or cluster the vector indexes live in, e.g. "
        "http://qdrant:6333. Empty: local mode, the vectors in a folder inside the index "
        "generation (one process at a time opens it; for tests and a single machine).",
    )
    qdrant_api_key: SecretStr | None = Field(
        default=None, description="API key of the Qdrant server (never logged)."
    )
    qdrant_collection_prefix: str = Field(
        default="rag",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Start of the name of every remote collection this deployment creates "
        "(`<prefix>-<stamp>-<random>`, one per index generation and role); give each "
        "deployment sharing a server its own.",
    )

    # Generation
    backend: Literal["extractive", "openai"] = Field(
        default="extractive",
        description="Answerer: offline extractive or an OpenAI-compatible LLM.",
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1."
    )
    llm_model: str | None = Field(default=None, description="Model name sent to the endpoint.")
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RAG_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="API key; falls back to OPENAI_API_KEY.",
    )
    llm_timeout_s: float = Field(default=60.0, description="Per-request timeout in seconds.")
    llm_max_retries: int = Field(
        default=2,
        description="More attempts after a connect failure, a timeout, HTTP 408/409/429 or 5xx "
        "other than 501/505.",
    )
    llm_temperature: float = Field(default=0.0, description="Sampling temperature.")
    llm_max_tokens: int = Field(default=600, description="Upper bound on generated tokens.")
    prompts_dir: Path = Field(
        default_factory=packaged_prompts_dir,
        description="Folder of prompt templates (default: the ones shipped in the package, "
        "prompts/).",
    )

    # Judge (`rag eval --judge`: RAGAS faithfulness and answer relevance, temperature 0)
    judge_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint of the judge model; falls back to "
        "RAG_LLM_BASE_URL.",
    )
    judge_model: str | None = Field(
        default=None, description="Judge model name; falls back to RAG_LLM_MODEL."
    )
    judge_api_key: SecretStr | None = Field(
        default=None,
        description="Judge API key; falls back to RAG_LLM_API_KEY (then OPENAI_API_KEY), "
        "so set it when the judge runs on another provider than the answerer.",
    )
    judge_cache: Path = Field(
        default=Path("eval/.judge-cache.sqlite"),
        description="SQLite file caching the judge's replies by model and prompt, so a "
        "rerun with the same prompts and model sends no requests.",
    )
    judge_questions: int = Field(
        default=3,
        description="Questions the judge generates from each answer for answer relevance "
        "(RAGAS: 3).",
    )
    judge_max_tokens: int = Field(
        default=1024,
        description="Upper bound on tokens in one judge reply (a verdict per claim with "
        "its reason needs more than an answer).",
    )
    runs_dir: Path = Field(
        default=Path("eval/runs"),
        description="Where `rag eval` and the Evaluate tab save run folders "
        "(summary.json, results.jsonl, report.html).",
    )

    @property
    def collection_dir(self) -> Path:
        return self.index_dir / self.collection

    @property
    def models_dir(self) -> Path:
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(cache_home) / "rag" / "models"

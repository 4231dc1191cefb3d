"""Plain helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Any

from fakes import HashEmbedder

from rag.assistant import Assistant
from rag.embeddings import Embedder
from rag.ingest import doc_id_for
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "eval" / "questions.jsonl"
CORPUS_DIR = ROOT / "corpus"
_WS = re.compile(r"\s+")


def llm_settings(base_url: str | None, **overrides: Any) -> Settings:
    """Settings for an OpenAICompatibleLLM against a test server: fast, no retries."""
    values: dict[str, Any] = {
        "llm_base_url": base_url,
        "llm_model": "fake-model",
        "llm_timeout_s": 5.0,
        "llm_max_retries": 0,
        "llm_temperature": 0.0,
        "llm_max_tokens": 123,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def llm_assistant(
    demo_assistant: Assistant, embedder: Embedder, base_url: str, **overrides: Any
) -> Assistant:
    """The demo assistant answering through a fake OpenAI-compatible server: no retries."""
    update: dict[str, Any] = {
        "backend": "openai",
        "llm_base_url": base_url,
        "llm_model": "fake",
        "llm_api_key": None,
        "llm_max_retries": 0,
        "llm_timeout_s": 5.0,
        **overrides,
    }
    settings = demo_assistant.settings.model_copy(update=update)
    return Assistant(settings, embedder_factory=lambda: embedder)


def eval_subset(folder: Path, ids: Collection[str], name: str = "subset.jsonl") -> Path:
    """The project eval set's lines for these question ids, in file order, as a new set."""
    lines = [
        line
        for line in EVAL_SET.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["id"] in ids
    ]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def collapse(text: str) -> str:
    """Whitespace runs as one space: quotes are compared to the corpus this way."""
    return _WS.sub(" ", text).strip()


def corpus_texts() -> dict[str, tuple[str, list[str]]]:
    """doc_id -> (the demo corpus file's text collapsed, each non-empty line collapsed)."""
    docs = {}
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        lines = [collapse(line) for line in raw.splitlines() if line.strip()]
        docs[doc_id_for(path)] = (collapse(raw), lines)
    return docs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def small_library(root: Path, documents: int = 2, **overrides: Any) -> Assistant:
    """An assistant over a copy of a few corpus documents, already indexed."""
    corpus = root / "corpus"
    corpus.mkdir()
    for path in sorted((ROOT / "corpus").glob("*.txt"))[:documents]:
        (corpus / path.name).write_bytes(path.read_bytes())
    (corpus / "catalog.toml").write_bytes((ROOT / "corpus" / "catalog.toml").read_bytes())
    settings = Settings(  # type: ignore[call-arg]
        index_dir=root / "index",
        collection="ui",
        corpus_dir=corpus,
        max_file_bytes=200_000,
        embedding_model=HashEmbedder.name,
        _env_file=None,
        **overrides,
    )
    fake = HashEmbedder()
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assert assistant.ingest([corpus]).ok
    return assistant

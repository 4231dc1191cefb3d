"""Shared fixtures. The real embedding model is loaded once per session (as in
sentence-transformers' own suite); the demo index is built once per session too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rag.assistant import Assistant
from rag.embeddings import Embedder, load_embedder
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(index_dir=tmp_path_factory.mktemp("index"), collection="demo", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def demo_assistant(demo_settings: Settings, embedder: Embedder) -> Assistant:
    """An assistant over the demo corpus, indexed once for the whole session."""
    assistant = Assistant(demo_settings, embedder_factory=lambda: embedder)
    report = assistant.ingest([CORPUS])
    assert report.ok, report.skipped
    return assistant


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the demo corpus, for tests that change files."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    yield target


@pytest.fixture
def isolated_settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", collection="test", _env_file=None)  # type: ignore[call-arg]


# --- a scripted OpenAI-compatible server (tests/fake_openai_server.py) -------------------

from fake_openai_server import FakeOpenAIServer  # noqa: E402
from helpers import llm_settings  # noqa: E402

from rag.openai_llm import OpenAICompatibleLLM  # noqa: E402


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    """A fresh fake OpenAI-compatible server on 127.0.0.1 (see its module for scripting).

    Proxy variables are neutralised so the client talks to it directly."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def llm(fake_openai: FakeOpenAIServer) -> Iterator[OpenAICompatibleLLM]:
    """The real OpenAI-compatible client, talking to `fake_openai`."""
    with OpenAICompatibleLLM(llm_settings(fake_openai.base_url)) as client:
        yield client


@pytest.fixture(scope="session")
def demo_app_url(
    demo_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The real Gradio app over the demo index, launched once on a free loopback port."""
    import socket

    from ui.app import launch

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    demo = launch(
        demo_assistant,
        port=port,
        prevent_thread_lock=True,
        quiet=True,
        runs_dir=tmp_path_factory.mktemp("runs"),
    )
    yield f"http://127.0.0.1:{port}"
    demo.close()

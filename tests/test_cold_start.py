"""Cold start: what a command imports and loads before it does its work. `rag --help` and
`rag docs` run in a fresh interpreter (the test process has torch loaded already) and report
which heavy modules they pulled in; the model loads once per assistant, on first use; the
app serves while the model is still loading and says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fakes import HashEmbedder
from gradio_client import Client
from helpers import free_port, small_library

from rag.assistant import Assistant
from rag.embeddings import Embedder
from rag.errors import IndexCorruptError
from rag.store import current_generation
from ui.app import launch

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "bm25s", "numpy")

# Runs the CLI in-process in a fresh interpreter, then prints its result and which of the
# heavy modules are loaded.
_PROBE = (
    f"HEAVY = {HEAVY!r}\n"
    + """
import json, sys
from typer.testing import CliRunner
from rag.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({
    "exit": result.exit_code,
    "output": result.output,
    "loaded": [m for m in HEAVY if m in sys.modules],
}))
"""
)


def run_cold(*args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return small_library(tmp_path_factory.mktemp("cold"))


def test_help_imports_no_model_and_no_index_libraries() -> None:
    result = run_cold("--help")
    assert result["exit"] == 0
    assert "docs" in result["output"] and "search" in result["output"]
    assert result["loaded"] == []


def test_docs_reads_the_document_table_only(library: Assistant) -> None:
    settings = library.settings
    result = run_cold(
        "--index", str(settings.index_dir), "--collection", settings.collection, "docs", "--json"
    )
    assert result["exit"] == 0, result["output"]
    listed = json.loads(result["output"])["documents"]
    expected = {
        d.doc_id: sum(1 for c in library.index.chunks if c.doc_id == d.doc_id)
        for d in library.index.documents.values()
    }
    assert {row["doc_id"]: row["chunks"] for row in listed} == expected
    assert result["loaded"] == []  # no torch, model, FAISS, BM25, not even numpy


def test_docs_still_checks_the_document_table(tmp_path: Path) -> None:
    assistant = small_library(tmp_path)
    table = current_generation(assistant.settings.collection_dir) / "documents.jsonl"
    table.write_text(table.read_text(encoding="utf-8").replace("a", "b"), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"documents\.jsonl"):
        Assistant(assistant.settings).documents()


class CountingFactory:
    """An embedder factory that counts its calls and can hold the load until released."""

    def __init__(self, hold: bool = False) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.started = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self) -> Embedder:
        self.calls += 1
        self.started.set()
        self.release.wait(timeout=60)
        return HashEmbedder()


def test_the_model_loads_once_and_only_when_needed(library: Assistant) -> None:
    factory = CountingFactory()
    assistant = Assistant(library.settings, embedder_factory=factory)
    assert len(assistant.documents()) == 2
    assert factory.calls == 0  # listing needs no model
    assistant.search("Russia in the South Caucasus")
    assistant.search("grain corridor")
    assert factory.calls == 1


def test_concurrent_first_uses_load_the_model_once(library: Assistant) -> None:
    factory = CountingFactory(hold=True)
    assistant = Assistant(library.settings, embedder_factory=factory)
    threads = [threading.Thread(target=lambda: assistant.embedder) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert factory.started.wait(10)
    assert assistant.embedder_loading
    factory.release.set()
    for thread in threads:
        thread.join(10)
    assert factory.calls == 1
    assert not assistant.embedder_loading


def test_app_serves_before_the_model_is_warm_and_says_so(library: Assistant) -> None:
    factory = CountingFactory(hold=True)
    assistant = Assistant(library.settings, embedder_factory=factory)
    port = free_port()
    demo = launch(assistant, port=port, prevent_thread_lock=True, quiet=True)
    try:
        assert factory.started.wait(10)  # the warm-up is under way in the background
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
        header, *_ = client.predict(api_name="/ui_library")
        assert "loading the embedding model" in header
        assert "2 documents" in header

        answered: list[Any] = []
        question = threading.Thread(
            target=lambda: answered.append(
                client.predict(
                    "What did insurers price?", "extractive", 5, "", "", api_name="/ui_ask"
                )
            )
        )
        question.start()
        question.join(2)
        assert question.is_alive()  # it waits for the model instead of failing
        factory.release.set()
        question.join(60)
        assert answered and answered[0][0]  # a chat with the question and its answer
        header, *_ = client.predict(api_name="/ui_library")
        assert "loading" not in header
        assert factory.calls == 1
    finally:
        factory.release.set()
        demo.close()

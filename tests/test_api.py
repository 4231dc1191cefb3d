"""The app's JSON API through `gradio_client`, against the real app on 127.0.0.1 over the
session's demo index: each endpoint returns what the same `rag ... --json` command prints
(one serializer, rag.serialize), and the API page lists those endpoints and no other."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from helpers import eval_subset
from typer.testing import CliRunner

import rag.assistant
from rag.assistant import Assistant
from rag.cli import app
from rag.embeddings import Embedder
from ui.app import API_ENDPOINTS

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Where did Ilham Aliyev and Nikol Pashinyan hold a five-hour meeting in July 2025?"
COMPARE_QUESTION = "How has Russia's position in the South Caucasus changed?"

CliJson = Callable[..., Any]
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.fixture(scope="module")
def client(demo_app_url: str) -> Client:
    return Client(demo_app_url, verbose=False, download_files=False)


@pytest.fixture
def cli_json(
    demo_assistant: Assistant,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> CliJson:
    """`cli_json("ask", "q")` is what `rag --index <demo> ask q --json` prints, parsed."""
    monkeypatch.setattr(rag.assistant, "load_embedder", lambda *args, **kwargs: embedder)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    settings = demo_assistant.settings

    def run(*args: str) -> Any:
        argv = ["--index", str(settings.index_dir), "--collection", settings.collection]
        result = CliRunner().invoke(app, [*argv, *args, "--json"])
        assert result.exit_code == 0, (result.stderr, result.exception)
        return json.loads(result.stdout)

    return run


def keys(value: Any) -> Any:
    """The shape of a JSON value: its keys, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return type(value).__name__ if value is not None else None


def test_the_api_page_lists_the_json_endpoints_and_nothing_else(client: Client) -> None:
    info = client.view_api(return_format="dict", print_info=False)
    assert isinstance(info, dict)
    named = set(info["named_endpoints"])
    assert named == {f"/{name}" for name in API_ENDPOINTS}
    assert not info["unnamed_endpoints"]
    # the UI's own events stay callable by name, off the API page
    header, *_ = client.predict(api_name="/ui_library")
    assert "documents" in header


def test_ask_returns_the_cli_json(client: Client, cli_json: CliJson) -> None:
    result = client.predict(QUESTION, "extractive", 5, None, api_name="/ask")
    expected = cli_json("ask", QUESTION, "--backend", "extractive", "-k", "5")
    assert result == expected
    assert result["citations"] and not result["refused"]
    assert "<a" not in result["answer"]  # text with [n] markers, not the chat's markup


def test_ask_with_only_a_question(client: Client, cli_json: CliJson) -> None:
    assert client.predict(question=QUESTION, api_name="/ask") == cli_json("ask", QUESTION)


def test_search_returns_the_cli_json(client: Client, cli_json: CliJson) -> None:
    author = "Neil Melvin"
    result = client.predict("Russia influence", 3, author, [], api_name="/search")
    expected = cli_json("search", "Russia influence", "-k", "3", "--author", author)
    assert result == expected
    assert len(result["passages"]) == 3
    assert {p["author"] for p in result["passages"]} == {author}


def test_compare_returns_the_cli_json(client: Client, cli_json: CliJson) -> None:
    result = client.predict(COMPARE_QUESTION, [], "extractive", api_name="/compare")
    expected = cli_json("compare", COMPARE_QUESTION, "--backend", "extractive")
    assert result == expected
    assert len(result["perspectives"]) >= 2


def test_documents_returns_the_cli_json(
    client: Client, cli_json: CliJson, demo_assistant: Assistant
) -> None:
    result = client.predict(api_name="/documents")
    assert result == cli_json("docs")
    assert len(result["documents"]) == len(demo_assistant.documents())


def test_evaluate_returns_the_cli_json(client: Client, cli_json: CliJson, tmp_path: Path) -> None:
    wanted = {"f03", "u08"}
    small = eval_subset(tmp_path, wanted, "small.jsonl")
    result = client.predict(
        small.read_text(encoding="utf-8"), 3, "extractive", True, api_name="/evaluate"
    )
    expected = cli_json(
        "eval",
        str(small),
        "-k",
        "3",
        "--backend",
        "extractive",
        "--no-conversations",
        "--out",
        str(tmp_path / "run"),
    )
    assert keys(result) == keys(expected)
    assert [q["id"] for q in result["questions"]] == ["f03", "u08"]

    def scores(figures: dict[str, Any]) -> dict[str, Any]:  # timings differ run to run
        return {k: v for k, v in figures.items() if not k.endswith("_ms")}

    assert scores(result["overall"]) == scores(expected["overall"])
    assert not Path(result["run_dir"]).is_absolute()  # the server's folders stay unsaid


@pytest.mark.parametrize(
    ("endpoint", "args", "message"),
    [
        ("/ask", ("  ",), "question: give a non-empty text"),
        ("/ask", (QUESTION, "gpt-9"), "backend must be"),
        ("/search", ("Russia", 500), "k: give a whole number from 1 to 100"),
        ("/search", ("Russia", 3, "Nobody Such"), "Nobody Such"),
        ("/evaluate", ("{not json\n",), r"^eval_set:1: not valid JSON"),
    ],
)
def test_bad_input_is_a_one_line_error(
    client: Client, endpoint: str, args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=endpoint)


def test_a_user_mistake_is_one_log_line_without_a_traceback(
    client: Client, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="ui.app")
    with pytest.raises(AppError, match="question: give a non-empty text"):
        client.predict("  ", api_name="/ask")
    logged = [r for r in caplog.records if r.name == "ui.app"]
    assert [r.getMessage() for r in logged] == ["ask: question: give a non-empty text"]
    assert logged[0].exc_info is None
    assert "Traceback" not in capfd.readouterr().err

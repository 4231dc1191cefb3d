"""Starting the app and what it says: a busy port is one line before anything loads
(`rag serve`, `make demo PORT=...`), a user's mistake is one log line without a traceback,
and the header names the answerer actually in use."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from fakes import HashEmbedder
from typer.testing import CliRunner

import rag.cli
from rag.assistant import Assistant
from rag.errors import ConfigError
from rag.ports import check_port
from rag.settings import Settings
from ui import handlers
from ui.app import build_app, event
from ui.handlers import Context, UserError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_a_free_port_passes_and_a_busy_one_is_named(busy_port: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    check_port("127.0.0.1", free)
    with pytest.raises(ConfigError, match=f"port {busy_port} on 127.0.0.1 is already in use"):
        check_port("127.0.0.1", busy_port)


def test_serve_on_a_busy_port_fails_in_one_line_before_loading_anything(
    busy_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded: list[str] = []

    def must_not_load(*_args: Any, **_kwargs: Any) -> Any:
        loaded.append("loaded")
        raise AssertionError("loaded before the port was checked")

    monkeypatch.setattr(rag.cli, "web_app", must_not_load)
    monkeypatch.setattr(rag.cli, "_assistant", must_not_load)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        sys, "argv", ["rag", "--index", str(tmp_path), "serve", "--port", str(busy_port)]
    )
    with CliRunner().isolation() as (_stdout, stderr, _):
        with pytest.raises(SystemExit) as exit_:
            rag.cli.main()
        lines = stderr.getvalue().decode().strip().splitlines()
    assert exit_.value.code == 1
    assert loaded == []
    assert len(lines) == 1, lines
    assert f"port {busy_port}" in lines[0] and "make demo PORT=" in lines[0]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_checks_the_port_before_indexing(busy_port: int, tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = subprocess.run(  # -o: the install step counts as done (never pip here)
        ["make", "-o", ".venv/.installed", "demo", f"PORT={busy_port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "RAG_INDEX_DIR": str(index)},
        timeout=120,
    )
    assert result.returncode != 0
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: port {busy_port} on 127.0.0.1 is already in use")
    assert f"make demo PORT={busy_port + 1}" in first
    assert "ingest" not in result.stdout + result.stderr and not index.exists()


def test_a_user_mistake_logs_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def compare(question: str) -> str:
        raise UserError("Type a question to compare the authors on.")

    caplog.set_level(logging.INFO, logger="ui.app")
    with pytest.raises(gr.Error) as raised:
        event(compare)("")
    assert raised.value.print_exception is False  # Gradio prints no traceback for it
    [record] = [r for r in caplog.records if r.name == "ui.app"]
    assert record.getMessage() == "compare: Type a question to compare the authors on."
    assert record.exc_info is None and "\n" not in record.getMessage()


def _settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def test_the_header_names_the_answerer_in_use() -> None:
    assert handlers.answerer_text(_settings()) == "answers by the extractive answerer (offline)"
    configured = _settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen2.5-7b")
    assert handlers.answerer_text(configured, "openai") == (
        "answers by qwen2.5-7b (OpenAI-compatible LLM)"
    )
    assert handlers.answerer_text(configured, "extractive").startswith("answers by the extractive")
    assert handlers.answerer_text(_settings(backend="openai", llm_model="x")).startswith(
        "answers by the extractive answerer: OpenAI-compatible LLM selected, but no model"
    )


def test_the_header_follows_the_answerer_choice(tmp_path: Path) -> None:
    settings = _settings(
        index_dir=tmp_path / "index",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="qwen2.5-7b",
        embedding_model=HashEmbedder.name,
    )
    fake = HashEmbedder()
    demo = build_app(Assistant(settings, embedder_factory=lambda: fake), runs_dir=tmp_path)
    config = demo.get_config_file()
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"]}
    radios = [c["id"] for c in config["components"] if c["props"].get("label") == "Answerer"]
    changed = [
        d
        for d in config["dependencies"]
        if ids["answerer"] in d["outputs"] and d["targets"][0][1] == "change"
    ]
    assert {d["targets"][0][0] for d in changed} >= {radios[0]}  # the Ask tab's answerer
    assert all(d["inputs"] == [d["targets"][0][0]] for d in changed)
    ctx = Context(Assistant(settings), tmp_path, tmp_path, tmp_path)
    assert "qwen2.5-7b" in handlers.answerer_html(ctx, "openai")
    assert "extractive" in handlers.answerer_html(ctx, "extractive")

"""The CLI's log: libraries' notes on a file go to the log file, never to the terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.logs import configure_logging, log_path
from rag.settings import Settings


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_file_notes_go_to_the_log_only_and_warnings_to_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_root: None
) -> None:
    settings = Settings(index_dir=tmp_path / "index", _env_file=None)  # type: ignore[call-arg]
    configure_logging(settings)
    configure_logging(settings)  # a second call replaces, never doubles, its handlers
    logging.getLogger("rag.ingest.read").warning("bad.pdf: Ignoring wrong pointing object")
    logging.getLogger("rag.assistant").warning("a newer generation failed to load")
    logging.getLogger("rag.llm").info("retrying after HTTP 503")

    err = capsys.readouterr().err
    assert "a newer generation failed to load" in err
    assert "wrong pointing object" not in err and "retrying" not in err
    logged = log_path(settings).read_text(encoding="utf-8")
    assert logged.count("wrong pointing object") == 1
    assert "a newer generation failed to load" in logged and "retrying after HTTP 503" in logged


def test_a_command_that_logs_nothing_leaves_no_folder(tmp_path: Path, restore_root: None) -> None:
    settings = Settings(index_dir=tmp_path / "nowhere", _env_file=None)  # type: ignore[call-arg]
    configure_logging(settings)
    logging.getLogger("rag").debug("not logged")
    assert not (tmp_path / "nowhere").exists()

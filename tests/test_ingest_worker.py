"""One file can never stall or sink the batch: each is read in a worker process under a
time and a memory limit; a file over either is refused in one line, its worker replaced,
and the other files are ingested."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from fakes import HashEmbedder

from rag.errors import IngestError
from rag.indexing import ingest
from rag.ingest import Catalog
from rag.ingest.worker import IsolatedLoader, Limits
from rag.settings import Settings

ARTICLE = (
    "Georgia applied for membership of the European Union in March 2022. "
    "Tbilisi received candidate status in December 2023."
)


def _settings(tmp_path: Path, **limits: float) -> Settings:
    return Settings(
        index_dir=tmp_path / "index",
        collection="test",
        embedding_model=HashEmbedder.name,
        _env_file=None,  # type: ignore[call-arg]
        **limits,
    )


def _children() -> set[int]:
    """Live child processes of this test process (Linux)."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def test_a_file_over_the_time_limit_is_refused_and_the_batch_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a-first.txt").write_text(ARTICLE, encoding="utf-8")
    # Linear, but seconds of cleaning: well over a half-second limit on any machine.
    (folder / "b-slow.txt").write_text("ab.cd@ef-gh/12," * 400_000, encoding="utf-8")
    (folder / "c-last.txt").write_text(ARTICLE.replace("Georgia", "Moldova"), encoding="utf-8")
    before = _children()

    report = ingest([folder], _settings(tmp_path, ingest_file_timeout_s=0.5), HashEmbedder)

    assert report.added == ("a-first", "c-last")  # read before and after the slow one
    [skipped] = report.skipped
    assert skipped.path.endswith("b-slow.txt")
    assert "0.5-second limit" in skipped.reason and "RAG_INGEST_FILE_TIMEOUT_S" in skipped.reason
    assert "\n" not in skipped.reason
    assert _children() <= before  # the killed worker and its replacement are gone


def test_a_file_over_the_memory_limit_is_refused_and_the_next_file_is_read(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.txt"
    big.write_text("a b\n" * 2_000_000, encoding="utf-8")  # 8 MB: millions of line objects
    small = tmp_path / "small.txt"
    small.write_text(ARTICLE, encoding="utf-8")
    with IsolatedLoader(Limits(seconds=120, memory_mb=250)) as loader:
        with pytest.raises(IngestError, match="250 MB memory limit") as refused:
            loader.load(big, Catalog(), 20_000_000)
        assert "RAG_INGEST_FILE_MEMORY_MB" in str(refused.value)
        assert loader.load(small, Catalog(), 20_000_000).text == ARTICLE


def test_what_a_library_logs_about_a_file_goes_to_the_log_not_the_terminal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    del page  # no text: the loader refuses it, but pypdf reads it first
    path = tmp_path / "blank.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    # A broken cross-reference offset: pypdf recovers and logs a warning about it.
    data = path.read_bytes()
    start = data.rindex(b"startxref") + len(b"startxref\n")
    end = data.index(b"\n", start)
    path.write_bytes(data[:start] + str(int(data[start:end]) + 7).encode() + data[end:])

    with (
        caplog.at_level(logging.INFO, logger="rag.ingest"),
        IsolatedLoader(Limits(seconds=60, memory_mb=0)) as loader,
        pytest.raises(IngestError, match="no extractable text"),
    ):
        loader.load(path, Catalog(), 20_000_000)

    logged = [r.getMessage() for r in caplog.records if r.name == "rag.ingest.read"]
    assert logged and all(message.startswith(f"{path}: ") for message in logged)
    assert "startxref" not in capfd.readouterr().err.lower()

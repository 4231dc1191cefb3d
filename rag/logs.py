"""Where the CLI and the app log: a rotating file beside the index, and warnings on stderr.

Libraries reading a hostile file (pypdf on a damaged PDF) can say a great deal; what they
say about a file goes to the file log only (`rag.ingest.read`), so the terminal shows one
line per skipped file and nothing else. Configured once, at the edge (`rag.cli`)."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from rag.settings import Settings

__all__ = ["configure_logging", "log_path"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_FILE_NOTES = "rag.ingest.read"  # what libraries said while one file was read


class _DirectoryMakingHandler(RotatingFileHandler):
    """Opens (and makes the folder of) the log file at the first record, so a command that
    logs nothing leaves no file and no folder behind."""

    def _open(self):  # type: ignore[no-untyped-def]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass


class _NotFileNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(_FILE_NOTES)


def log_path(settings: Settings) -> Path:
    return settings.log_file or settings.index_dir / "rag.log"


def configure_logging(settings: Settings, *, verbose: bool = False) -> None:
    """Root handlers: INFO and up to the log file; WARNING (INFO when verbose) and up to
    stderr, without libraries' notes on files. Replaces what an earlier call installed."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_rag", False)]:
        root.removeHandler(handler)
        handler.close()
    to_file = _DirectoryMakingHandler(
        log_path(settings), maxBytes=5_000_000, backupCount=2, encoding="utf-8", delay=True
    )
    to_file.setLevel(logging.INFO)
    to_stderr = _CurrentStderr()
    to_stderr.setLevel(logging.INFO if verbose else logging.WARNING)
    to_stderr.addFilter(_NotFileNotes())
    handlers: tuple[logging.Handler, ...] = (to_file, to_stderr)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT))
        setattr(handler, "_rag", True)  # noqa: B010 (marks ours, for the next call)
        root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.captureWarnings(True)

"""Reading a file in a worker process, under a time and a memory limit.

Parsers and cleaning rules run on text a stranger wrote. A pattern that backtracks, a PDF
or YAML structure that balloons, or a parser bug must cost one file, not the batch: each
file is read, decoded, cleaned and described (`load_document`) in a child process. A file
that overruns the time limit has its worker killed (and replaced for the next file); one
that needs more memory than the limit fails in the worker, not in the ingest. Either way
the file is refused with a one-line reason and the batch goes on.

The child is a plain `python -m rag.ingest.worker` talking pickles over a socket pair, not
a `multiprocessing` child: `spawn` would re-import the parent's main module (the CLI, and
with it the embedding stack), `fork` would copy a process that may hold torch's threads.
It imports only the ingest modules and starts in a fraction of a second.

What the libraries log while reading a file (pypdf's "Ignoring wrong pointing object",
Python warnings) travels back with the result and is logged under `rag.ingest`, so it
reaches the log instead of the terminal.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import traceback
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from rag.errors import IngestError, RagError
from rag.ingest.catalog import Catalog
from rag.ingest.loaders import load_document
from rag.types import Document

log = logging.getLogger("rag.ingest")
# What the libraries said about a file's content: for the log where one is configured,
# never for the terminal (a NullHandler keeps Python's last-resort stderr handler away).
file_log = logging.getLogger("rag.ingest.read")
file_log.addHandler(logging.NullHandler())

_STOP_WAIT_S = 2.0  # how long a worker asked to stop may take before it is killed
_START_WAIT_S = 60.0  # how long a new worker may take to import the ingest modules


@dataclass(frozen=True)
class Limits:
    """Per-file limits: wall-clock seconds, and address space in MB (0: no memory limit)."""

    seconds: float
    memory_mb: int


class IsolatedLoader:
    """`load_document` in a worker process: `load` returns the Document or raises
    IngestError (the file's reason, including an overrun limit). Use as a context manager
    so the worker never outlives the ingest."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> IsolatedLoader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def load(self, path: Path, catalog: Catalog, max_bytes: int) -> Document:
        conn = self._connection()
        conn.send((str(path), dict(catalog.entries), catalog.path, max_bytes))
        if not conn.poll(self.limits.seconds):
            self._kill()
            raise IngestError(
                path,
                f"reading it took longer than the {self.limits.seconds:g}-second limit for one "
                "file; check the file, or raise RAG_INGEST_FILE_TIMEOUT_S",
            )
        try:
            reply: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError) as exc:
            code = self._kill()
            raise IngestError(path, self._died(code)) from exc
        kind, value, records, stop = reply
        for level, message in records:
            file_log.log(level, "%s: %s", path, message)
        if stop:  # the worker ran out of memory: a fresh one for the next file
            self._kill()
        if kind == "ok":
            assert isinstance(value, Document)
            return value
        if kind == "failed":  # a bug, not bad input: keep the traceback in the log
            log.error("%s: reading it failed in the worker:\n%s", path, value[1])
            raise IngestError(path, f"reading it failed ({value[0]}); please report this")
        raise IngestError(path, str(value))

    def close(self) -> None:
        """Ask the worker to stop; kill it if it does not."""
        process, conn = self._process, self._conn
        if process is None or conn is None:
            return
        try:
            conn.send(None)
            process.wait(timeout=_STOP_WAIT_S)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._kill()

    def _connection(self) -> Connection:
        if self._process is not None and self._process.poll() is not None:
            self._kill()  # it exited on its own since the last file
        if self._conn is None:
            self._start()
        assert self._conn is not None
        return self._conn

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The child imports this same `rag`, wherever the parent found it.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rag.ingest.worker",
                    str(theirs.fileno()),
                    str(self.limits.memory_mb),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        # The file's clock starts once the worker has imported what it needs.
        try:
            ready = self._conn.poll(_START_WAIT_S) and self._conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self._kill()
            raise RagError(f"the ingest worker did not start (exit code {code}); see above")

    def _kill(self) -> int | None:
        """Stop the worker now; its exit code (negative: the signal that ended it)."""
        process, conn = self._process, self._conn
        self._process, self._conn = None, None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
        return process.wait()

    def _died(self, code: int | None) -> str:
        memory = (
            f", probably over the {self.limits.memory_mb:,} MB memory limit for one file "
            "(raise RAG_INGEST_FILE_MEMORY_MB if the file is sound)"
            if self.limits.memory_mb
            else ""
        )
        return f"the worker reading it ended abruptly (exit code {code}){memory}"


# --------------------------------------------------------------------------- the child


class _Collect(logging.Handler):
    """Keeps what the libraries log while one file is read, to send back with it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, " ".join(record.getMessage().split())))


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    import resource

    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _serve(conn: Connection, memory_mb: int) -> None:
    collect = _Collect()
    root = logging.getLogger()
    root.handlers[:] = [collect]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    _limit_memory(memory_mb)
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the ingest is gone
            return
        if request is None:
            return
        path_text, entries, catalog_path, max_bytes = request
        path = Path(path_text)
        collect.records = []
        stop = False
        reply: tuple[str, Any]
        try:
            catalog = Catalog(MappingProxyType(entries), catalog_path)
            reply = ("ok", load_document(path, catalog=catalog, max_bytes=max_bytes))
        except IngestError as exc:
            reply = ("refused", exc.reason)
        except MemoryError:
            stop = True
            reply = (
                "refused",
                f"reading it needs more than the {memory_mb:,} MB memory limit for one file; "
                "check the file, or raise RAG_INGEST_FILE_MEMORY_MB",
            )
        except Exception as exc:  # a bug: reported with its traceback, never hidden
            reply = ("failed", (f"{type(exc).__name__}: {exc}"[:300], traceback.format_exc()))
        conn.send((*reply, collect.records, stop))
        if stop:
            return


def main(argv: list[str]) -> None:
    fd, memory_mb = int(argv[0]), int(argv[1])
    _serve(Connection(fd), memory_mb)


if __name__ == "__main__":
    main(sys.argv[1:])

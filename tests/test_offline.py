"""The embedding model is read from local files only: nothing reaches a model hub, even
without HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE set (the package never sets them either).

A fresh interpreter loads and uses the real embedder with the hub endpoint and every proxy
pointed at a local server that records what it is asked; it must be asked nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

USE_THE_EMBEDDER = """
import os, sys
from rag.embeddings import load_embedder
embedder = load_embedder("all-MiniLM-L6-v2")
vectors = embedder.embed(["Armenia froze its participation in the CSTO."])
assert vectors.shape == (1, embedder.dimension), vectors.shape
assert embedder.count_tokens("Yerevan") > 2
assert not any(k.startswith(("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")) for k in os.environ)
print("ok")
"""


class _Recorder(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def _record(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_error(503, "no network in this test")

    do_GET = do_HEAD = do_POST = do_CONNECT = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    requests: ClassVar[list[str]] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_the_embedder_never_reaches_a_hub(recorder: tuple[str, list[str]], tmp_path: Path) -> None:
    url, requests = recorder
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_"))
        and k.lower() not in ("no_proxy", "http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        HF_ENDPOINT=url,
        HF_HOME=str(tmp_path / "empty-hf-home"),
        HTTP_PROXY=url,
        HTTPS_PROXY=url,
        ALL_PROXY=url,
        TOKENIZERS_PARALLELISM="false",
    )
    done = subprocess.run(
        [sys.executable, "-c", USE_THE_EMBEDDER],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert requests == []

"""The app as a long-running server, over HTTP: uploads only from its own pages and within
a quota, upload files deleted once added or when old, sessions that expire and histories
that stop growing, a clear "busy, retry in N s" when the queue is full, and an index
written by another writer picked up by the running app. Each app here is launched on a
free loopback port over its own small index (the hash embedder stands in for the model:
these are server mechanics, not retrieval quality)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fakes import HashEmbedder
from gradio_client import Client, handle_file
from gradio_client.exceptions import ValidationError
from helpers import free_port, small_library

from rag.assistant import Assistant
from rag.embeddings import Vectors
from ui import handlers
from ui.app import launch
from ui.guards import ServiceTimes, retry_after_s
from ui.handlers import Context
from ui.render import ChatSession

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

NOTE = """# Notes on the Black Sea grain corridor

By Test Author

The Black Sea grain corridor reopened shipping lanes for Ukrainian wheat in 2023.
Insurers in London priced the war risk premium at one percent of hull value.
"""


def serve(assistant: Assistant, root: Path) -> tuple[Any, str]:
    port = free_port()
    demo = launch(
        assistant, port=port, prevent_thread_lock=True, quiet=True, runs_dir=root / "runs"
    )
    return demo, f"http://127.0.0.1:{port}/"


def upload(url: str, name: str, data: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{url}gradio_api/upload",
        files={"files": (name, data, "text/plain")},
        headers=headers,
        timeout=30,
    )


# ------------------------------------------------------------------ 13: uploads


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Assistant]]:
    """Quota 250 kB (files up to 200 kB); uploads never added are swept after 2 s."""
    root = tmp_path_factory.mktemp("guarded")
    assistant = small_library(root, upload_quota_bytes=250_000, upload_max_age_s=2)
    demo, url = serve(assistant, root)
    yield url, assistant
    demo.close()


def test_uploads_from_another_origin_are_refused(guarded: tuple[str, Assistant]) -> None:
    url, _ = guarded
    own = url.rstrip("/")
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": own.replace("127.0.0.1", "localhost")},  # another origin, same machine
        {"Referer": "http://evil.example/page.html"},
        {"Host": "evil.example", "Origin": "http://evil.example"},  # DNS rebinding
    ):
        response = upload(url, "x.txt", b"hostile", **headers)
        assert response.status_code == 403, (headers, response.status_code)
        assert "Refused" in response.text
    # the app's own pages, and programs that name no page, may upload
    assert upload(url, "ok.txt", b"own page", Origin=own).status_code == 200
    assert upload(url, "ok.txt", b"own page", Referer=f"{own}/?tab=library").status_code == 200
    assert upload(url, "ok.txt", b"a program").status_code == 200
    # a hostile name resolved to this machine reads nothing either (DNS rebinding)
    rebound = httpx.get(f"{url}config", headers={"Host": f"evil.example:{urlsplit(url).port}"})
    assert rebound.status_code == 403
    assert httpx.get(f"{url}config").status_code == 200
    # the guard is on every request that changes something, not only uploads
    joined = httpx.post(
        f"{url}gradio_api/call/ui_ask",
        json={"data": ["q", "extractive", 3, "", ""]},
        headers={"Origin": "http://evil.example"},
        timeout=30,
    )
    assert joined.status_code == 403


def test_upload_quota_ingest_deletes_and_the_sweep_removes_old_uploads(
    guarded: tuple[str, Assistant], tmp_path: Path
) -> None:
    url, assistant = guarded
    time.sleep(4)  # uploads of other tests swept
    first = upload(url, "a.txt", b"a" * 150_000)
    assert first.status_code == 200, first.text
    [held] = first.json()
    refused = upload(url, "b.txt", b"b" * 150_000)
    assert refused.status_code == 413
    assert "RAG_UPLOAD_QUOTA_BYTES" in refused.text and "250 MB" not in refused.text

    # an upload that is added is deleted at once, freeing its share of the quota
    note = tmp_path / "grain corridor.md"
    note.write_text(f"{NOTE}\nFiled from {tmp_path}.\n", encoding="utf-8")  # its own folder
    client = Client(url, verbose=False, download_files=False)
    before = set(assistant.index.documents)
    uploads = Path(held).parent.parent  # Gradio's temporary folder, shared by its apps
    earlier = set(uploads.glob("*/grain corridor.md"))
    report, *_ = client.predict([handle_file(str(note))], api_name="/ui_add_documents")
    assert "added as grain_corridor.md" in report
    assert set(assistant.index.documents) - before == {"grain-corridor"}
    assert set(uploads.glob("*/grain corridor.md")) <= earlier

    # the upload never added is swept within the age plus the sweep's period
    deadline = time.monotonic() + 15
    while Path(held).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not Path(held).exists()
    assert upload(url, "b.txt", b"b" * 150_000).status_code == 200


def test_uploads_without_a_length_are_refused(guarded: tuple[str, Assistant]) -> None:
    url, _ = guarded

    def body() -> Iterator[bytes]:
        yield b"--x\r\nContent-Disposition: form-data; name=files; filename=a.txt\r\n\r\n"
        yield b"data\r\n--x--\r\n"

    response = httpx.post(
        f"{url}gradio_api/upload",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        timeout=30,
    )
    assert response.status_code == 411


# ------------------------------------------------------------------ 14: sessions


def test_history_is_capped(tmp_path: Path) -> None:
    assistant = small_library(tmp_path, chat_turns_kept=3, context_turns_kept=2)
    ctx = Context(assistant, tmp_path / "runs", tmp_path / "set.jsonl", tmp_path)
    session: ChatSession | None = None
    for n in range(6):
        *_, (_chat, _sources, session, _box) = handlers.ask(
            ctx, f"What about Russia, part {n}?", session, "extractive", 3, None, None
        )
    assert session is not None
    assert [t.question for t in session.turns] == [
        f"What about Russia, part {n}?" for n in (3, 4, 5)
    ]
    assert len(session.conversation.turns) == 2


def _chat(client: Client, question: str) -> list[dict[str, Any]]:
    chat, _sources, _box = client.predict(question, "extractive", 3, "", "", api_name="/ui_ask")
    return list(chat)


def test_sessions_expire_and_the_least_recent_is_dropped(tmp_path: Path) -> None:
    assistant = small_library(tmp_path, session_ttl_s=2, max_sessions=2)
    demo, url = serve(assistant, tmp_path)
    try:
        a, b, c = (Client(url, verbose=False, download_files=False) for _ in range(3))
        assert len(_chat(a, "What about Russia?")) == 2
        assert len(_chat(a, "And Georgia?")) == 4  # the session holds the conversation
        time.sleep(4)  # past the time to live, and the sweep that runs every second
        assert len(_chat(a, "And Armenia?")) == 2  # a fresh conversation

        assert len(_chat(a, "What about Turkey?")) == 4
        _chat(b, "What about Iran?")
        _chat(c, "What about Azerbaijan?")  # a third session: a's, least recent, is dropped
        assert len(_chat(a, "And the EU?")) == 2
        assert len(_chat(c, "And the EU?")) == 4
    finally:
        demo.close()


# ------------------------------------------------------------------ 15: busy


class GatedEmbedder(HashEmbedder):
    """The hash embedder, waiting for the gate to open: requests pile up in the queue."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()  # a request is being answered (and waits)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.entered.set()
        self.gate.wait(timeout=60)
        return super().embed(texts)


def test_a_full_queue_answers_busy_retry_in_n_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.app.QUEUE_MAX_SIZE", 2)
    monkeypatch.setattr("ui.app.CONCURRENCY", 1)
    gated = GatedEmbedder()
    gated.gate.set()
    assistant = Assistant(small_library(tmp_path).settings, embedder_factory=lambda: gated)
    demo, url = serve(assistant, tmp_path)
    client = Client(url, verbose=False, download_files=False)
    gated.gate.clear()  # from now on no question is answered until the gate opens
    try:
        body = {"data": ["What about Russia?", "extractive", 3, "", ""]}

        def post(_: int) -> httpx.Response:
            return httpx.post(f"{url}gradio_api/call/ui_ask", json=body, timeout=60)

        # One request is taken by the single worker and waits at the gate; only then is the
        # queue filled, so it stays full (no worker frees a place) until the gate opens.
        gated.entered.clear()
        assert post(0).status_code == 200
        assert gated.entered.wait(timeout=30)
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, range(8)))
        busy = [r for r in responses if r.status_code != 200]
        assert 0 < len(busy) < len(responses)
        for response in busy:
            assert response.status_code == 422
            seconds = int(response.headers["retry-after"])
            assert seconds >= 1
            [detail] = response.json()["detail"]
            assert detail["message"].startswith("The app is busy")
            assert f"retry in {seconds} s" in detail["message"]
        # what gradio_client shows (the browser shows the same text under the question)
        with pytest.raises(ValidationError, match=r"The app is busy .* retry in \d+ s"):
            client.predict("What about Russia?", "extractive", 3, "", "", api_name="/ui_ask")
    finally:
        gated.gate.set()
        demo.close()


def test_the_retry_estimate_follows_the_rate_answers_finish_at() -> None:
    times = ServiceTimes(default_s=0.5)
    assert times.seconds_per_answer(2, now=100.0) == 0.25  # nothing measured: the default
    for n in range(3):
        times.add(0.2, now=60.0 + n)
    assert times.seconds_per_answer(2, now=63.0) == pytest.approx(0.1)  # too few: durations
    for n in range(20):  # busy: one answer finished every 0.5 s, whatever each took
        times.add(0.2, now=110.0 + 0.5 * n)
    per_answer = times.seconds_per_answer(2, now=120.0)
    assert per_answer == pytest.approx(0.5, rel=0.1)
    assert retry_after_s(64, per_answer) == pytest.approx(32, abs=3)
    assert retry_after_s(1, 0.01) == 1


# ------------------------------------------------------------------ 16: new generations


def test_the_running_app_sees_a_new_generation_and_in_flight_reads_keep_the_old(
    tmp_path: Path,
) -> None:
    app_side = small_library(tmp_path, documents=2, reload_check_s=0.2)
    demo, url = serve(app_side, tmp_path)
    try:
        client = Client(url, verbose=False, download_files=False)
        header, table, *_ = client.predict(api_name="/ui_library")
        assert "2 documents" in header
        in_flight = app_side.generation()  # what a request that started now reads

        # another writer (as `rag ingest` in another process) adds a document
        writer = Assistant(app_side.settings, embedder_factory=HashEmbedder)
        corpus = app_side.settings.corpus_dir
        (corpus / "grain_corridor.md").write_text(NOTE, encoding="utf-8")
        assert writer.ingest([corpus]).ok

        deadline = time.monotonic() + 10
        while "3 documents" not in header and time.monotonic() < deadline:
            time.sleep(0.3)
            header, table, *_ = client.predict(api_name="/ui_library")
        assert "3 documents" in header
        assert 'data-doc="grain-corridor"' in table
        _, sources, _box = client.predict(
            "grain corridor war risk premium", "extractive", 3, "", "", api_name="/ui_ask"
        )
        assert 'data-doc="grain-corridor"' in sources  # the new document is searched

        # the request that started before the swap still reads its own generation whole
        assert app_side.generation() is not in_flight
        assert len(in_flight.index.documents) == 2
        passages = in_flight.retriever.search("grain corridor war risk premium", k=5)
        assert passages and all(p.chunk.doc_id != "grain-corridor" for p in passages)
        assert in_flight.extractive is not app_side.generation().extractive
    finally:
        demo.close()


def test_a_broken_new_generation_keeps_the_live_one(tmp_path: Path) -> None:
    assistant = small_library(tmp_path, reload_check_s=0)
    live = assistant.generation()
    collection = assistant.settings.collection_dir
    broken = collection / "gen-99999999T999999-broken"
    broken.mkdir()
    (collection / "CURRENT").write_text(broken.name + "\n", encoding="utf-8")
    assert assistant.generation() is live
    assert len(assistant.documents()) == 2

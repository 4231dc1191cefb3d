"""What stands between the network and the app's handlers (ASGI middleware on the
FastAPI app Gradio serves), and the figures it decides with:

- `OriginGuard`: a request that changes something (POST, PUT, PATCH, DELETE) from a web
  page of another origin is refused, so no page on the web can make a reader's browser
  upload files to the app or queue work on it. Browsers always name the page's origin on
  such requests (`Origin`, else `Referer`); a request naming neither comes from a
  program, not a page (gradio_client, curl), and is let through: the app's password, when
  it has one, still applies, and without one it listens on loopback only (ui.app
  `check_exposure`). When the app listens on loopback, every request (reads too) must
  name a loopback Host, so a hostile name resolved to 127.0.0.1 (DNS rebinding) can
  neither read the library nor change it. (Behind a reverse proxy, serve on the proxy's
  side with a password: a loopback app refuses the public Host a proxy passes on.)
- `UploadQuota`: the bytes held by uploads in Gradio's temporary folder (ingested uploads
  are deleted at once, the rest swept after RAG_UPLOAD_MAX_AGE_S) are counted, and an
  upload that would take them past RAG_UPLOAD_QUOTA_BYTES is refused before it is read.
- `BusyAnswer`: when the queue is full, Gradio answers 503 "Queue is full", which its
  browser client and gradio_client both replace by a fixed "busy, try again" sentence;
  this rewrites it into a refusal those clients do show (Gradio's validation refusal,
  HTTP 422) saying when to retry, estimated from the rate answers recently finished at,
  and puts the same figure in a Retry-After header.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _authority(url: str) -> str | None:
    """host[:port] of an absolute URL, lower-cased; None for anything else ('null')."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.rsplit("@", 1)[-1].lower()


def _hostname(authority: str) -> str:
    return urlsplit(f"//{authority}").hostname or ""


def _is_upload(scope: Scope) -> bool:
    return scope["method"] == "POST" and str(scope["path"]).rstrip("/").endswith("/upload")


class OriginGuard:
    """Refuses cross-origin requests that change something (see the module's text)."""

    def __init__(self, app: ASGIApp, *, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    def refusal(self, scope: Scope) -> str | None:
        if scope["type"] != "http":
            return None
        headers = Headers(scope=scope)
        host = headers.get("host", "").lower()
        if self.loopback_only and host and not is_loopback(_hostname(host)):
            return f"this app answers on its loopback address only, not as {host}"
        if scope["method"] not in UNSAFE_METHODS:
            return None
        page = headers.get("origin") or headers.get("referer")
        if page is None:
            return None  # a program, not a web page
        if _authority(page) != host:
            return "requests from other web pages are refused; open the app itself to upload"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        await PlainTextResponse(f"Refused: {reason}.", status_code=403)(scope, receive, send)


class UploadLedger:
    """The uploads the app holds in its temporary folder, and the bytes of uploads being
    received; a file deleted since (ingested, swept) stops counting."""

    def __init__(self, quota_bytes: int) -> None:
        self.quota_bytes = quota_bytes
        self._files: dict[str, int] = {}
        self._receiving = 0
        self._lock = threading.Lock()

    def held(self) -> int:
        with self._lock:
            for path in list(self._files):
                if not os.path.isfile(path):
                    del self._files[path]
            return self._receiving + sum(self._files.values())

    def reserve(self, size: int) -> bool:
        held = self.held()
        with self._lock:
            if held + size > self.quota_bytes:
                return False
            self._receiving += size
            return True

    def settle(self, size: int, paths: list[str]) -> None:
        with self._lock:
            self._receiving -= size
            for path in paths:
                try:
                    self._files[path] = Path(path).stat().st_size
                except OSError:
                    continue


class UploadQuota:
    """Refuses an upload that would take the held uploads past the quota (see the
    module's text); counts what each accepted upload stored."""

    def __init__(self, app: ASGIApp, *, ledger: UploadLedger) -> None:
        self.app = app
        self.ledger = ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_upload(scope):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if not length.isdigit():
            response = PlainTextResponse("Uploads must state their Content-Length.", 411)
            await response(scope, receive, send)
            return
        size = int(length)
        if not self.ledger.reserve(size):
            quota = self.ledger.quota_bytes / 1e6
            response = PlainTextResponse(
                f"Upload refused: the app already holds {self.ledger.held() / 1e6:.1f} MB of "
                f"uploads not yet added (at most {quota:.0f} MB, RAG_UPLOAD_QUOTA_BYTES). "
                "Add or discard those first, or retry within the hour.",
                status_code=413,
            )
            await response(scope, receive, send)
            return
        body = bytearray()
        status = 0

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            self.ledger.settle(size, _paths(bytes(body)))


def _paths(body: bytes) -> list[str]:
    try:
        value = json.loads(body) if body else []
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


class ServiceTimes:
    """When recent answers finished and how long each took, for the retry estimate."""

    WINDOW_S = 30.0  # answers finished this recently give the rate

    def __init__(self, default_s: float, keep: int = 200) -> None:
        self.default_s = default_s
        self._took: deque[float] = deque(maxlen=keep)
        self._finished: deque[float] = deque(maxlen=keep)

    def add(self, seconds: float, now: float | None = None) -> None:
        self._took.append(seconds)
        self._finished.append(time.monotonic() if now is None else now)

    def seconds_per_answer(self, concurrency: int, now: float | None = None) -> float:
        """How often an answer finishes while the app is busy: over the last WINDOW_S when
        enough finished in it (the rate then includes Gradio's own work and the machine's
        other load), else the answers' mean duration shared among the workers."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._finished if now - t <= self.WINDOW_S]
        if len(recent) >= 5:
            return (now - recent[0]) / len(recent)
        took = list(self._took)
        mean = sum(took) / len(took) if took else self.default_s
        return mean / max(concurrency, 1)


def retry_after_s(waiting: int, seconds_per_answer: float) -> int:
    """Seconds until the waiting requests are answered (whole seconds, at least 1)."""
    return max(1, math.ceil(waiting * seconds_per_answer))


def busy_message(waiting: int, seconds: int) -> str:
    return (
        f"The app is busy ({waiting} questions are waiting). Please retry in {seconds} s: "
        "your question was not queued."
    )


class BusyAnswer:
    """Rewrites the queue's "Queue is full" refusal (see the module's text)."""

    def __init__(
        self, app: ASGIApp, *, waiting: int, seconds_per_answer: Callable[[], float]
    ) -> None:
        self.app = app
        self.waiting = waiting
        self.seconds_per_answer = seconds_per_answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not ("/queue/join" in path or "/call/" in path):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_full(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                held.append(message)  # its body is replaced below
                return
            if held:
                return
            await send(message)

        await self.app(scope, receive, hold_full)
        if held:
            seconds = retry_after_s(self.waiting, self.seconds_per_answer())
            await self.refusal(seconds)(scope, receive, send)

    def refusal(self, seconds: int) -> JSONResponse:
        detail: list[dict[str, Any]] = [
            {
                "__type__": "validate",
                "is_valid": False,
                "message": busy_message(self.waiting, seconds),
                "parameter_name": "busy",
            }
        ]
        return JSONResponse(
            {"detail": detail}, status_code=422, headers={"Retry-After": str(seconds)}
        )

"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for tests of the real client.

Implements `POST /v1/chat/completions` (JSON, or SSE chunks when `"stream": true`) and
`GET /v1/models`. Each chat request takes the next scripted response from a queue:

    server.reply("text")                 # a normal completion (streamed if asked to stream)
    server.reply("text", usage=(12, 5))  # ... reporting 12 prompt and 5 completion tokens
    server.stream(["a", "b"])            # these deltas as SSE chunks, then finish + [DONE]
    server.status(503)                   # HTTP error with an OpenAI-style error body
    server.delay(2.0)                    # answer only after 2 s (to trigger timeouts)
    server.cut_stream(["a", "b"])        # send chunks, then drop the connection
    server.context_too_long()            # HTTP 400 context_length_exceeded
    server.raw(200, b"<html>", "text/html")
    server.html_error(502)               # an nginx-style HTML error page
    server.drop()                        # close the connection without any response
    server.die(["a", "b"])               # stream these, then stop listening and hang up

With nothing left in the queue the server answers HTTP 400 "no scripted response left"
(400 so the client does not retry). Every request is recorded in `server.requests`.

Usage (`Reply.usage`, `Stream.usage`): `"auto"` (the default) reports 10 prompt tokens and
one completion token per word (per chunk for `Stream`); `(prompt, completion)` reports
those; `None` sends no usage at all. A JSON completion carries it in `usage`; a stream
sends it, as OpenAI does, only when the request asks with
`stream_options: {"include_usage": true}`: one last chunk with empty `choices` before
`[DONE]`, every earlier chunk with `"usage": null`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = [
    "ContextTooLong",
    "CutStream",
    "Delay",
    "Die",
    "Drop",
    "FakeOpenAIServer",
    "Raw",
    "RecordedRequest",
    "Reply",
    "Status",
    "Stream",
    "StreamError",
    "Usage",
]

# (prompt_tokens, completion_tokens); "auto": counted from the text; None: not reported
Usage = tuple[int, int] | Literal["auto"] | None


@dataclass(frozen=True)
class Reply:
    """A completion; as JSON, or as a stream of word chunks if the request streams."""

    text: str
    finish_reason: str | None = "stop"
    usage: Usage = "auto"


@dataclass(frozen=True)
class Stream:
    """These deltas as SSE chunks (a non-streaming request gets them joined)."""

    chunks: tuple[str, ...]
    finish_reason: str | None = "stop"  # None: end with [DONE] but no finish_reason
    pause_s: float = 0.0  # between content chunks (none before the first)
    done: bool = True  # send `data: [DONE]` at the end
    usage: Usage = "auto"


@dataclass(frozen=True)
class Status:
    """An HTTP error with an OpenAI-style JSON error body."""

    code: int
    message: str = ""
    type: str = ""
    error_code: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Delay:
    """Wait, then give `then`."""

    seconds: float
    then: Reply | Stream | Status = Reply("too late")


@dataclass(frozen=True)
class CutStream:
    """Stream some chunks, then end the connection without finish_reason or [DONE].

    `mode="abort"` closes mid chunked-encoding (the client sees a broken body);
    `mode="eof"` uses a close-delimited body and ends it cleanly (the client sees a normal
    end of stream that simply lacks the finish).
    """

    chunks: tuple[str, ...]
    mode: Literal["abort", "eof"] = "abort"


@dataclass(frozen=True)
class StreamError:
    """Stream some chunks, then an SSE `data: {"error": ...}` event (as llama.cpp does)."""

    chunks: tuple[str, ...]
    message: str
    error_code: str | None = None


@dataclass(frozen=True)
class ContextTooLong:
    message: str = (
        "This model's maximum context length is 4096 tokens. However, your messages "
        "resulted in 5120 tokens. Please reduce the length of the messages."
    )


@dataclass(frozen=True)
class Raw:
    """Any status and body, e.g. an HTML page where JSON was expected."""

    code: int
    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Drop:
    """Read the request, then close the connection without a byte of response (as a proxy
    or a server that crashed while working does); the server goes on listening."""

    after_s: float = 0.0


@dataclass(frozen=True)
class Die:
    """The server is killed mid-answer: after `after_s` (and these stream chunks, when the
    request streams), it stops listening and drops the connection, so any retry finds
    the port closed."""

    chunks: tuple[str, ...] = ()
    after_s: float = 0.0


Action = (
    Reply | Stream | Status | Delay | CutStream | StreamError | ContextTooLong | Raw | Drop | Die
)

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
    + b"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
    * 6
)

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # the decoded JSON body, or None

    def _field(self, key: str) -> Any:
        return self.body.get(key) if isinstance(self.body, dict) else None

    @property
    def model(self) -> Any:
        return self._field("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self._field("messages")
        return messages if isinstance(messages, list) else []

    @property
    def temperature(self) -> Any:
        return self._field("temperature")

    @property
    def max_tokens(self) -> Any:
        return self._field("max_tokens")

    @property
    def stream(self) -> bool:
        return bool(self._field("stream"))

    @property
    def stream_options(self) -> Any:
        return self._field("stream_options")

    @property
    def include_usage(self) -> bool:
        options = self.stream_options
        return isinstance(options, dict) and bool(options.get("include_usage"))


@dataclass
class FakeOpenAIServer:
    """Start with `start()` or `with FakeOpenAIServer() as server:`."""

    models: Sequence[str] = ("fake-model",)
    requests: list[RecordedRequest] = field(default_factory=list)
    _queue: deque[Action] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _died: threading.Event = field(default_factory=threading.Event)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.dead:  # a Die action already closed it
            return
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting ----------------------------------------------------------------------

    def enqueue(self, *actions: Action) -> FakeOpenAIServer:
        with self._lock:
            self._queue.extend(actions)
        return self

    def reply(
        self, text: str, finish_reason: str | None = "stop", usage: Usage = "auto"
    ) -> FakeOpenAIServer:
        return self.enqueue(Reply(text, finish_reason, usage))

    def stream(
        self,
        chunks: Sequence[str],
        finish_reason: str | None = "stop",
        pause_s: float = 0.0,
        done: bool = True,
        usage: Usage = "auto",
    ) -> FakeOpenAIServer:
        return self.enqueue(Stream(tuple(chunks), finish_reason, pause_s, done, usage))

    def status(
        self,
        code: int,
        message: str = "",
        type: str = "",
        error_code: str | None = None,
        retry_after_ms: int | None = 10,
    ) -> FakeOpenAIServer:
        """An HTTP error. `retry_after_ms` (sent as `retry-after-ms`) keeps client retries
        fast; None sends no such header."""
        headers = (("retry-after-ms", str(retry_after_ms)),) if retry_after_ms is not None else ()
        return self.enqueue(Status(code, message, type, error_code, headers))

    def delay(
        self, seconds: float, then: Reply | Stream | Status | None = None
    ) -> FakeOpenAIServer:
        return self.enqueue(Delay(seconds, then or Reply("too late")))

    def cut_stream(
        self, chunks: Sequence[str], mode: Literal["abort", "eof"] = "abort"
    ) -> FakeOpenAIServer:
        return self.enqueue(CutStream(tuple(chunks), mode))

    def stream_error(
        self, chunks: Sequence[str], message: str, error_code: str | None = None
    ) -> FakeOpenAIServer:
        return self.enqueue(StreamError(tuple(chunks), message, error_code))

    def context_too_long(self, message: str | None = None) -> FakeOpenAIServer:
        return self.enqueue(ContextTooLong(message) if message else ContextTooLong())

    def raw(
        self, code: int, body: bytes, content_type: str = "application/json"
    ) -> FakeOpenAIServer:
        return self.enqueue(Raw(code, body, content_type))

    def html_error(self, code: int = 502, body: bytes = NGINX_502) -> FakeOpenAIServer:
        """An HTML error page, as a reverse proxy in front of the model sends."""
        return self.enqueue(Raw(code, body, "text/html"))

    def drop(self, after_s: float = 0.0) -> FakeOpenAIServer:
        return self.enqueue(Drop(after_s))

    def die(self, chunks: Sequence[str] = (), after_s: float = 0.0) -> FakeOpenAIServer:
        return self.enqueue(Die(tuple(chunks), after_s))

    @property
    def dead(self) -> bool:
        """Whether a `Die` action stopped the server."""
        return self._died.is_set()

    def _die(self) -> None:
        """Stop listening, from a request's thread (serve_forever runs in another)."""
        self._died.set()
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def pending(self) -> int:
        """Scripted responses not yet used."""
        with self._lock:
            return len(self._queue)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next(self) -> Action | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


# --- the HTTP side -----------------------------------------------------------------------


def _error_body(message: str, type_: str, code: str | None) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}
    ).encode()


def _usage_body(usage: tuple[int, int] | None) -> dict[str, int] | None:
    if usage is None:
        return None
    prompt, completion = usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _resolve_usage(usage: Usage, completion_tokens: int) -> tuple[int, int] | None:
    return (10, completion_tokens) if usage == "auto" else usage


def _completion(text: str, model: str, finish_reason: str | None, usage: Usage = "auto") -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
    }
    resolved = _resolve_usage(usage, len(text.split()))
    if resolved is not None:
        body["usage"] = _usage_body(resolved)
    return json.dumps(body).encode()


def _chunk(
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None,
    *,
    with_usage: bool = False,
    usage: tuple[int, int] | None = None,
) -> bytes:
    """One SSE chunk; with `with_usage` it has a `usage` field (null unless given), and
    `delta=None` makes it the usage-only chunk with empty `choices`."""
    payload: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
    }
    if delta is not None:
        payload["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    if with_usage:
        payload["usage"] = _usage_body(usage)
    return f"data: {json.dumps(payload)}\n\n".encode()


def _words(text: str) -> Iterator[str]:
    """Split text into word-sized chunks that join back to the text exactly."""
    start = 0
    for i in range(1, len(text)):
        if text[i] == " " and text[i - 1] != " ":
            yield text[start:i]
            start = i
    if start < len(text):
        yield text[start:]


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _include_usage = False  # the request asked for stream_options.include_usage
        timeout = 10  # idle keep-alive connections end on their own

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        # -- plumbing --

        def _headers(self) -> dict[str, str]:
            return {key.lower(): value for key, value in self.headers.items()}

        def _read_body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode("utf-8", "replace")

        def _send(
            self,
            code: int,
            body: bytes,
            content_type: str = "application/json",
            headers: Sequence[tuple[str, str]] = (),
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _start_sse(self, chunked: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.flush()

        def _write(self, data: bytes, chunked: bool) -> None:
            if chunked:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            else:
                self.wfile.write(data)
            self.wfile.flush()

        def _end_chunked(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        # -- routes --

        def do_GET(self) -> None:
            server._record(RecordedRequest("GET", self.path, self._headers(), None))
            if self.path.rstrip("/") == "/v1/models":
                data = [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                    for m in server.models
                ]
                self._send(200, json.dumps({"object": "list", "data": data}).encode())
            else:
                self._send(404, _error_body(f"no route {self.path}", "not_found_error", None))

        def do_POST(self) -> None:
            body = self._read_body()
            server._record(RecordedRequest("POST", self.path, self._headers(), body))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error_body(f"no route {self.path}", "not_found_error", None))
                return
            wants_stream = isinstance(body, dict) and bool(body.get("stream"))
            model = str(body.get("model", "")) if isinstance(body, dict) else ""
            options = body.get("stream_options") if isinstance(body, dict) else None
            self._include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            action = server._next()
            try:
                self._act(action, wants_stream, model)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its timeout)

        def _act(self, action: Action | None, wants_stream: bool, model: str) -> None:
            if action is None:
                self._send(
                    400,
                    _error_body("fake server: no scripted response left", "test_error", None),
                )
            elif isinstance(action, Delay):
                if server._stopping.wait(action.seconds):
                    self.close_connection = True
                    return
                self._act(action.then, wants_stream, model)
            elif isinstance(action, Status):
                message = action.message or f"fake server error {action.code}"
                type_ = action.type or _STATUS_TYPES.get(action.code, "server_error")
                self._send(
                    action.code,
                    _error_body(message, type_, action.error_code),
                    headers=action.headers,
                )
            elif isinstance(action, ContextTooLong):
                self._send(
                    400,
                    _error_body(action.message, "invalid_request_error", "context_length_exceeded"),
                )
            elif isinstance(action, Raw):
                self._send(action.code, action.body, action.content_type)
            elif isinstance(action, Reply):
                if wants_stream:
                    usage = _resolve_usage(action.usage, len(action.text.split()))
                    chunks = tuple(_words(action.text))
                    self._stream(Stream(chunks, action.finish_reason, usage=usage), model)
                else:
                    self._send(
                        200, _completion(action.text, model, action.finish_reason, action.usage)
                    )
            elif isinstance(action, Stream):
                if wants_stream:
                    self._stream(action, model)
                else:
                    text = "".join(action.chunks)
                    usage = _resolve_usage(action.usage, len(action.chunks))
                    self._send(200, _completion(text, model, action.finish_reason, usage))
            elif isinstance(action, CutStream):
                chunked = action.mode == "abort"
                self._start_sse(chunked)
                self._write(_chunk(model, {"role": "assistant", "content": ""}, None), chunked)
                for piece in action.chunks:
                    self._write(_chunk(model, {"content": piece}, None), chunked)
                self.close_connection = True  # no terminating chunk: a broken body
            elif isinstance(action, StreamError):
                self._start_sse(True)
                for piece in action.chunks:
                    self._write(_chunk(model, {"content": piece}, None), True)
                error = _error_body(action.message, "server_error", action.error_code)
                self._write(b"data: " + error + b"\n\n", True)
                self._end_chunked()
            elif isinstance(action, Drop):
                time.sleep(action.after_s)
                self._hang_up()
            elif isinstance(action, Die):
                if wants_stream and action.chunks:
                    self._start_sse(True)
                    self._write(_chunk(model, {"role": "assistant", "content": ""}, None), True)
                    for piece in action.chunks:
                        self._write(_chunk(model, {"content": piece}, None), True)
                time.sleep(action.after_s)
                server._die()
                self._hang_up()
            else:  # pragma: no cover
                raise AssertionError(action)

        def _hang_up(self) -> None:
            """Close the connection at once, mid-response, as the kernel does for a killed
            process (the request was read, so the client sees an end of stream)."""
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

        def _stream(self, action: Stream, model: str) -> None:
            with_usage = self._include_usage  # as OpenAI: usage only when asked for
            self._start_sse(True)
            first = {"role": "assistant", "content": ""}
            self._write(_chunk(model, first, None, with_usage=with_usage), True)
            for i, piece in enumerate(action.chunks):
                if i and action.pause_s and server._stopping.wait(action.pause_s):
                    self.close_connection = True
                    return
                self._write(_chunk(model, {"content": piece}, None, with_usage=with_usage), True)
            self._write(_chunk(model, {}, action.finish_reason, with_usage=with_usage), True)
            usage = _resolve_usage(action.usage, len(action.chunks))
            if with_usage and usage is not None:
                self._write(_chunk(model, None, None, with_usage=True, usage=usage), True)
            if action.done:
                self._write(b"data: [DONE]\n\n", True)
            self._end_chunked()

    return Handler

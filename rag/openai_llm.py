"""The OpenAI-compatible client of the `LLM` protocol (rag.llm): any endpoint the `openai`
package talks to. This is the only module that imports `openai`. Every failure of the
endpoint is raised as `LLMError` with a one-line reason (`ContextTooLongError` when the
prompt does not fit the model), chained to the client's exception.

Token usage: `OpenAICompatibleLLM.usage` is the running `TokenUsage` the server reported
(None until it reported any). Non-streamed completions add `response.usage`. Streams ask
for it with `stream_options={"include_usage": true}`: OpenAI then sends a last chunk with
empty `choices` that carries the usage, vLLM and Ollama (>= 0.5.2) accept the option,
llama.cpp's llama-server sends such a chunk anyway, and llama-cpp-python's server ignores
the option and sends none. Whichever chunk carries usage is counted. A server that
rejects the option (HTTP 400/422 naming `stream_options`) is asked again without it, and
no more with it. Nothing is ever estimated: a reply without usage adds nothing.

Retries are ours alone (the `openai` client is built with `max_retries=0`, so there is one
policy): `llm_max_retries` more attempts after a failure to connect, a timeout, or HTTP
408, 409, 429 and 5xx other than 501 and 505 (which say the server will never do this),
waiting as `Retry-After`/`retry-after-ms` asks (up to 60 s), else 0.5 s doubling to 8 s.
Nothing else is retried: not a 400/401/403/404/422, and not a connection lost once the
server had the request (a server killed mid-answer is reported as such, not as the
"connection refused" a retry would then meet). A stream is retried only until it opens.

Reasons are one line: an HTML error page (a proxy's 502) is reduced to its title or first
text, whitespace collapsed, at most 120 characters; a raw body never reaches a notice.
"""

from __future__ import annotations

import html
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam

from rag.errors import ConfigError, ContextTooLongError, LLMError
from rag.llm import Message, TokenUsage
from rag.settings import Settings

log = logging.getLogger(__name__)

# Sent as the API key when none is configured: local servers (llama.cpp, vLLM, Ollama)
# need none, but the client insists on a value.
NO_API_KEY = "not-needed"


_CONTEXT_OVERFLOW = re.compile(
    r"context[ _-]?(?:length|window|size)|maximum context|too many tokens"
    r"|exceeds? (?:the )?(?:available )?context|prompt is too long|input is too long"
    r"|tokens? \+ `?max_new_tokens`? must be",
    re.IGNORECASE,
)
_CONTEXT_CODES = {"context_length_exceeded", "exceed_context_size_error", "string_above_max_length"}


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


CAUSE_LIMIT = 120  # characters of a server's error message kept in a reason
_TAG = re.compile(r"<[A-Za-z!/?][^<>]{0,2000}>")
_TITLE = re.compile(r"<title\b[^>]{0,200}>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"<h1\b[^>]{0,200}>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(
    r"<!--.*?(?:-->|$)|<(script|style|head)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL
)


def short_cause(text: str, status: int | None = None, limit: int = CAUSE_LIMIT) -> str:
    """A server's error message as one short line: an HTML page (a proxy's error page) by
    its title, else its first heading, else its visible text; entities decoded, whitespace
    collapsed, a leading repeat of the status dropped ("502 Bad Gateway" -> "Bad Gateway")."""
    text = text[:65536]  # an error page is read no further
    if _TAG.search(text):
        found = _TITLE.search(text) or _HEADING.search(text)
        text = found.group(1) if found else _INVISIBLE.sub(" ", text)
        text = html.unescape(_TAG.sub(" ", text))
    text = " ".join(text.split())
    if status is not None:
        text = re.sub(rf"^(?:HTTP\s*)?{status}\b[\s:.-]*", "", text, flags=re.IGNORECASE)
    return _one_line(text, limit)


def _error_message(e: openai.APIError) -> str:
    """The server's own error message where it sent one, else the client's."""
    body = e.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            return message
        detail = body.get("detail") or body.get("error")
        if isinstance(detail, str) and detail.strip():
            return detail
    elif isinstance(body, str) and body.strip():
        return body
    return e.message


def _mentions_response_format(error: LLMError) -> bool:
    """The server rejected the response format: a 400 or 422, or the 500 that
    llama-cpp-python's server answers when its request validation fails."""
    cause = error.__cause__
    return (
        isinstance(cause, openai.APIStatusError)
        and cause.status_code in (400, 422, 500)
        and re.search(r"response_format|json_schema|json_object", _error_message(cause)) is not None
    )


_T = TypeVar("_T")

# 501 Not Implemented and 505 HTTP Version Not Supported will not change on a retry
_RETRY_STATUSES = frozenset({408, 409, 429}) | (frozenset(range(500, 600)) - {501, 505})
_BACKOFF_S, _BACKOFF_MAX_S, _RETRY_AFTER_MAX_S = 0.5, 8.0, 60.0


def _exception_names(e: BaseException | None) -> set[str]:
    """The class names in a chain of causes, matched by name so that the `openai` client's
    transport (httpx, or httpx2 in its later versions) does not matter."""
    names: set[str] = set()
    seen = 0
    while e is not None and seen < 10:
        names.update(cls.__name__ for cls in type(e).__mro__)
        e, seen = e.__cause__ or e.__context__, seen + 1
    return names


def connection_lost(e: openai.APIConnectionError) -> bool:
    """The server had the connection and dropped it before the reply was complete (killed,
    crashed, a proxy giving up), as opposed to never being reached."""
    names = _exception_names(e.__cause__)
    if names & {"ConnectError", "ConnectTimeout", "ConnectionRefusedError", "gaierror"}:
        return False
    return bool(names & {"RemoteProtocolError", "ReadError", "ConnectionResetError"})


def retryable(e: openai.OpenAIError) -> bool:
    """Whether another attempt may succeed (the module docstring has the policy)."""
    if isinstance(e, openai.APITimeoutError):
        return True
    if isinstance(e, openai.APIConnectionError):
        return not connection_lost(e)
    if isinstance(e, openai.APIStatusError):
        return e.status_code in _RETRY_STATUSES
    return False


def retry_delay(e: openai.OpenAIError, retries_done: int) -> float:
    """Seconds to wait before the next attempt: as the server asked, within a minute, else
    exponential backoff with jitter."""
    if isinstance(e, openai.APIStatusError):
        headers = e.response.headers
        for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            try:
                asked = float(headers.get(header, "")) * scale
            except ValueError:
                continue
            if 0 <= asked <= _RETRY_AFTER_MAX_S:
                return asked
    backoff = min(_BACKOFF_S * 2.0**retries_done, _BACKOFF_MAX_S)
    return backoff * (1 - 0.25 * random.random())


def _is_context_overflow(e: openai.APIError) -> bool:
    if e.code in _CONTEXT_CODES or (e.type or "") in _CONTEXT_CODES:
        return True
    return bool(_CONTEXT_OVERFLOW.search(_error_message(e)))


class OpenAICompatibleLLM:
    """An `LLM` over any OpenAI-compatible chat-completions endpoint.

    Configured from `Settings`: `llm_base_url` and `llm_model` are required, `llm_api_key`
    is optional (`NO_API_KEY` is sent without one), `llm_timeout_s` applies to each request
    (and to each wait for the next streamed chunk), `llm_max_retries` is how many more
    attempts a retryable failure gets (see the module docstring; streams are retried only
    until they open), `llm_temperature` and `llm_max_tokens` go with every request.

    `usage` is the running total of the tokens the server reported (see the module
    docstring); read it before and after some calls and take `TokenUsage.between`.
    """

    def __init__(self, settings: Settings, *, client: openai.OpenAI | None = None) -> None:
        missing = [
            env
            for env, value in (
                ("RAG_LLM_BASE_URL", settings.llm_base_url),
                ("RAG_LLM_MODEL", settings.llm_model),
            )
            if not (value and value.strip())
        ]
        if missing:
            raise ConfigError(
                "the openai backend needs "
                + " and ".join(missing)
                + " (e.g. RAG_LLM_BASE_URL=http://127.0.0.1:8080/v1 RAG_LLM_MODEL=my-model)"
            )
        assert settings.llm_base_url is not None and settings.llm_model is not None
        base_url = settings.llm_base_url.strip()
        if not re.match(r"https?://[^/\s]+", base_url, re.IGNORECASE):
            raise ConfigError(
                f"RAG_LLM_BASE_URL must be an http(s) URL such as http://127.0.0.1:8080/v1, "
                f"not {base_url!r}"
            )
        if settings.llm_timeout_s <= 0:
            raise ConfigError(f"RAG_LLM_TIMEOUT_S must be positive, not {settings.llm_timeout_s}")
        if settings.llm_max_retries < 0:
            raise ConfigError(
                f"RAG_LLM_MAX_RETRIES must be 0 or more, not {settings.llm_max_retries}"
            )
        self.base_url = base_url
        self.model = settings.llm_model.strip()
        self.timeout_s = settings.llm_timeout_s
        self.max_retries = settings.llm_max_retries
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self._usage: TokenUsage | None = None
        self._usage_lock = threading.Lock()
        self._stream_usage = True  # send stream_options.include_usage (until refused)
        self._json_formats_refused = 0  # response formats of complete_json this server refused
        api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        # max_retries=0: the client's own retries would retry what ours do not (a 501, a
        # connection lost mid-answer) and hide the first failure behind the last one
        self._client = (
            client.with_options(max_retries=0)
            if client is not None
            else openai.OpenAI(
                base_url=base_url,
                api_key=api_key or NO_API_KEY,
                timeout=settings.llm_timeout_s,
                max_retries=0,
            )
        )

    @property
    def name(self) -> str:
        return self.model

    @property
    def usage(self) -> TokenUsage | None:
        """Tokens the server reported over this client's life; None until it reported any."""
        with self._usage_lock:
            return self._usage

    def _add_usage(self, usage: TokenUsage | None) -> None:
        if usage is None:
            return
        with self._usage_lock:
            self._usage = usage if self._usage is None else self._usage + usage

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()

    def __enter__(self) -> OpenAICompatibleLLM:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAICompatibleLLM(model={self.model!r}, base_url={self.base_url!r})"

    # --- requests ---------------------------------------------------------------------

    def complete(self, messages: Sequence[Message]) -> str:
        return self._complete(messages, openai.omit)

    def complete_json(
        self, messages: Sequence[Message], schema: Mapping[str, Any], name: str
    ) -> str:
        """The reply constrained to a JSON schema where the server can do that, else as
        `complete` (the prompt then carries the schema alone).

        Tried in order, each dropped for good once this server rejects it: OpenAI's
        `json_schema` response format (OpenAI, vLLM, llama.cpp's llama-server, Ollama),
        then `json_object` with a `schema` (llama-cpp-python's server, which turns it into
        a grammar)."""
        formats: list[dict[str, Any]] = [
            {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema)}},
            {"type": "json_object", "schema": dict(schema)},
        ]
        for number, response_format in enumerate(formats):
            if number < self._json_formats_refused:
                continue
            try:
                return self._complete(messages, response_format)
            except LLMError as error:
                if not _mentions_response_format(error):
                    raise
                log.info("%s refused response format %s", self.base_url, response_format["type"])
                self._json_formats_refused = number + 1
        return self._complete(messages, openai.omit)

    def _request(self, call: Callable[[], _T]) -> _T:
        """`call` with our retry policy; any failure of the client as one `LLMError`."""
        attempt = 1
        while True:
            try:
                return call()
            except openai.OpenAIError as e:
                if attempt > self.max_retries or not retryable(e):
                    raise self._translate(e, attempt) from e
                delay = retry_delay(e, attempt - 1)
                log.info(
                    "retrying %s in %.2f s (attempt %d failed: %s)",
                    self.base_url,
                    delay,
                    attempt,
                    self._translate(e, 1).reason,
                )
                time.sleep(delay)
                attempt += 1

    def _complete(self, messages: Sequence[Message], response_format: Any) -> str:
        response = self._request(
            lambda: self._client.chat.completions.create(
                model=self.model,
                messages=_to_openai(messages),
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                stream=False,
                response_format=response_format,
            )
        )
        if isinstance(response, ChatCompletion):
            self._add_usage(TokenUsage.from_openai(response.usage))
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise LLMError(
                f"the model server at {self.base_url} sent something that is not a chat completion"
            )
        choice = response.choices[0]
        text = choice.message.content or ""
        self._check_finish(choice.finish_reason, len(text))
        if not text.strip():
            raise LLMError("empty reply")
        return text

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        chunks = self._open_stream(messages)
        n_chars = 0
        finish_reason: str | None = None
        usage: TokenUsage | None = None

        def cut_off() -> str:
            unit = "character" if n_chars == 1 else "characters"
            return f"the stream was cut off after {n_chars} {unit}"

        try:
            with chunks:
                for chunk in chunks:
                    if not isinstance(chunk, ChatCompletionChunk):
                        raise LLMError(
                            f"the model server at {self.base_url} sent a stream that is not "
                            "made of chat completion chunks"
                        )
                    # The whole request's usage: OpenAI puts it on a last chunk without
                    # choices, llama.cpp on the finishing one; the last one seen counts.
                    usage = TokenUsage.from_openai(chunk.usage) or usage
                    for choice in chunk.choices or ():
                        if choice.index != 0:
                            continue
                        delta = choice.delta.content if choice.delta else None
                        if delta:
                            n_chars += len(delta)
                            yield delta
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
        except openai.APITimeoutError as e:
            raise LLMError(f"{cut_off()} (no data within {self.timeout_s:g} s)") from e
        except openai.APIConnectionError as e:
            raise LLMError(f"connection lost mid-answer: {cut_off()}") from e
        except openai.APIError as e:  # an error event inside the stream
            if _is_context_overflow(e):
                raise self._translate(e) from e
            cause = short_cause(_error_message(e))
            raise LLMError(f"the model server failed after {n_chars} characters: {cause}") from e
        except openai.OpenAIError as e:
            raise self._translate(e) from e
        finally:
            self._add_usage(usage)  # also when cut off after the server reported it
        if finish_reason is None:
            raise LLMError(cut_off())
        self._check_finish(finish_reason, n_chars)
        if n_chars == 0:
            raise LLMError("empty reply")

    def _open_stream(self, messages: Sequence[Message]) -> openai.Stream[ChatCompletionChunk]:
        """Start a streamed completion, asking for usage unless this server refused that."""

        def create(include_usage: bool) -> openai.Stream[ChatCompletionChunk]:
            return self._client.chat.completions.create(
                model=self.model,
                messages=_to_openai(messages),
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                stream=True,
                stream_options={"include_usage": True} if include_usage else openai.omit,
            )

        if self._stream_usage:
            try:
                return self._request(lambda: create(include_usage=True))
            except LLMError as error:
                cause = error.__cause__
                if not (
                    isinstance(cause, openai.BadRequestError | openai.UnprocessableEntityError)
                    and "stream_options" in _error_message(cause)
                ):
                    raise
                log.info("%s refused stream_options: streams go uncounted", self.base_url)
                self._stream_usage = False
        return self._request(lambda: create(include_usage=False))

    def list_models(self) -> list[str]:
        """The model ids the endpoint offers (`GET /models`): a cheap health check."""
        return self._request(lambda: [model.id for model in self._client.models.list()])

    # --- errors -----------------------------------------------------------------------

    def _check_finish(self, finish_reason: str | None, n_chars: int) -> None:
        if finish_reason == "content_filter":
            raise LLMError("the model server withheld the reply (content filter)")
        if finish_reason == "length":
            log.warning(
                "the reply of %s hit the max_tokens limit (%d) after %d characters",
                self.model,
                self.max_tokens,
                n_chars,
            )

    def _translate(self, e: openai.OpenAIError, attempts: int = 1) -> LLMError:
        """One `LLMError` with a one-line reason for any error of the client."""
        error = self._reason(e)
        if attempts > 1:
            error = type(error)(f"{error.reason} ({attempts} attempts)")
        return error

    def _reason(self, e: openai.OpenAIError) -> LLMError:
        if isinstance(e, openai.APITimeoutError):
            return LLMError(f"the model server did not answer within {self.timeout_s:g} s")
        if isinstance(e, openai.APIConnectionError):
            if connection_lost(e):
                return LLMError(
                    f"connection lost mid-answer: the model server at {self.base_url} "
                    "closed it before replying"
                )
            cause = short_cause(str(e.__cause__)) if e.__cause__ else ""
            return LLMError(
                f"could not connect to {self.base_url}" + (f" ({cause})" if cause else "")
            )
        if isinstance(e, openai.APIStatusError):
            status = e.status_code
            message = short_cause(_error_message(e), status) or "no message"
            if status in (400, 413, 422) and _is_context_overflow(e):
                return ContextTooLongError(
                    f"the prompt does not fit the model's context window (HTTP {status}: {message})"
                )
            if isinstance(e, openai.RateLimitError):
                return LLMError(f"rate limited by the model server (HTTP 429): {message}")
            if isinstance(e, openai.InternalServerError):
                return LLMError(f"the model server failed (HTTP {status}): {message}")
            if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
                return LLMError(
                    f"the model server refused the API key (HTTP {status}; set "
                    f"RAG_LLM_API_KEY): {message}"
                )
            if isinstance(e, openai.NotFoundError):
                return LLMError(
                    f"not found at the model server (HTTP 404; check RAG_LLM_BASE_URL and "
                    f"RAG_LLM_MODEL={self.model}): {message}"
                )
            return LLMError(f"the model server rejected the request (HTTP {status}): {message}")
        if isinstance(e, openai.APIError):
            if _is_context_overflow(e):
                return ContextTooLongError(
                    "the prompt does not fit the model's context window "
                    f"({short_cause(_error_message(e))})"
                )
            return LLMError(f"the model server failed: {short_cause(_error_message(e))}")
        return LLMError(f"the model client failed: {short_cause(str(e)) or type(e).__name__}")


def _to_openai(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    converted: list[ChatCompletionMessageParam] = []
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "system":
            converted.append({"role": "system", "content": content})
        elif role == "user":
            converted.append({"role": "user", "content": content})
        elif role == "assistant":
            converted.append({"role": "assistant", "content": content})
        else:
            raise ValueError(f"unknown message role {role!r}")
    if not converted:
        raise ValueError("no messages to send")
    return converted

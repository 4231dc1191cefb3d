"""The real `openai` client, through OpenAICompatibleLLM, over HTTP against a fake server."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer
from fakes import Broken, QueuedLLM
from helpers import llm_settings
from pydantic import SecretStr

from rag.errors import ConfigError, ContextTooLongError, LLMError
from rag.llm import LLM, Message, system, user
from rag.openai_llm import NO_API_KEY, OpenAICompatibleLLM, short_cause
from rag.settings import Settings

MESSAGES: list[Message] = [system("You are terse."), user("Say hello.")]


@pytest.fixture(autouse=True)
def _no_ambient_keys(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and endpoints from the developer's shell must not leak into offline tests."""
    if request.node.get_closest_marker("live"):
        return
    for var in ("OPENAI_API_KEY", "RAG_LLM_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID"):
        monkeypatch.delenv(var, raising=False)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- configuration ------------------------------------------------------------------------


def test_satisfies_the_llm_protocol(llm: OpenAICompatibleLLM) -> None:
    as_protocol: LLM = llm
    assert as_protocol.name == "fake-model"


@pytest.mark.parametrize(
    ("base_url", "model", "named"),
    [
        (None, "m", ["RAG_LLM_BASE_URL"]),
        ("http://127.0.0.1:1/v1", None, ["RAG_LLM_MODEL"]),
        (None, None, ["RAG_LLM_BASE_URL", "RAG_LLM_MODEL"]),
        ("http://127.0.0.1:1/v1", "  ", ["RAG_LLM_MODEL"]),
    ],
)
def test_missing_endpoint_or_model_is_a_config_error(
    base_url: str | None, model: str | None, named: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        OpenAICompatibleLLM(llm_settings(base_url, llm_model=model))
    for env in named:
        assert env in str(info.value)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="RAG_LLM_BASE_URL"):
        OpenAICompatibleLLM(llm_settings("127.0.0.1:8080/v1"))


# --- completion -------------------------------------------------------------------------


def test_complete_sends_the_prompt_and_settings(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.reply("Hello there [1].")
    assert llm.complete(MESSAGES) == "Hello there [1]."
    (request,) = fake_openai.chat_requests
    assert request.model == "fake-model"
    assert request.messages == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello."},
    ]
    assert request.temperature == 0.0
    assert request.max_tokens == 123
    assert request.stream is False
    assert request.headers.get("authorization") == f"Bearer {NO_API_KEY}"


def test_configured_api_key_is_sent(fake_openai: FakeOpenAIServer) -> None:
    settings = llm_settings(fake_openai.base_url, llm_api_key=SecretStr("sk-test-123"))
    fake_openai.reply("ok")
    with OpenAICompatibleLLM(settings) as client:
        client.complete(MESSAGES)
    assert fake_openai.chat_requests[0].headers.get("authorization") == "Bearer sk-test-123"


def test_empty_reply_is_an_error(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    fake_openai.reply("   ")
    with pytest.raises(LLMError, match="empty reply"):
        llm.complete(MESSAGES)


def test_content_filter_is_an_error(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.reply("partial", finish_reason="content_filter")
    with pytest.raises(LLMError, match="content filter"):
        llm.complete(MESSAGES)


def test_reply_cut_at_max_tokens_is_returned_with_a_warning(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.reply("A long answer that", finish_reason="length")
    assert llm.complete(MESSAGES) == "A long answer that"
    assert "max_tokens" in caplog.text


def test_non_json_reply_is_an_error(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.raw(200, b"<html>hello</html>", "text/html")
    with pytest.raises(LLMError, match="not a chat completion"):
        llm.complete(MESSAGES)


def test_list_models(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    assert llm.list_models() == ["fake-model"]


# --- streaming ----------------------------------------------------------------------------


def test_stream_yields_deltas_in_order(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.stream(["Pluto ", "is a dwarf ", "planet [1]", "."])
    assert list(llm.stream(MESSAGES)) == ["Pluto ", "is a dwarf ", "planet [1]", "."]
    assert fake_openai.chat_requests[0].stream is True


def test_stream_arrives_incrementally(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    """The first delta is available before the server has sent the rest."""
    fake_openai.stream(["first", " second", " third"], pause_s=0.3)
    started = time.monotonic()
    deltas = llm.stream(MESSAGES)
    assert next(deltas) == "first"
    first_after = time.monotonic() - started
    assert list(deltas) == [" second", " third"]
    total = time.monotonic() - started
    assert total >= 0.6
    assert first_after < total - 0.45


def test_stream_without_finish_reason_is_an_error(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.stream(["Hello", " world"], finish_reason=None)
    received: list[str] = []
    with pytest.raises(LLMError, match="cut off after 11 characters"):
        for delta in llm.stream(MESSAGES):
            received.append(delta)
    assert received == ["Hello", " world"]


@pytest.mark.parametrize("mode", ["abort", "eof"])
def test_stream_cut_midway_is_an_error(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM, mode: str
) -> None:
    fake_openai.cut_stream(["Pluto ", "is"], mode=mode)  # type: ignore[arg-type]
    received: list[str] = []
    with pytest.raises(LLMError, match="the stream was cut off after 8 characters") as info:
        for delta in llm.stream(MESSAGES):
            received.append(delta)
    assert received == ["Pluto ", "is"]
    assert not isinstance(info.value, ContextTooLongError)


def test_stream_error_event_is_an_error(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.stream_error(["abc"], "out of memory")
    with pytest.raises(LLMError, match="failed after 3 characters: out of memory"):
        list(llm.stream(MESSAGES))


def test_stream_error_event_about_context_is_context_too_long(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.stream_error([], "the request exceeds the available context size")
    with pytest.raises(ContextTooLongError):
        list(llm.stream(MESSAGES))


def test_empty_stream_is_an_error(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    fake_openai.stream([])
    with pytest.raises(LLMError, match="empty reply"):
        list(llm.stream(MESSAGES))


def test_stream_of_a_plain_reply(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    fake_openai.reply("one two three")
    assert "".join(llm.stream(MESSAGES)) == "one two three"


def test_stopping_a_stream_early_releases_it(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.stream(["a", "b", "c"]).reply("next")
    deltas = llm.stream(MESSAGES)
    assert next(deltas) == "a"
    deltas.close()  # type: ignore[attr-defined]
    assert llm.complete(MESSAGES) == "next"


# --- faults ------------------------------------------------------------------------------


def test_timeout(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.delay(3.0)
    settings = llm_settings(fake_openai.base_url, llm_timeout_s=0.3, llm_max_retries=0)
    started = time.monotonic()
    with OpenAICompatibleLLM(settings) as client, pytest.raises(LLMError) as info:
        client.complete(MESSAGES)
    assert time.monotonic() - started < 2.5
    assert info.value.reason == "the model server did not answer within 0.3 s"
    assert info.value.__cause__ is not None


def test_timeout_while_streaming(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.stream(["a", "b"], pause_s=2.0)
    settings = llm_settings(fake_openai.base_url, llm_timeout_s=0.3)
    with OpenAICompatibleLLM(settings) as client, pytest.raises(LLMError) as info:
        list(client.stream(MESSAGES))
    assert "cut off after 1 character (no data within 0.3 s)" in info.value.reason


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with OpenAICompatibleLLM(llm_settings(url)) as client, pytest.raises(LLMError) as info:
        client.complete(MESSAGES)
    assert info.value.reason.startswith(f"could not connect to {url}")
    assert "\n" not in info.value.reason
    assert info.value.__cause__ is not None


def test_connection_refused_while_streaming() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with OpenAICompatibleLLM(llm_settings(url)) as client, pytest.raises(LLMError) as info:
        list(client.stream(MESSAGES))
    assert info.value.reason.startswith(f"could not connect to {url}")


def test_rate_limited(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    fake_openai.status(429, "Rate limit reached for requests")
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    assert info.value.reason.startswith("rate limited by the model server (HTTP 429)")
    assert "Rate limit reached" in info.value.reason
    assert len(fake_openai.chat_requests) == 1  # max_retries=0


@pytest.mark.parametrize("code", [500, 502, 503])
def test_server_error(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM, code: int) -> None:
    fake_openai.status(code, "model is loading")
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    assert info.value.reason == f"the model server failed (HTTP {code}): model is loading"
    assert not isinstance(info.value, ContextTooLongError)


def test_server_error_when_streaming(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.status(503)
    with pytest.raises(LLMError, match=r"HTTP 503"):
        list(llm.stream(MESSAGES))


def test_context_too_long(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    fake_openai.context_too_long()
    with pytest.raises(ContextTooLongError) as info:
        llm.complete(MESSAGES)
    assert "context window" in info.value.reason
    assert "maximum context length is 4096 tokens" in info.value.reason
    assert len(fake_openai.chat_requests) == 1  # a 400 is not retried


def test_context_too_long_when_streaming(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.context_too_long()
    with pytest.raises(ContextTooLongError):
        list(llm.stream(MESSAGES))


def test_context_too_long_recognised_by_message_alone(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.status(400, "the request exceeds the available context size, try increasing it")
    with pytest.raises(ContextTooLongError):
        llm.complete(MESSAGES)


def test_other_bad_request_is_not_context_too_long(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.status(400, "temperature must be between 0 and 2")
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    assert not isinstance(info.value, ContextTooLongError)
    assert info.value.reason == (
        "the model server rejected the request (HTTP 400): temperature must be between 0 and 2"
    )


def test_unknown_model(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    fake_openai.status(404, "model 'fake-model' not found")
    with pytest.raises(LLMError, match=r"HTTP 404.*RAG_LLM_MODEL=fake-model"):
        llm.complete(MESSAGES)


def test_bad_api_key(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    fake_openai.status(401, "Incorrect API key provided")
    with pytest.raises(LLMError, match=r"HTTP 401.*RAG_LLM_API_KEY"):
        llm.complete(MESSAGES)


def test_retries_actually_retry(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.status(503).reply("second time lucky")
    with OpenAICompatibleLLM(llm_settings(fake_openai.base_url, llm_max_retries=1)) as client:
        assert client.complete(MESSAGES) == "second time lucky"
    assert len(fake_openai.chat_requests) == 2
    assert fake_openai.chat_requests[0].messages == fake_openai.chat_requests[1].messages


def test_retries_give_up(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.status(429).status(429).status(429).reply("never reached")
    with (
        OpenAICompatibleLLM(llm_settings(fake_openai.base_url, llm_max_retries=2)) as client,
        pytest.raises(LLMError, match=r"HTTP 429"),
    ):
        client.complete(MESSAGES)
    assert len(fake_openai.chat_requests) == 3
    assert fake_openai.pending == 1


def test_streams_are_retried_before_the_first_chunk(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.status(500).stream(["ok"])
    with OpenAICompatibleLLM(llm_settings(fake_openai.base_url, llm_max_retries=1)) as client:
        assert list(client.stream(MESSAGES)) == ["ok"]
    assert len(fake_openai.chat_requests) == 2


# --- one-line reasons, our retry policy, a server that dies --------------------------------

NGINX_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body></html>"
)


@pytest.mark.parametrize(
    ("text", "status", "expected"),
    [
        (NGINX_PAGE, 502, "Bad Gateway"),
        (NGINX_PAGE, None, "502 Bad Gateway"),
        (
            "<!DOCTYPE html><html><body><h1>Service &amp; model\n down</h1><p>x</p>",
            503,
            "Service & model down",
        ),
        (
            "<html><head><style>p {color: red}</style></head><body><p>Upstream\t timed   out</p>"
            "<!-- secret --></body></html>",
            504,
            "Upstream timed out",
        ),
        ("model is\n  loading", 503, "model is loading"),
        ("a < b and c > d", None, "a < b and c > d"),  # no tags: left as written
        ("x" * 500, None, "x" * 119 + "…"),
    ],
)
def test_short_cause(text: str, status: int | None, expected: str) -> None:
    assert short_cause(text, status) == expected


def test_an_html_error_page_becomes_a_one_line_reason(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.html_error(502)
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    # before: "the model server failed (HTTP 502): <html> <head><title>502 Bad Gateway</title>..."
    assert info.value.reason == "the model server failed (HTTP 502): Bad Gateway"
    fake_openai.html_error(502)
    with pytest.raises(LLMError) as info:
        list(llm.stream(MESSAGES))
    assert info.value.reason == "the model server failed (HTTP 502): Bad Gateway"


def test_a_long_error_message_is_capped(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.status(400, "bad value: " + "word " * 200)
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    prefix = "the model server rejected the request (HTTP 400): "
    assert info.value.reason.startswith(prefix + "bad value: word")
    assert len(info.value.reason) <= len(prefix) + 120


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422, 501, 505])
def test_statuses_that_cannot_change_are_not_retried(
    fake_openai: FakeOpenAIServer, code: int
) -> None:
    fake_openai.status(code).reply("never reached")
    with (
        OpenAICompatibleLLM(llm_settings(fake_openai.base_url, llm_max_retries=2)) as client,
        pytest.raises(LLMError, match=rf"HTTP {code}") as info,
    ):
        client.complete(MESSAGES)
    assert len(fake_openai.chat_requests) == 1  # before: a 501 was sent 3 times
    assert "attempts" not in info.value.reason


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(fake_openai: FakeOpenAIServer, code: int) -> None:
    fake_openai.status(code).status(code).status(code).reply("never reached")
    with (
        OpenAICompatibleLLM(llm_settings(fake_openai.base_url, llm_max_retries=2)) as client,
        pytest.raises(LLMError, match=rf"HTTP {code}.*\(3 attempts\)$"),
    ):
        client.complete(MESSAGES)
    assert len(fake_openai.chat_requests) == 3


def test_the_retry_policy_is_ours_alone(fake_openai: FakeOpenAIServer) -> None:
    import openai

    settings = llm_settings(fake_openai.base_url, llm_max_retries=3)
    with OpenAICompatibleLLM(settings) as client:
        assert client._client.max_retries == 0
        assert client.max_retries == 3
    given = openai.OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=5)
    with OpenAICompatibleLLM(settings, client=given) as client:
        assert client._client.max_retries == 0


def test_retries_wait_as_the_server_asks(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.status(503, retry_after_ms=400).reply("ok")
    started = time.monotonic()
    with OpenAICompatibleLLM(llm_settings(fake_openai.base_url, llm_max_retries=1)) as client:
        assert client.complete(MESSAGES) == "ok"
    assert time.monotonic() - started >= 0.4


def test_connection_refused_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rag.openai_llm._BACKOFF_S", 0.01)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    settings = llm_settings(url, llm_max_retries=2)
    with OpenAICompatibleLLM(settings) as client, pytest.raises(LLMError) as info:
        client.complete(MESSAGES)
    assert info.value.reason.startswith(f"could not connect to {url}")
    assert info.value.reason.endswith("(3 attempts)")


def test_a_server_killed_mid_answer_is_reported_as_such(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.die(after_s=0.1)
    settings = llm_settings(fake_openai.base_url, llm_max_retries=2)
    with OpenAICompatibleLLM(settings) as client, pytest.raises(LLMError) as info:
        client.complete(MESSAGES)
    assert fake_openai.dead
    # before: retried into "could not connect to ... ([Errno 111] Connection refused)"
    assert info.value.reason == (
        f"connection lost mid-answer: the model server at {fake_openai.base_url} "
        "closed it before replying"
    )
    assert len(fake_openai.chat_requests) == 1


def test_a_server_killed_mid_stream_is_reported_as_such(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.die(["Armenia", " froze"])
    received: list[str] = []
    settings = llm_settings(fake_openai.base_url, llm_max_retries=2)
    with OpenAICompatibleLLM(settings) as client, pytest.raises(LLMError) as info:
        received.extend(client.stream(MESSAGES))
    assert received == ["Armenia", " froze"]
    assert info.value.reason == (
        "connection lost mid-answer: the stream was cut off after 13 characters"
    )


def test_a_connection_lost_mid_answer_is_not_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.drop().reply("not asked for")  # the server lives on
    settings = llm_settings(fake_openai.base_url, llm_max_retries=2)
    with OpenAICompatibleLLM(settings) as client, pytest.raises(LLMError) as info:
        client.complete(MESSAGES)
    assert info.value.reason.startswith("connection lost mid-answer")
    assert fake_openai.pending == 1


def test_errors_are_chained(fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM) -> None:
    import openai

    fake_openai.status(503)
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    assert isinstance(info.value.__cause__, openai.InternalServerError)


# --- the fake LLM used by other tests -------------------------------------------------------


def test_queued_llm_fake() -> None:
    fake = QueuedLLM(["one two", ["a", "b"], LLMError("down"), Broken(("x",), LLMError("cut"))])
    as_protocol: LLM = fake
    assert as_protocol.complete(MESSAGES) == "one two"
    assert list(fake.stream(MESSAGES)) == ["a", "b"]
    with pytest.raises(LLMError, match="down"):
        fake.complete(MESSAGES)
    received: list[str] = []
    with pytest.raises(LLMError, match="cut"):
        received.extend(fake.stream(MESSAGES))
    assert len(fake.calls) == 4
    assert fake.calls[0][1]["content"] == "Say hello."
    with pytest.raises(AssertionError, match="no scripted reply"):
        fake.complete(MESSAGES)


def test_queued_llm_streams_words() -> None:
    fake = QueuedLLM(["Pluto is small."])
    deltas = list(fake.stream(MESSAGES))
    assert deltas == ["Pluto", " is", " small."]


# --- a real endpoint ------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("RAG_LLM_BASE_URL"), reason="RAG_LLM_BASE_URL is not set")
def test_live_tiny_completion() -> None:
    settings = Settings(llm_max_tokens=16, llm_max_retries=1)
    if not settings.llm_model:
        pytest.skip("RAG_LLM_MODEL is not set")
    with OpenAICompatibleLLM(settings) as client:
        reply = client.complete([user("Reply with the single word: pong")])
        assert reply.strip()
        assert "".join(client.stream([user("Reply with the single word: pong")])).strip()


# --- replies held to a JSON schema (the judge) ---------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"claims": {"type": "array", "items": {"type": "string"}}},
    "required": ["claims"],
}


def response_formats(server: FakeOpenAIServer) -> list[Any]:
    return [r.body.get("response_format") for r in server.chat_requests]


def test_complete_json_sends_the_schema(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.reply('{"claims": []}')
    assert llm.complete_json([user("x")], SCHEMA, "ClaimsReply") == '{"claims": []}'
    assert response_formats(fake_openai) == [
        {"type": "json_schema", "json_schema": {"name": "ClaimsReply", "schema": SCHEMA}}
    ]
    fake_openai.reply("plain")
    llm.complete([user("x")])
    assert "response_format" not in fake_openai.chat_requests[-1].body  # only when asked


def test_complete_json_falls_back_to_what_the_server_supports(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    # llama-cpp-python's server (0.3.36): json_schema refused with a 500, json_object with
    # a schema taken
    message = "1 validation error: ('body', 'response_format', 'type'): Input should be 'text'"
    fake_openai.status(500, message)  # (the fixture's client does not retry)
    fake_openai.reply('{"claims": ["a"]}')
    fake_openai.reply('{"claims": ["b"]}')
    assert llm.complete_json([user("x")], SCHEMA, "ClaimsReply") == '{"claims": ["a"]}'
    assert llm.complete_json([user("y")], SCHEMA, "ClaimsReply") == '{"claims": ["b"]}'
    object_format = {"type": "json_object", "schema": SCHEMA}
    assert [f["type"] for f in response_formats(fake_openai)] == [
        "json_schema",
        "json_object",
        "json_object",  # the refused format is not tried again on this client
    ]
    assert response_formats(fake_openai)[-1] == object_format


def test_complete_json_without_any_format_support_sends_the_prompt_alone(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.status(400, "Unknown parameter: response_format")
    fake_openai.status(400, "Unknown parameter: response_format")
    fake_openai.reply('{"claims": []}')
    fake_openai.reply('{"claims": []}')
    llm.complete_json([user("x")], SCHEMA, "ClaimsReply")
    llm.complete_json([user("x")], SCHEMA, "ClaimsReply")
    assert response_formats(fake_openai) == [
        {"type": "json_schema", "json_schema": {"name": "ClaimsReply", "schema": SCHEMA}},
        {"type": "json_object", "schema": SCHEMA},
        None,
        None,
    ]


def test_complete_json_does_not_hide_other_errors(
    fake_openai: FakeOpenAIServer, llm: OpenAICompatibleLLM
) -> None:
    fake_openai.status(400, "messages: too few")
    with pytest.raises(LLMError, match="too few"):
        llm.complete_json([user("x")], SCHEMA, "ClaimsReply")
    assert len(fake_openai.chat_requests) == 1

"""Token usage reported by the server, counted by OpenAICompatibleLLM (real `openai`
client over HTTP against the fake server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer

from rag.errors import LLMError
from rag.llm import Message, TokenUsage, user
from rag.openai_llm import OpenAICompatibleLLM

MESSAGES: list[Message] = [user("Say hello.")]


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "RAG_LLM_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID"):
        monkeypatch.delenv(var, raising=False)


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-model",
        "choices": choices,
        **extra,
    }


# --- TokenUsage ---------------------------------------------------------------------------


def test_token_usage_adds_and_differences() -> None:
    a = TokenUsage(10, 4, 1)
    b = TokenUsage(5, 1, 1)
    assert a + b == TokenUsage(15, 5, 2)
    assert (a + b) - a == b
    assert (a + b).total_tokens == 20
    assert TokenUsage.between(None, None) is None
    assert TokenUsage.between(None, a) == a
    assert TokenUsage.between(a, a + b) == b
    assert TokenUsage.between(a, a) is None  # nothing reported in between: not "0 tokens"


# --- non-streamed -------------------------------------------------------------------------


def test_completions_add_the_reported_usage(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    assert llm.usage is None
    fake_openai.reply("Hello there.", usage=(12, 5))
    fake_openai.reply("Hi.", usage=(7, 2))
    llm.complete(MESSAGES)
    assert llm.usage == TokenUsage(12, 5, 1)
    before = llm.usage
    llm.complete(MESSAGES)
    assert llm.usage == TokenUsage(19, 7, 2)
    assert TokenUsage.between(before, llm.usage) == TokenUsage(7, 2, 1)


def test_a_reply_without_usage_adds_nothing(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply("Hello.", usage=None)
    assert llm.complete(MESSAGES) == "Hello."
    assert llm.usage is None  # never estimated
    fake_openai.reply("Hello.", usage=(3, 1))
    before = llm.usage
    llm.complete(MESSAGES)
    fake_openai.reply("Hello.", usage=None)
    middle = llm.usage
    llm.complete(MESSAGES)
    assert TokenUsage.between(before, middle) == TokenUsage(3, 1, 1)
    assert TokenUsage.between(middle, llm.usage) is None


def test_failed_requests_add_nothing(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.status(500)
    with pytest.raises(LLMError):
        llm.complete(MESSAGES)
    assert llm.usage is None


def test_an_empty_reply_still_counts_the_tokens_it_cost(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply("", usage=(40, 0))
    with pytest.raises(LLMError, match="empty reply"):
        llm.complete(MESSAGES)
    assert llm.usage == TokenUsage(40, 0, 1)


def test_usage_that_is_not_counts_is_ignored(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": None, "completion_tokens": 3, "total_tokens": 3},
    }
    fake_openai.raw(200, json.dumps(body).encode())
    assert llm.complete(MESSAGES) == "Hi."
    assert llm.usage is None


# --- streamed -----------------------------------------------------------------------------


def test_streams_ask_for_usage_and_count_the_final_chunk(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply("Hello there, friend.", usage=(30, 4))
    assert "".join(llm.stream(MESSAGES)) == "Hello there, friend."
    [request] = fake_openai.chat_requests
    assert request.stream and request.include_usage
    assert llm.usage == TokenUsage(30, 4, 1)


def test_a_stream_without_usage_adds_nothing(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.stream(["Hello", " there."], usage=None)
    assert "".join(llm.stream(MESSAGES)) == "Hello there."
    assert llm.usage is None


def test_usage_on_the_finishing_chunk_is_counted_too(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    """llama.cpp puts the usage on the chunk that carries finish_reason."""
    usage = {"prompt_tokens": 21, "completion_tokens": 2, "total_tokens": 23}
    body = sse(
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({"content": "."}),
        chunk({}, "stop", usage=usage),
    )
    fake_openai.raw(200, body, "text/event-stream")
    assert "".join(llm.stream(MESSAGES)) == "Hi."
    assert llm.usage == TokenUsage(21, 2, 1)


def test_a_server_refusing_stream_options_is_asked_without_them(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.status(400, "Unrecognized request argument supplied: stream_options")
    fake_openai.reply("Hello.")
    fake_openai.reply("Again.")
    assert "".join(llm.stream(MESSAGES)) == "Hello."
    assert "".join(llm.stream(MESSAGES)) == "Again."
    first, second, third = fake_openai.chat_requests
    assert first.include_usage
    assert second.stream_options is None and third.stream_options is None  # remembered
    assert llm.usage is None  # such a server sends no usage in streams


def test_other_bad_requests_are_not_retried(
    llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.status(400, "bad temperature")
    with pytest.raises(LLMError, match="bad temperature"):
        "".join(llm.stream(MESSAGES))
    assert len(fake_openai.chat_requests) == 1


def test_a_cut_stream_adds_nothing(llm: OpenAICompatibleLLM, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.cut_stream(["Hel", "lo"])
    with pytest.raises(LLMError, match="cut off"):
        "".join(llm.stream(MESSAGES))
    assert llm.usage is None

"""The language-model seam: a narrow `LLM` protocol, the messages it takes and the token
usage it reports. The OpenAI-compatible client is rag.openai_llm, the only module that
imports `openai` (loaded only when a model is used: search and the extractive answerer
never pay for it). Everything else talks to an `LLM`, which tests replace with a fake."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from openai.types.completion_usage import CompletionUsage

__all__ = ["LLM", "Message", "StructuredLLM", "TokenUsage", "assistant", "system", "user"]


class Message(TypedDict):
    """One chat message, in the shape the OpenAI API uses."""

    role: Literal["system", "user", "assistant"]
    content: str


def system(content: str) -> Message:
    return {"role": "system", "content": content}


def user(content: str) -> Message:
    return {"role": "user", "content": content}


def assistant(content: str) -> Message:
    return {"role": "assistant", "content": content}


@dataclass(frozen=True)
class TokenUsage:
    """Tokens a server reported. `responses` counts the replies that carried usage, so a
    difference with `responses == 0` means "nothing reported", not "zero tokens"."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    responses: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.responses + other.responses,
        )

    def __sub__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.responses - other.responses,
        )

    @staticmethod
    def between(before: TokenUsage | None, after: TokenUsage | None) -> TokenUsage | None:
        """What was reported between two readings of `usage`; None when nothing was."""
        if after is None:
            return None
        spent = after - before if before is not None else after
        return spent if spent.responses > 0 else None

    @staticmethod
    def from_openai(usage: CompletionUsage | None) -> TokenUsage | None:
        """The usage of one reply; None where the server sent none or not as numbers."""
        if usage is None:
            return None
        prompt = _count(getattr(usage, "prompt_tokens", None))
        # some servers leave completion_tokens out when nothing was generated
        completion = _count(getattr(usage, "completion_tokens", None) or 0)
        if prompt is None or completion is None:
            return None
        return TokenUsage(prompt, completion, 1)


def _count(value: object) -> int | None:
    """A token count as the server sent it, or None if it is not a count."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


class LLM(Protocol):
    """What the answerer needs from a language model."""

    @property
    def name(self) -> str:
        """A short label for notices and `Answer.backend`, e.g. the model name."""
        ...

    def complete(self, messages: Sequence[Message]) -> str:
        """The whole reply to `messages`; raises `LLMError`."""
        ...

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """The reply as text deltas, in order; raises `LLMError` while iterating, also when
        the stream ends before the model said it was finished."""
        ...


@runtime_checkable
class StructuredLLM(LLM, Protocol):
    """An LLM that can be held to a JSON schema (the judge uses it where it can)."""

    def complete_json(
        self, messages: Sequence[Message], schema: Mapping[str, Any], name: str
    ) -> str:
        """The whole reply, constrained to `schema` as far as the server allows."""
        ...

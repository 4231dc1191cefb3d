"""The answerers by name: the one place that turns the `backend` setting (or `--backend`,
or the app's choice) into an answerer and a follow-up rewriter.

Each `Kind` names an answerer, labels it for the app and builds it from the facade's
parts. A kind that calls a language model (`uses_llm`) is wrapped in `WithFallback`: when
the model fails or is not configured, the answer is the extractive one with a one-line
notice saying why, never a traceback and never an empty answer. Its follow-ups are
rewritten by the model too, falling back to the rule-based rewrite when the model fails or
its rewrite does not hold up (`rag.conversation.rewrite_problem`: it looks like an answer,
or drops what the follow-up is about); the answer's diagnostics say which.

Adding an answerer: a class implementing `rag.answer.Answerer.answer()` (and `stream()`
if it can show text as it is written), one `Kind` in `KINDS` below, and its name in the
`backend` Literal of `rag.settings.Settings` (which validates RAG_BACKEND)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.answer import Answerer, Condenser, Rewrite, Rewriter, answer_stream
from rag.conversation import Conversation, condense_heuristic, rewrite_problem
from rag.errors import ConfigError, LLMError
from rag.extractive import ExtractiveAnswerer
from rag.generative import LLMAnswerer, LLMCondenser
from rag.llm import LLM
from rag.settings import Settings
from rag.types import Answer, Passage

log = logging.getLogger(__name__)


class Parts(Protocol):
    """What an answerer is built from (`rag.assistant.Assistant` provides each lazily)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def extractive(self) -> ExtractiveAnswerer: ...

    @property
    def llm(self) -> LLM: ...

    def authors(self) -> list[str]: ...


@dataclass(frozen=True)
class Kind:
    name: str  # the value of RAG_BACKEND / --backend, and Answer.backend
    label: str  # how the app offers it
    build: Callable[[Parts], Answerer]
    uses_llm: bool = False  # calls the configured model: falls back, counts tokens


KINDS: tuple[Kind, ...] = (
    Kind("extractive", "Extractive (offline)", lambda parts: parts.extractive),
    Kind(
        "openai",
        "OpenAI-compatible LLM",
        lambda parts: LLMAnswerer(parts.llm, parts.settings.prompts_dir),
        uses_llm=True,
    ),
)
REGISTRY: dict[str, Kind] = {kind.name: kind for kind in KINDS}
FALLBACK = "extractive"  # what a failed model call is replaced by


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def choices() -> list[tuple[str, str]]:
    """(label, name) per answerer, for a radio or a dropdown."""
    return [(kind.label, kind.name) for kind in KINDS]


def kind(name: str, *, what: str = "backend") -> Kind:
    """The answerer called `name`; ConfigError naming the known ones otherwise."""
    found = REGISTRY.get(name)
    if found is None:
        *rest, last = names()
        known = f"{', '.join(rest)} or {last}" if rest else last
        raise ConfigError(f"{what} must be {known}, not {name!r}")
    return found


def uses_llm(name: str) -> bool:
    return kind(name).uses_llm


def require(name: str, parts: Parts) -> None:
    """Fail now, with the reason, when the answerer cannot work at all (a model answerer
    without an endpoint), rather than as a fallback notice on every answer."""
    if kind(name).uses_llm:
        parts.llm  # noqa: B018 - creating the client checks the settings


def build_answerer(name: str, parts: Parts) -> Answerer:
    chosen = kind(name)
    if not chosen.uses_llm:
        return chosen.build(parts)
    return WithFallback(chosen.name, lambda: chosen.build(parts), lambda: parts.extractive)


def build_condenser(name: str, parts: Parts) -> Rewriter:
    """The model's rewrite for a model answerer (rules when the model fails), else rules."""
    rules = RuleCondenser(parts.authors)
    if not kind(name).uses_llm:
        return rules
    return CondenserWithFallback(lambda: LLMCondenser(parts.llm, parts.settings.prompts_dir), rules)


class WithFallback:
    """A model answerer whose failures (endpoint unset, down, timing out, refusing, a
    stream cut midway) give the fallback's answer with a notice saying why. Text already
    streamed is superseded by that answer, as by any final Answer."""

    def __init__(
        self, name: str, primary: Callable[[], Answerer], fallback: Callable[[], Answerer]
    ) -> None:
        self.name = name
        self._primary = primary
        self._fallback = fallback

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        try:
            return self._primary().answer(question, passages)
        except (LLMError, ConfigError) as error:
            return self._fall_back(question, passages, error)

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str | Answer]:
        try:
            yield from answer_stream(self._primary(), question, passages)
        except (LLMError, ConfigError) as error:
            yield self._fall_back(question, passages, error)

    def _fall_back(
        self, question: str, passages: Sequence[Passage], error: LLMError | ConfigError
    ) -> Answer:
        reason = error.reason if isinstance(error, LLMError) else str(error)
        notice = f"The language model was not used ({reason}); this is the extractive answer."
        return dataclasses.replace(self._fallback().answer(question, passages), notice=notice)


class RuleCondenser:
    """The rule-based rewrite (`rag.conversation`); the collection's authors are known
    people, so "and Melvin?" reads as asking the same of another author."""

    def __init__(self, known_people: Callable[[], Sequence[str]]) -> None:
        self.known_people = known_people

    def condense(self, conversation: Conversation, question: str) -> str:
        previous = conversation.previous_question
        if not previous:
            return question.strip()
        return condense_heuristic(
            previous,
            question,
            previous_answer=conversation.previous_answer,
            known_people=self.known_people(),
        )

    def rewrite(self, conversation: Conversation, question: str) -> Rewrite:
        return Rewrite(self.condense(conversation, question))


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CondenserWithFallback:
    """The model's rewrite, or the rules' when the model fails or its rewrite does not hold
    up against the rules' (it looks like an answer, or drops what the follow-up and its
    context are about: `rewrite_problem`). Which happened goes to the diagnostics
    (`rewrite_failed: ...`, `rewrite_rejected: ...`); no notice, because a failing model
    fails the answer that follows too, and that notice says why."""

    def __init__(self, primary: Callable[[], Condenser], fallback: RuleCondenser) -> None:
        self._primary = primary
        self._fallback = fallback

    def condense(self, conversation: Conversation, question: str) -> str:
        return self.rewrite(conversation, question).question

    def rewrite(self, conversation: Conversation, question: str) -> Rewrite:
        previous = conversation.previous_question
        if not previous:
            return Rewrite(question.strip())
        rules = self._fallback.condense(conversation, question)
        try:
            proposed = self._primary().condense(conversation, question)
        except (LLMError, ConfigError) as error:
            reason = error.reason if isinstance(error, LLMError) else str(error)
            log.info("the model did not rewrite %r (%s); the rules did", question, reason)
            return Rewrite(rules, (f"rewrite_failed: {reason}; used the rule-based rewrite",))
        problem = rewrite_problem(
            proposed,
            question,
            rules,
            previous_question=previous,
            previous_answer=conversation.previous_answer,
            known_people=self._fallback.known_people(),
        )
        if problem is None:
            return Rewrite(proposed)
        log.info("the model's rewrite %r of %r was rejected: %s", proposed, question, problem)
        return Rewrite(
            rules,
            (
                f"rewrite_rejected: {problem}; the model's rewrite was {_clip(proposed)!r}, "
                f"used the rule-based {rules!r}",
            ),
        )

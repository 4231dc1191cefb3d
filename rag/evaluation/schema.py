"""The eval-set formats, validated on load with errors that name the line and field.

Questions (``eval/questions.jsonl``), one JSON object per line::

    {"id": "f01", "type": "factual", "question": "...",
     "evidence": ["verbatim quote from the corpus", ...],
     "answer_keys": ["short string a correct answer contains", ...],
     "gold_docs": ["doc-id", ...]}          # optional

`type` is a grouping label: the figures are given per label. The known ones (factual,
paraphrase, multi_doc, comparative, why, unanswerable) are scored as below; any other
label is scored as an answerable question (like factual) and counts in the overall
figures, with a warning when it looks like a misspelt known one ("unanswerble"). Fields
the schema does not know are kept and ignored (a warning names a likely misspelling).

* unanswerable: no evidence, no answer_keys, and a `subtype`: "near_miss" (the corpus
  has the topic but not the fact) or "off_topic" (outside the corpus altogether), so
  refusals can be read separately for the hard and the easy case;
* why ("Why ...?", "How did ...?"): answered by several reasons spread over the text, so
  no single key fits; `reasons` lists them, each a list of alternative short strings of
  which any one in an answer counts the reason as given, `evidence` one quote per
  reason, `answer_keys` empty.

`subtype` belongs to unanswerable questions only, `reasons` to why questions only.

Conversations (``eval/conversations.jsonl``): a few turns of which only the last is
scored, on its standalone rewrite and on its answer::

    {"id": "t01", "turns": ["first question", "follow-up"],
     "rewrite_keys": [["Melvin"], ["Armenia", "Yerevan"]],   # each: one alternative at least
     "rewrite_forbidden": ["Georgia"],                       # none may appear in the rewrite
     "answer_keys": ["..."], "reasons": null,                # or reasons instead of keys
     "evidence": ["verbatim quote answering the last turn"], "gold_docs": ["doc-id"]}
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rag.errors import EvalSetError
from rag.jsonlines import json_objects

log = logging.getLogger(__name__)

KNOWN_TYPES = ("factual", "paraphrase", "multi_doc", "comparative", "why", "unanswerable")
CONVERSATION_TYPE = "conversation"  # a conversation's scored turn (its own file)
UnanswerableSubtype = Literal["near_miss", "off_topic"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]
# Alternative wordings of one thing an answer (or a rewrite) must contain.
Alternatives = Annotated[tuple[Text, ...], Field(min_length=1)]


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)  # a set's own fields: kept, unused

    id: str = Field(min_length=1)
    type: Text  # a grouping label; KNOWN_TYPES have their own scoring
    # Validated even when absent, so a missing subtype or reasons is named as that field.
    subtype: UnanswerableSubtype | None = Field(default=None, validate_default=True)
    question: str = Field(min_length=3)
    evidence: tuple[str, ...] = ()
    answer_keys: tuple[str, ...] = ()
    reasons: tuple[Alternatives, ...] | None = Field(default=None, validate_default=True)
    gold_docs: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @field_validator("subtype")
    @classmethod
    def _subtype_for_unanswerable(
        cls, value: UnanswerableSubtype | None, info: ValidationInfo
    ) -> UnanswerableSubtype | None:
        kind = info.data.get("type")
        if kind == "unanswerable" and value is None:
            raise ValueError("an unanswerable question needs a subtype: near_miss or off_topic")
        if kind is not None and kind != "unanswerable" and value is not None:
            raise ValueError(f"only unanswerable questions have a subtype, not {kind}")
        return value

    @field_validator("reasons")
    @classmethod
    def _reasons_for_why(
        cls, value: tuple[tuple[str, ...], ...] | None, info: ValidationInfo
    ) -> tuple[tuple[str, ...], ...] | None:
        kind = info.data.get("type")
        if kind == "why" and not value:
            raise ValueError("a why question needs reasons: a non-empty list of key lists")
        if kind is not None and kind != "why" and value is not None:
            raise ValueError(f"only why questions have reasons, not {kind}")
        return value

    @model_validator(mode="after")
    def _evidence_matches_type(self) -> EvalQuestion:
        if self.type == CONVERSATION_TYPE:
            raise ValueError(
                "conversations go in their own file (eval/conversations.jsonl, "
                "`rag eval --conversations`), not in a question set"
            )
        if self.answerable and not self.evidence:
            raise ValueError(f"a {self.type} question needs at least one evidence quote")
        if not self.answerable and (self.evidence or self.answer_keys):
            raise ValueError("an unanswerable question has no evidence and no answer_keys")
        if self.type == "why" and self.answer_keys:
            raise ValueError("a why question is scored by its reasons; leave answer_keys empty")
        if self.reasons and len(self.reasons) != len(self.evidence):
            raise ValueError(
                f"a why question has one evidence quote per reason: {len(self.reasons)} "
                f"reasons, {len(self.evidence)} quotes"
            )
        return self


class EvalConversation(BaseModel):
    """A conversation whose last turn is scored: its rewrite, then its answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    turns: Annotated[tuple[Text, ...], Field(min_length=2)]
    rewrite_keys: Annotated[tuple[Alternatives, ...], Field(min_length=1)]
    rewrite_forbidden: tuple[Text, ...] = ()
    answer_keys: tuple[Text, ...] = ()
    reasons: Annotated[tuple[Alternatives, ...], Field(min_length=1)] | None = None
    evidence: Annotated[tuple[Text, ...], Field(min_length=1)]
    gold_docs: tuple[Text, ...] = ()

    @property
    def question(self) -> str:
        """The scored turn."""
        return self.turns[-1]

    def as_question(self) -> EvalQuestion:
        """The scored turn as a run's question of type "conversation" (already validated
        here, so built without the question file's rules)."""
        return EvalQuestion.model_construct(
            id=self.id,
            type="conversation",
            subtype=None,
            question=self.question,
            evidence=self.evidence,
            answer_keys=self.answer_keys,
            reasons=self.reasons,
            gold_docs=self.gold_docs,
        )

    @model_validator(mode="after")
    def _scorable(self) -> EvalConversation:
        if not self.answer_keys and not self.reasons:
            raise ValueError("give answer_keys, or reasons when the answer is a list")
        forbidden = [f.lower() for f in self.rewrite_forbidden]
        for number, alternatives in enumerate(self.rewrite_keys):
            if forbidden and all(any(f in a.lower() for f in forbidden) for a in alternatives):
                raise ValueError(
                    f"rewrite_keys[{number}] can never be met: every alternative contains "
                    "a rewrite_forbidden string"
                )
        return self


def close_to(name: str, known: tuple[str, ...]) -> str | None:
    """The known name `name` is likely a misspelling of, if any (None for a known name)."""
    if name in known:
        return None
    found = difflib.get_close_matches(name.lower().strip(), known, n=1, cutoff=0.75)
    return found[0] if found else None


def question_warnings(question: EvalQuestion) -> list[str]:
    """What a question holds that is accepted but probably meant otherwise."""
    warnings = []
    meant = close_to(question.type, KNOWN_TYPES)
    if meant is not None and question.type.lower().strip() != meant:
        warnings.append(
            f"type {question.type!r} is not a known type, so it is scored as an answerable "
            f"question and grouped under its own label; did you mean {meant!r}?"
        )
    elif meant is not None:  # a known type in other case or with spaces
        warnings.append(f"type {question.type!r} is grouped apart from {meant!r}; write it so")
    fields = tuple(EvalQuestion.model_fields)
    for extra in question.model_extra or {}:
        near = close_to(extra, fields)
        if near is not None:
            warnings.append(f"field {extra!r} is not used; did you mean {near!r}?")
    return warnings


def load_eval_set(path: Path) -> list[EvalQuestion]:
    return [question for _, question in numbered_eval_set(path)]


def numbered_eval_set(path: Path) -> list[tuple[int, EvalQuestion]]:
    """The questions with their line numbers, for errors found after loading."""
    return _numbered(path, EvalQuestion, "questions")


def load_conversations(path: Path) -> list[EvalConversation]:
    return [conversation for _, conversation in numbered_conversations(path)]


def numbered_conversations(path: Path) -> list[tuple[int, EvalConversation]]:
    """The conversations with their line numbers, for errors found after loading."""
    return _numbered(path, EvalConversation, "conversations")


_Record = TypeVar("_Record", EvalQuestion, EvalConversation)


def _numbered(path: Path, model: type[_Record], what: str) -> list[tuple[int, _Record]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalSetError(f"cannot read eval set {path}: {exc.strerror}") from exc
    records: list[tuple[int, _Record]] = []
    seen: set[str] = set()
    for number, raw in json_objects(text, path, EvalSetError):
        try:
            record = model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "record"
            raise EvalSetError(f"{path}:{number}: field {field!r}: {first['msg']}") from exc
        if record.id in seen:
            raise EvalSetError(f"{path}:{number}: field 'id': {record.id!r} is used twice")
        seen.add(record.id)
        if isinstance(record, EvalQuestion):
            for warning in question_warnings(record):
                log.warning("%s:%d (question %s): %s", path, number, record.id, warning)
        records.append((number, record))
    if not records:
        raise EvalSetError(f"{path} holds no {what}")
    return records

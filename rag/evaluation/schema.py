"""The eval-set format, validated on load with errors that name the line and field.

One JSON object per line::

    {"id": "f01", "type": "factual", "question": "...",
     "evidence": ["verbatim quote from the corpus", ...],
     "answer_keys": ["short string a correct answer contains", ...],
     "gold_docs": ["doc-id", ...]}          # optional

`type` is one of factual, paraphrase, multi_doc, comparative, unanswerable.
Unanswerable questions have no evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rag.errors import EvalSetError
from rag.jsonlines import json_objects

QuestionType = Literal["factual", "paraphrase", "multi_doc", "comparative", "unanswerable"]


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    type: QuestionType
    question: str = Field(min_length=3)
    evidence: tuple[str, ...] = ()
    answer_keys: tuple[str, ...] = ()
    gold_docs: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @model_validator(mode="after")
    def _evidence_matches_type(self) -> EvalQuestion:
        if self.answerable and not self.evidence:
            raise ValueError(f"a {self.type} question needs at least one evidence quote")
        if not self.answerable and (self.evidence or self.answer_keys):
            raise ValueError("an unanswerable question has no evidence and no answer_keys")
        return self


def load_eval_set(path: Path) -> list[EvalQuestion]:
    return [question for _, question in numbered_eval_set(path)]


def numbered_eval_set(path: Path) -> list[tuple[int, EvalQuestion]]:
    """The questions with their line numbers, for errors found after loading."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalSetError(f"cannot read eval set {path}: {exc.strerror}") from exc
    questions: list[tuple[int, EvalQuestion]] = []
    seen: set[str] = set()
    for number, record in json_objects(text, path, EvalSetError):
        try:
            question = EvalQuestion.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "record"
            raise EvalSetError(f"{path}:{number}: field {field!r}: {first['msg']}") from exc
        if question.id in seen:
            raise EvalSetError(f"{path}:{number}: field 'id': {question.id!r} is used twice")
        seen.add(question.id)
        questions.append((number, question))
    if not questions:
        raise EvalSetError(f"{path} holds no questions")
    return questions

"""The eval-set schemas: a bad line is refused with its line number and the field at fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.errors import EvalSetError
from rag.evaluation.schema import load_conversations, load_eval_set

WHY: dict[str, Any] = {
    "id": "w1",
    "type": "why",
    "question": "Why is Russia losing influence?",
    "evidence": ["quote one", "quote two"],
    "reasons": [["Ukraine"], ["new actors", "China"]],
}
NEAR_MISS: dict[str, Any] = {
    "id": "u1",
    "type": "unanswerable",
    "subtype": "near_miss",
    "question": "What is the population of Armenia?",
}


def _write(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("bad", "field", "why"),
    [
        ({**NEAR_MISS, "subtype": None}, "subtype", "needs a subtype"),
        ({k: v for k, v in NEAR_MISS.items() if k != "subtype"}, "subtype", "needs a subtype"),
        ({**NEAR_MISS, "subtype": "hard"}, "subtype", "'near_miss' or 'off_topic'"),
        ({**WHY, "subtype": "off_topic"}, "subtype", "only unanswerable questions"),
        ({k: v for k, v in WHY.items() if k != "reasons"}, "reasons", "needs reasons"),
        ({**WHY, "reasons": []}, "reasons", "needs reasons"),
        ({**WHY, "reasons": [["Ukraine"], []]}, "reasons.1", "at least 1"),
        ({**WHY, "reasons": [["Ukraine"], ["  "]]}, "reasons.1.0", "blank"),
        ({**NEAR_MISS, "reasons": [["x"]]}, "reasons", "only why questions"),
        ({**WHY, "answer_keys": ["Ukraine"]}, "record", "leave answer_keys empty"),
        ({**WHY, "evidence": ["quote one"]}, "record", "2 reasons, 1 quotes"),
        ({**WHY, "type": "how"}, "reasons", "only why questions have reasons, not how"),
        ({**WHY, "type": " "}, "type", "blank"),
    ],
)
def test_a_bad_question_is_named_by_line_and_field(
    tmp_path: Path, bad: dict[str, Any], field: str, why: str
) -> None:
    path = _write(tmp_path / "set.jsonl", WHY, {**bad, "id": "x2"})
    with pytest.raises(EvalSetError) as caught:
        load_eval_set(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: field {field!r}:"), message
    assert why in message


def test_good_why_and_unanswerable_questions_load(tmp_path: Path) -> None:
    off_topic = {**NEAR_MISS, "id": "u2", "subtype": "off_topic"}
    why, near, off = load_eval_set(_write(tmp_path / "set.jsonl", WHY, NEAR_MISS, off_topic))
    assert why.reasons == (("Ukraine",), ("new actors", "China")) and why.subtype is None
    assert (near.subtype, off.subtype) == ("near_miss", "off_topic")
    assert near.reasons is None and not near.answerable


CONVERSATION: dict[str, Any] = {
    "id": "x1",
    "turns": ["Who is Neil Melvin?", "Where did he work before RUSI?"],
    "rewrite_keys": [["Melvin"]],
    "answer_keys": ["SIPRI"],
    "evidence": ["Director of Research at the Stockholm International Peace Research Institute"],
}


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"turns": ["Where did he work before RUSI?"]}, "turns", "at least 2"),
        ({"rewrite_keys": [["Melvin", " "]]}, "rewrite_keys.0.1", "blank"),
        ({"rewrite_keys": [[]]}, "rewrite_keys.0", "at least 1"),
        ({"answer_keys": []}, "record", "reasons"),
        ({"reasons": []}, "reasons", "at least 1"),
        ({"reasons": [["SIPRI"], []]}, "reasons.1", "at least 1"),
        ({"rewrite_forbidden": ["melvin"]}, "record", "rewrite_keys[0] can never be met"),
        ({"speaker": "me"}, "speaker", "Extra inputs"),
    ],
)
def test_a_bad_conversation_is_named_by_line_and_field(
    tmp_path: Path, change: dict[str, Any], field: str, why: str
) -> None:
    path = _write(
        tmp_path / "conversations.jsonl", CONVERSATION, {**CONVERSATION, "id": "x2", **change}
    )
    with pytest.raises(EvalSetError) as caught:
        load_conversations(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: field {field!r}:"), message
    assert why in message


def test_a_good_conversation_loads_and_ids_are_unique(tmp_path: Path) -> None:
    (loaded,) = load_conversations(_write(tmp_path / "one.jsonl", CONVERSATION))
    assert loaded.question == CONVERSATION["turns"][-1] and loaded.reasons is None
    path = _write(tmp_path / "twice.jsonl", CONVERSATION, CONVERSATION)
    with pytest.raises(EvalSetError, match=r":2: field 'id': 'x1' is used twice"):
        load_conversations(path)


def test_any_type_label_loads_and_a_misspelt_one_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = {**NEAR_MISS, "id": "o1", "type": "people", "subtype": None, "evidence": ["q"]}
    typo = {**NEAR_MISS, "id": "u2", "type": "unanswerble", "subtype": None, "evidence": ["q"]}
    path = _write(tmp_path / "set.jsonl", own, typo)
    with caplog.at_level("WARNING", logger="rag.evaluation.schema"):
        people, misspelt = load_eval_set(path)
    assert (people.type, misspelt.type) == ("people", "unanswerble")
    assert people.answerable and misspelt.answerable
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"{path}:2 (question u2): type 'unanswerble' is not a known type")
    assert "did you mean 'unanswerable'?" in warning


def test_extra_fields_are_kept_and_ignored_and_a_misspelt_field_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = {**WHY, "source": "my notes", "difficulty": 3, "evidance": ["x"]}
    with caplog.at_level("WARNING", logger="rag.evaluation.schema"):
        (loaded,) = load_eval_set(_write(tmp_path / "set.jsonl", extra))
    assert loaded.model_extra == {"source": "my notes", "difficulty": 3, "evidance": ["x"]}
    assert loaded.evidence == ("quote one", "quote two")
    [warning] = [r.getMessage() for r in caplog.records]
    assert "field 'evidance' is not used; did you mean 'evidence'?" in warning

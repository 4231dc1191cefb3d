"""Checks on the hand-written conversations ``eval/conversations.jsonl``.

Only a conversation's last turn is scored: its standalone rewrite against rewrite_keys and
rewrite_forbidden, its answer against answer_keys or reasons. So the keys must be reachable
from the turns themselves, the forbidden strings must be context that could leak in, and
the evidence must be copied verbatim from the corpus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, collapse, corpus_texts

from rag.errors import EvalSetError
from rag.evaluation.schema import EvalConversation, load_conversations

CONVERSATIONS = load_conversations(ROOT / "eval" / "conversations.jsonl")
CORPUS = corpus_texts()
MIN_CONVERSATIONS = 22
QUOTE_MIN, QUOTE_MAX = 40, 250
IDS = [c.id for c in CONVERSATIONS]


def _holders(quote: str) -> set[str]:
    return {doc for doc, (text, _) in CORPUS.items() if collapse(quote) in text}


def test_size_and_shape() -> None:
    assert len(CONVERSATIONS) >= MIN_CONVERSATIONS
    assert len(set(IDS)) == len(IDS)
    assert all(re.fullmatch(r"c\d{2,}", i) for i in IDS), IDS
    assert all(2 <= len(c.turns) <= 3 for c in CONVERSATIONS)
    assert any(len(c.turns) == 3 for c in CONVERSATIONS), "no three-turn conversation"
    assert any(c.reasons for c in CONVERSATIONS), "no conversation scored by reasons"
    assert any(c.rewrite_forbidden for c in CONVERSATIONS), "no conversation with forbidden"


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=IDS)
def test_evidence_verbatim_in_gold_docs(conv: EvalConversation) -> None:
    assert conv.gold_docs, "a conversation without gold_docs"
    assert set(conv.gold_docs) <= set(CORPUS), "unknown doc_id in gold_docs"
    supplied: set[str] = set()
    for quote in conv.evidence:
        q = collapse(quote)
        assert QUOTE_MIN <= len(q) <= QUOTE_MAX, f"quote length {len(q)}: {q[:60]!r}"
        in_gold = _holders(quote) & set(conv.gold_docs)
        assert in_gold, f"quote not found verbatim in the gold documents: {q[:80]!r}"
        assert any(q in line for doc in in_gold for line in CORPUS[doc][1]), (
            f"quote spans more than one line/paragraph: {q[:60]!r}"
        )
        supplied |= in_gold
    assert supplied == set(conv.gold_docs), "gold doc without evidence"


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=IDS)
def test_answer_keys_and_reasons_in_evidence(conv: EvalConversation) -> None:
    evidence = [collapse(q).lower() for q in conv.evidence]
    for key in conv.answer_keys:
        assert 1 <= len(key.split()) <= 4, f"answer key too long: {key!r}"
        assert any(collapse(key).lower() in q for q in evidence), f"{key!r} not in evidence"
    if conv.reasons:
        assert len(conv.reasons) == len(evidence), "one evidence quote per reason"
        for reason, quote in zip(conv.reasons, evidence, strict=True):
            for key in reason:
                assert 1 <= len(key.split()) <= 3, f"reason key too long: {key!r}"
                k = collapse(key).lower()
                assert k in quote, f"reason key {key!r} not in its quote"
                others = [o for o in evidence if o != quote and k in o]
                assert not others, f"reason key {key!r} would also count another reason"


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=IDS)
def test_rewrite_keys_reachable_and_forbidden_from_context(conv: EvalConversation) -> None:
    turns = [t.lower() for t in conv.turns]
    for alternatives in conv.rewrite_keys:
        assert any(a.lower() in t for a in alternatives for t in turns), (
            f"no turn holds any of {alternatives}: the rewrite could not be built from them"
        )
    for forbidden in conv.rewrite_forbidden:
        f = forbidden.lower()
        assert any(f in t for t in turns[:-1]), f"{forbidden!r} is in no earlier turn"
        assert f not in turns[-1], f"{forbidden!r} is in the scored turn itself"
        clashes = [a for keys in conv.rewrite_keys for a in keys if f in a.lower()]
        assert not clashes, f"{forbidden!r} is inside rewrite keys {clashes}"


GOOD: dict[str, Any] = {
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
    path = tmp_path / "conversations.jsonl"
    lines = [GOOD, {**GOOD, "id": "x2", **change}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(EvalSetError) as caught:
        load_conversations(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: field {field!r}:"), message
    assert why in message


def test_a_good_conversation_loads_and_ids_are_unique(tmp_path: Path) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    (loaded,) = load_conversations(path)
    assert loaded.question == GOOD["turns"][-1] and loaded.reasons is None
    path.write_text((json.dumps(GOOD) + "\n") * 2, encoding="utf-8")
    with pytest.raises(EvalSetError, match=r":2: field 'id': 'x1' is used twice"):
        load_conversations(path)

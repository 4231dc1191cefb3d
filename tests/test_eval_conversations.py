"""Checks on the hand-written conversations ``eval/conversations.jsonl``.

Only a conversation's last turn is scored: its standalone rewrite against rewrite_keys and
rewrite_forbidden, its answer against answer_keys or reasons. So the keys must be reachable
from the turns themselves, the forbidden strings must be context that could leak in, and
the evidence must be copied verbatim from the corpus.
"""

from __future__ import annotations

import re

import pytest
from helpers import ROOT, collapse, corpus_texts

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
    assert all(re.fullmatch(r"t\d{2,}", i) for i in IDS), IDS
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

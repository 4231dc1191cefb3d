"""Checks on the hand-written evaluation set ``eval/questions.jsonl``.

Every evidence quote must be copied verbatim from the corpus, every answer key must be
recoverable from the evidence (the offline answerer replies with verbatim sentences), every
reason key of a why question from the quote that gives that reason, and the set must keep
its size and its mix of question types and unanswerable subtypes.
"""

import json
import re
from typing import Any

import pytest
from helpers import EVAL_SET, collapse, corpus_texts

Item = dict[str, Any]

EVAL_FILE = EVAL_SET

KEYS = {"id", "type", "question", "evidence", "answer_keys", "gold_docs"}
# Fields only some types carry (and must carry).
EXTRA_KEYS = {"unanswerable": {"subtype"}, "why": {"reasons"}}
TYPES = {"factual", "paraphrase", "multi_doc", "comparative", "why", "unanswerable"}
SUBTYPES = {"near_miss", "off_topic"}
ID_PREFIX = {
    "f": "factual",
    "p": "paraphrase",
    "m": "multi_doc",
    "c": "comparative",
    "w": "why",
    "u": "unanswerable",
}
MIN_COUNTS = {
    "factual": 27,
    "paraphrase": 29,
    "multi_doc": 6,
    "comparative": 8,
    "why": 14,
    "unanswerable": 32,
}
MIN_SUBTYPES = {"near_miss": 17, "off_topic": 12}
MIN_TOTAL = 120
MIN_PER_DOC = {"factual": 2, "paraphrase": 2}
QUOTE_MIN, QUOTE_MAX = 40, 250
REASONS_MIN, REASONS_MAX = 2, 5
# Near misses ask every kind of question, so refusing is not learnt from one wording.
NEAR_MISS_KINDS = {
    "when": r"^when\b|\bwhich year\b|\bwhat year\b",
    "how many/much": r"^how (many|much|long)\b",
    "who": r"^who\b",
    "which": r"^which\b",
    "what": r"^what\b",
    "why": r"^why\b",
}
_collapse = collapse


def _load_items() -> tuple[list[Item], list[str]]:
    """Parsed objects, plus a message for every line that is not a JSON object."""
    items: list[Item] = []
    errors: list[str] = []
    if not EVAL_FILE.is_file():
        return items, [f"missing {EVAL_FILE}"]
    with EVAL_FILE.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                errors.append(f"line {lineno} is blank")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"line {lineno} is not valid JSON: {exc}")
                continue
            if isinstance(obj, dict):
                items.append(obj)
            else:
                errors.append(f"line {lineno} is not a JSON object")
    return items, errors


CORPUS = corpus_texts()
ITEMS, PARSE_ERRORS = _load_items()
BY_TYPE: dict[str, list[Item]] = {}
for _item in ITEMS:
    BY_TYPE.setdefault(str(_item.get("type")), []).append(_item)


def _docs_with(quote: str) -> set[str]:
    q = _collapse(quote)
    return {doc for doc, (text, _) in CORPUS.items() if q in text}


def _evidence_docs(item: Item) -> set[str]:
    """The gold documents that actually hold at least one of the item's quotes."""
    found = set()
    for quote in item["evidence"]:
        found |= _docs_with(quote) & set(item["gold_docs"])
    return found


def _ids(items: list[Item]) -> list[str]:
    return [str(it.get("id")) for it in items]


def test_corpus_present() -> None:
    assert len(CORPUS) == 5, sorted(CORPUS)


def test_file_not_empty_and_every_line_parses() -> None:
    assert not PARSE_ERRORS, PARSE_ERRORS
    assert ITEMS, "eval set is empty"


@pytest.mark.parametrize("item", ITEMS, ids=_ids(ITEMS))
def test_schema(item: Item) -> None:
    keys = KEYS | EXTRA_KEYS.get(str(item.get("type")), set())
    assert set(item) == keys, f"keys differ: {sorted(set(item) ^ keys)}"
    assert isinstance(item["id"], str) and item["id"]
    assert isinstance(item["type"], str) and item["type"] in TYPES
    assert isinstance(item["question"], str) and item["question"].strip()
    for field in ("evidence", "answer_keys", "gold_docs"):
        assert isinstance(item[field], list), field
        assert all(isinstance(x, str) and x.strip() for x in item[field]), field
        assert len(set(item[field])) == len(item[field]), f"duplicates in {field}"
    assert re.fullmatch(r"[fpmcwu]\d{2,}", item["id"]), item["id"]
    assert ID_PREFIX[item["id"][0]] == item["type"], "id prefix does not match type"
    assert set(item["gold_docs"]) <= set(CORPUS), "unknown doc_id in gold_docs"


def test_ids_and_questions_unique() -> None:
    ids = [it["id"] for it in ITEMS]
    assert len(ids) == len(set(ids)), "duplicate ids"
    questions = [_collapse(it["question"]).lower() for it in ITEMS]
    assert len(questions) == len(set(questions)), "duplicate questions"


ANSWERABLE = [it for it in ITEMS if it.get("type") != "unanswerable"]
UNANSWERABLE = [it for it in ITEMS if it.get("type") == "unanswerable"]


@pytest.mark.parametrize("item", ANSWERABLE, ids=_ids(ANSWERABLE))
def test_evidence_verbatim_in_gold_doc(item: Item) -> None:
    assert item["evidence"], "answerable question without evidence"
    assert item["gold_docs"], "answerable question without gold_docs"
    for quote in item["evidence"]:
        q = _collapse(quote)
        assert QUOTE_MIN <= len(q) <= QUOTE_MAX, f"quote length {len(q)}: {q[:60]!r}"
        holders = _docs_with(quote)
        assert holders, f"quote not found verbatim in corpus: {q[:80]!r}"
        in_gold = holders & set(item["gold_docs"])
        assert in_gold, f"quote found in {sorted(holders)}, not in gold_docs: {q[:60]!r}"
        # A quote lies within one paragraph: it never spans a line break.
        assert any(q in line for doc in in_gold for line in CORPUS[doc][1]), (
            f"quote spans more than one line/paragraph: {q[:60]!r}"
        )
    # Every listed gold doc must actually supply evidence.
    assert _evidence_docs(item) == set(item["gold_docs"]), "gold doc without evidence"


@pytest.mark.parametrize("item", ANSWERABLE, ids=_ids(ANSWERABLE))
def test_answer_keys_in_evidence(item: Item) -> None:
    keys = item["answer_keys"]
    if item["type"] == "why":
        assert keys == [], "a why question is scored by its reasons"
    elif item["type"] == "comparative":
        assert len(keys) <= 3
    else:
        assert 1 <= len(keys) <= 3, "need 1-3 answer keys"
    evidence = [_collapse(q).lower() for q in item["evidence"]]
    for key in keys:
        assert 1 <= len(key.split()) <= 4, f"answer key too long: {key!r}"
        k = _collapse(key).lower()
        assert any(k in q for q in evidence), f"answer key {key!r} not in evidence"


@pytest.mark.parametrize("item", UNANSWERABLE, ids=_ids(UNANSWERABLE))
def test_unanswerable_is_empty(item: Item) -> None:
    assert item["evidence"] == []
    assert item["answer_keys"] == []
    assert item["gold_docs"] == []
    assert item["subtype"] in SUBTYPES


WHY = BY_TYPE.get("why", [])


@pytest.mark.parametrize("item", WHY, ids=_ids(WHY))
def test_why_reasons_each_given_by_their_quote(item: Item) -> None:
    reasons = item["reasons"]
    assert REASONS_MIN <= len(reasons) <= REASONS_MAX, f"{len(reasons)} reasons"
    assert len(item["evidence"]) == len(reasons), "one evidence quote per reason"
    for reason, quote in zip(reasons, item["evidence"], strict=True):
        assert isinstance(reason, list) and reason, "a reason is a non-empty list of keys"
        q = _collapse(quote).lower()
        for key in reason:
            assert isinstance(key, str) and key.strip(), f"empty key in {reason}"
            assert 1 <= len(key.split()) <= 3, f"reason key too long: {key!r}"
            k = _collapse(key).lower()
            assert any(k in text.lower() for text, _ in CORPUS.values()), f"{key!r} not in corpus"
            assert k in q, f"reason key {key!r} not in the quote that gives it: {q[:60]!r}"
            others = [o for o in item["evidence"] if o != quote and k in _collapse(o).lower()]
            assert not others, f"reason key {key!r} would also count another reason: {others}"


def test_why_reasons_often_span_documents() -> None:
    spread = [it["id"] for it in WHY if len(_evidence_docs(it)) >= 2]
    assert len(spread) >= len(WHY) // 2, f"only {spread} draw on several documents"


def test_unanswerable_subtypes() -> None:
    counts = {sub: 0 for sub in SUBTYPES}
    for item in UNANSWERABLE:
        counts[item["subtype"]] += 1
    for subtype, minimum in MIN_SUBTYPES.items():
        assert counts[subtype] >= minimum, f"{subtype}: {counts[subtype]} < {minimum}"


def test_near_misses_ask_every_kind_of_question() -> None:
    asked = {
        kind
        for item in UNANSWERABLE
        if item["subtype"] == "near_miss"
        for kind, pattern in NEAR_MISS_KINDS.items()
        if re.search(pattern, item["question"].lower())
    }
    assert asked == set(NEAR_MISS_KINDS), f"missing: {sorted(set(NEAR_MISS_KINDS) - asked)}"


def test_counts_per_type() -> None:
    assert len(ITEMS) >= MIN_TOTAL
    for typ, minimum in MIN_COUNTS.items():
        got = len(BY_TYPE.get(typ, []))
        assert got >= minimum, f"{typ}: {got} < {minimum}"


@pytest.mark.parametrize("typ", sorted(MIN_PER_DOC))
def test_single_fact_questions_cover_every_document(typ: str) -> None:
    per_doc = {doc: 0 for doc in CORPUS}
    for item in BY_TYPE.get(typ, []):
        for doc in item["gold_docs"]:
            per_doc[doc] += 1
    thin = {doc: n for doc, n in per_doc.items() if n < MIN_PER_DOC[typ]}
    assert not thin, f"documents with too few {typ} questions: {thin}"


MULTI = BY_TYPE.get("multi_doc", [])
COMPARATIVE = BY_TYPE.get("comparative", [])


@pytest.mark.parametrize("item", MULTI, ids=_ids(MULTI))
def test_multi_doc_spans_two_documents(item: Item) -> None:
    assert len(item["gold_docs"]) >= 2
    assert len(_evidence_docs(item)) >= 2


@pytest.mark.parametrize("item", COMPARATIVE, ids=_ids(COMPARATIVE))
def test_comparative_spans_three_documents(item: Item) -> None:
    assert len(item["gold_docs"]) >= 3
    assert len(_evidence_docs(item)) >= 3

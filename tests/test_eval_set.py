"""Checks on the hand-written evaluation set ``eval/questions.jsonl``.

Every evidence quote must be copied verbatim from the corpus, every answer key must be
recoverable from the evidence (the offline answerer replies with verbatim sentences), and
the set must keep its size and its mix of question types.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

Item = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
EVAL_FILE = ROOT / "eval" / "questions.jsonl"
CORPUS_DIR = ROOT / "corpus"

KEYS = {"id", "type", "question", "evidence", "answer_keys", "gold_docs"}
TYPES = {"factual", "paraphrase", "multi_doc", "comparative", "unanswerable"}
ID_PREFIX = {
    "f": "factual",
    "p": "paraphrase",
    "m": "multi_doc",
    "c": "comparative",
    "u": "unanswerable",
}
MIN_COUNTS = {"factual": 14, "paraphrase": 12, "multi_doc": 6, "comparative": 8, "unanswerable": 10}
MIN_TOTAL = 40
MIN_FACTUAL_PER_DOC = 2
QUOTE_MIN, QUOTE_MAX = 40, 250
_WS = re.compile(r"\s+")


def _collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _doc_id(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")


def _load_corpus() -> dict[str, tuple[str, list[str]]]:
    """doc_id -> (whole text collapsed, each non-empty line collapsed)."""
    docs = {}
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        lines = [_collapse(line) for line in raw.splitlines() if line.strip()]
        docs[_doc_id(path)] = (_collapse(raw), lines)
    return docs


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


CORPUS = _load_corpus()
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
    assert set(item) == KEYS, f"keys differ: {sorted(set(item) ^ KEYS)}"
    assert isinstance(item["id"], str) and item["id"]
    assert isinstance(item["type"], str) and item["type"] in TYPES
    assert isinstance(item["question"], str) and item["question"].strip()
    for field in ("evidence", "answer_keys", "gold_docs"):
        assert isinstance(item[field], list), field
        assert all(isinstance(x, str) and x.strip() for x in item[field]), field
        assert len(set(item[field])) == len(item[field]), f"duplicates in {field}"
    assert re.fullmatch(r"[fpmcu]\d{2,}", item["id"]), item["id"]
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
    if item["type"] == "comparative":
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


def test_counts_per_type() -> None:
    assert len(ITEMS) >= MIN_TOTAL
    for typ, minimum in MIN_COUNTS.items():
        got = len(BY_TYPE.get(typ, []))
        assert got >= minimum, f"{typ}: {got} < {minimum}"


def test_factual_questions_cover_every_document() -> None:
    per_doc = {doc: 0 for doc in CORPUS}
    for item in BY_TYPE.get("factual", []):
        for doc in item["gold_docs"]:
            per_doc[doc] += 1
    thin = {doc: n for doc, n in per_doc.items() if n < MIN_FACTUAL_PER_DOC}
    assert not thin, f"documents with too few factual questions: {thin}"


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

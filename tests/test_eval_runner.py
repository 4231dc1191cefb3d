"""`rag eval` end to end: run rows, gold evidence, honesty of the metrics, run folders.

The honesty test feeds deliberately wrong retrieval, answers and comparisons through the
same runner and checks that every offline metric gets worse: a metric that cannot tell a
wrong answer from a right one is a defect."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import eval_subset

from rag.assistant import Assistant
from rag.errors import EvalSetError, RunError
from rag.evaluation.metrics import normalise
from rag.evaluation.records import EvalRun, QuestionResult
from rag.evaluation.report import render_report
from rag.evaluation.runner import run_eval
from rag.evaluation.runs import new_run_dir, save_run
from rag.evaluation.scores import METRICS, metric
from rag.retrieval import Filters
from rag.sentences import sentences
from rag.types import Answer, Citation, Comparison, Passage

ROOT = Path(__file__).resolve().parent.parent
# Factual, paraphrase (with a verbatim quote in its answer: f19), multi-doc, comparative,
# why, near-miss (u01, u03, u08) and off-topic (u23) questions; and two conversations.
SUBSET = ("f03", "f19", "p03", "m02", "c08", "w06", "u01", "u03", "u08", "u23")
CONVERSATIONS = ("t01", "t04")
DECOY = "cheese bread recipe with eggs and butter"


def conversation_subset(folder: Path) -> Path:
    lines = [
        line
        for line in (ROOT / "eval" / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["id"] in CONVERSATIONS
    ]
    path = folder / "conversations.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_subset(assistant: Any, folder: Path) -> EvalRun:
    return run_eval(
        assistant, eval_subset(folder, SUBSET), k=5, conversations=conversation_subset(folder)
    )


@pytest.fixture(scope="module")
def honest(demo_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> EvalRun:
    return run_subset(demo_assistant, tmp_path_factory.mktemp("set"))


# --- rows -----------------------------------------------------------------------------


def test_every_row_has_every_score_and_the_gold_evidence(honest: EvalRun) -> None:
    rows = honest.rows
    ids = [r.id for r in rows]
    assert sorted(ids[: len(SUBSET)]) == sorted(SUBSET) and ids[len(SUBSET) :] == list(
        CONVERSATIONS
    )
    for row in rows:
        assert set(row.scores) == {m.name for m in METRICS}
        assert (row.score("retrieval_ms") or 0) > 0 and (row.score("answer_ms") or 0) > 0
        assert row.score("prompt_tokens") is None  # no LLM: no tokens, never a guess
        assert [p.rank for p in row.retrieved] == list(range(1, len(row.retrieved) + 1))
        if row.type == "unanswerable":
            assert row.evidence == () and row.score("recall") is None
            continue
        quotes = [normalise(e.quote) for e in row.evidence]
        highlighted = [normalise(p.text[start:end]) for p in row.retrieved for start, end in p.gold]
        if row.score("recall") == 1.0:
            assert highlighted, row.id
        for part in highlighted:  # every highlight is a piece of a gold quote
            assert any(part in quote for quote in quotes), (row.id, part)


def test_summary_means_skip_questions_a_metric_does_not_apply_to(honest: EvalRun) -> None:
    overall, rows = honest.summary.overall, honest.rows
    unanswerable = [r for r in rows if r.type == "unanswerable"]
    assert overall.n == len(SUBSET) + len(CONVERSATIONS)
    assert overall.count("abstained") == len(unanswerable)
    assert overall.mean("abstained") == pytest.approx(
        sum(r.score("abstained") or 0 for r in unanswerable) / len(unanswerable), abs=1e-4
    )
    # comparative questions stay out of overall evidence recall (their quotes are examples)
    assert overall.count("recall") == sum(
        r.type in ("factual", "paraphrase", "multi_doc") for r in rows
    )
    assert honest.summary.by_type["comparative"].mean("author_coverage") is not None


# --- the eval set is checked against the index before anything runs -----------------------


def write_set(folder: Path, *records: dict[str, Any]) -> Path:
    path = folder / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


GOOD = {
    "id": "g1",
    "type": "factual",
    "question": "At which university is Ali Askerov a faculty member?",
    "evidence": ["University of North Carolina"],
    "answer_keys": ["Greensboro"],
}


def test_a_quote_found_nowhere_is_named_with_line_and_field(
    demo_assistant: Assistant, tmp_path: Path
) -> None:
    bad = {**GOOD, "id": "g2", "evidence": ["a sentence that no author of the corpus wrote"]}
    path = write_set(tmp_path, GOOD, bad)
    with pytest.raises(EvalSetError) as caught:
        run_eval(demo_assistant, path, k=5, strict=True)
    message = str(caught.value)
    assert message.startswith("--strict: 1 evidence quote(s) or gold document(s) not found")
    assert f"{path}:2" in message and "question g2" in message
    assert "evidence[0]" in message and "was not found in any indexed document" in message


def test_an_unknown_gold_document_is_named(demo_assistant: Assistant, tmp_path: Path) -> None:
    path = write_set(tmp_path, {**GOOD, "gold_docs": ["no-such-doc"]})
    with pytest.raises(EvalSetError, match=r":1 \(question g1\): field 'gold_docs'.*no-such-doc"):
        run_eval(demo_assistant, path, k=5, strict=True)


def test_a_quote_outside_its_gold_document_is_an_error(
    demo_assistant: Assistant, tmp_path: Path
) -> None:
    # the quote is in 001 (Askerov's article), not in 000
    path = write_set(tmp_path, {**GOOD, "gold_docs": ["000-0c4da8ee7c2bcb9d"]})
    with pytest.raises(EvalSetError, match="was not found in its gold documents"):
        run_eval(demo_assistant, path, k=5, strict=True)


def test_without_strict_a_question_whose_evidence_is_missing_is_run_and_listed_first(
    demo_assistant: Assistant, tmp_path: Path
) -> None:
    bad = {**GOOD, "id": "g2", "evidence": ["a sentence that no author of the corpus wrote"]}
    unknown_doc = {**GOOD, "id": "g3", "gold_docs": ["no-such-doc"]}
    path = write_set(tmp_path, GOOD, bad, unknown_doc)
    run = run_eval(demo_assistant, path, k=5)
    good, missing, no_doc = run.rows
    assert good.evidence_missing is None and good.score("recall") == 1.0
    assert missing.evidence_missing is not None
    assert "evidence[0]" in missing.evidence_missing
    assert "was not found in any indexed document" in missing.evidence_missing
    assert no_doc.evidence_missing is not None and "no-such-doc" in no_doc.evidence_missing
    for row in (missing, no_doc):  # run and answered, but out of the evidence figures
        assert row.answer is not None and row.score("key_hit") is not None
        assert row.score("recall") is None and row.score("mrr") is None
    assert run.summary.overall.counts["recall"] == 1
    assert run.summary.overall.counts["key_hit"] == 3
    assert QuestionResult.from_json(missing.to_json()) == missing
    html = render_report(run.summary, run.rows)
    first = html.index('id="evidence-missing"')
    assert first < html.index('id="summary"') < html.index('id="questions"')
    listed = html[first : html.index('id="summary"')]
    assert "g2" in listed and "g3" in listed and "g1</a>" not in listed
    assert "Evidence not found in the index (2 questions)" in listed


def test_any_type_label_is_a_group_and_counts_as_answerable(
    demo_assistant: Assistant, tmp_path: Path
) -> None:
    own = {**GOOD, "id": "g2", "type": "people", "source_note": "kept, not used"}
    run = run_eval(demo_assistant, write_set(tmp_path, GOOD, own), k=5, answers=False)
    assert set(run.summary.by_type) == {"factual", "people"}
    assert run.summary.by_type["people"].means["recall"] == 1.0
    assert run.summary.overall.counts["recall"] == 2  # own labels count in the overall recall


# --- honesty: wrong answers must score worse on every offline metric -----------------------


class Sabotaged:
    """The demo assistant with one kind of wrongness: `liar` retrieves for a decoy query,
    answers every question from the wrong passage with wrong citations and an invented
    quote, and misattributes the comparison quotes; `coward` refuses everything and
    reports that no author addresses anything."""

    def __init__(self, inner: Assistant, mode: str) -> None:
        self.inner, self.mode = inner, mode

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def search(self, query: str, *, k: int | None = None, filters: Filters = Filters()) -> Any:
        if self.mode == "liar":
            return self.inner.search(DECOY, k=k, filters=filters)
        return self.inner.search(query, k=k, filters=filters)

    def condense(self, question: str, conversation: Any, backend: Any = None) -> str:
        if self.mode == "liar":  # takes every follow-up as it stands
            return question
        return self.inner.condense(question, conversation, backend)

    def answer(self, question: str, passages: Sequence[Passage], backend: Any = None) -> Answer:
        honest = self.inner.answer(question, passages, backend=backend)
        if self.mode == "coward":
            return dataclasses.replace(
                honest, text="The documents do not answer this.", citations=(), refused=True
            )
        wrong = sentences(passages[-1].chunk.text)[0]
        text = (
            f"{wrong} [1] Another claim with no support at all [{len(passages) + 3}]. "
            'As one author put it, "Baku has never been closer to Moscow than it is today" [1].'
        )
        citations = (Citation(1, passages[0], quote=wrong),)
        return dataclasses.replace(honest, text=text, citations=citations, refused=False)

    def compare(self, question: str, authors: Any = None, backend: Any = None) -> Comparison:
        honest = self.inner.compare(question, authors=authors, backend=backend)
        perspectives = list(honest.perspectives)
        if self.mode == "coward":
            perspectives = [
                dataclasses.replace(p, addressed=False, quotes=(), summary="") for p in perspectives
            ]
        else:  # each author's quotes given to the next author
            shifted = perspectives[1:] + perspectives[:1]
            perspectives = [
                dataclasses.replace(
                    p,
                    quotes=tuple(dataclasses.replace(q, doc_id=other.doc_id) for q in p.quotes),
                )
                for p, other in zip(perspectives, shifted, strict=True)
            ]
        return dataclasses.replace(
            honest, perspectives=tuple(perspectives), agreements=(), divergences=()
        )


# Which sabotage must hurt which metric. Every offline quality metric is listed: a metric
# added to rag.evaluation.scores without a way to catch a wrong answer fails this file.
MUST_DROP = {
    "recall": "liar",
    "mrr": "liar",
    "ndcg@10": "liar",
    "doc_coverage": "liar",
    "author_coverage": "liar",
    "key_hit": "coward",
    "citation_validity": "liar",
    "citation_recall": "liar",
    "citation_precision": "liar",
    "quote_verbatim": "liar",
    "abstained": "liar",
    "abstained_near_miss": "liar",
    "abstained_off_topic": "liar",
    "reason_share": "coward",
    "rewrite_correct": "liar",
    "false_refusal": "coward",
    "perspective_coverage": "coward",
    "attribution": "liar",
}


def test_the_honesty_table_covers_every_offline_metric() -> None:
    offline = {m.name for m in METRICS if m.group not in ("judge", "cost")}
    assert set(MUST_DROP) == offline


@pytest.mark.parametrize("mode", ["liar", "coward"])
def test_wrong_answers_score_worse_on_every_metric(
    demo_assistant: Assistant, honest: EvalRun, mode: str, tmp_path: Path
) -> None:
    sabotaged = run_subset(Sabotaged(demo_assistant, mode), tmp_path)
    for name, culprit in MUST_DROP.items():
        if culprit != mode:
            continue
        good = honest.summary.overall.mean(name)
        bad = sabotaged.summary.overall.mean(name)
        assert good is not None, f"{name}: the honest run must measure it"
        if bad is None:  # e.g. the coward gives no citation to check
            continue
        if metric(name).higher_is_better:
            assert bad < good, (name, good, bad)
        else:
            assert bad > good, (name, good, bad)
    if mode == "liar":
        assert (sabotaged.summary.overall.mean("key_hit") or 0) < (
            honest.summary.overall.mean("key_hit") or 0
        )


# --- run folders ----------------------------------------------------------------------------


def test_a_run_folder_holds_summary_rows_and_report(honest: EvalRun, tmp_path: Path) -> None:
    target = save_run(honest, new_run_dir(tmp_path / "runs"))
    summary = json.loads((target / "summary.json").read_text(encoding="utf-8"))
    assert "questions" not in summary and summary["overall"] == honest.summary.overall.to_json()
    rows = [json.loads(line) for line in (target / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r.id for r in honest.rows]
    report = (target / "report.html").read_text(encoding="utf-8")
    assert "f19" in report and "<mark" in report
    assert not list((tmp_path / "runs").glob(".*partial"))


def test_a_run_never_overwrites_another(honest: EvalRun, tmp_path: Path) -> None:
    target = save_run(honest, tmp_path / "run")
    before = (target / "summary.json").read_bytes()
    with pytest.raises(RunError, match="already exists and is not empty"):
        save_run(
            dataclasses.replace(honest, summary=dataclasses.replace(honest.summary, k=99)), target
        )
    assert (target / "summary.json").read_bytes() == before


def test_a_failed_save_leaves_no_folder(
    honest: EvalRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(summary: Any, rows: Any) -> str:
        raise OSError("disk full")

    monkeypatch.setattr("rag.evaluation.runs.render_report", broken)
    with pytest.raises(OSError, match="disk full"):
        save_run(honest, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_the_readme_lists_every_setting() -> None:
    from rag.settings import Settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        f"RAG_{name.upper()}"
        for name in Settings.model_fields
        if f"| `RAG_{name.upper()}` |" not in readme
    ]
    assert missing == [], "add these to the settings table in README.md"

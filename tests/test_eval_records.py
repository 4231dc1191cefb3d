"""The typed records of an eval run (`rag.evaluation.records`) and the one verdict rule of
the metric registry: old run folders load, new ones carry a schema version, bad fields are
named, and the report and the Evaluate tab judge a question alike. No model needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.errors import RunError
from rag.evaluation.gate import failures
from rag.evaluation.records import SCHEMA_VERSION, QuestionResult, RunSummary
from rag.evaluation.report import render_report
from rag.evaluation.runs import load_run, save_run, write_report
from rag.evaluation.scores import METRICS, metric, question_verdict
from ui.render import drilldown_html, question_mark

# A run folder written by `rag eval --judge` before schema_version existed: a factual, a
# comparative and an unanswerable question; the judge's reply on c08 did not parse.
UNVERSIONED = Path(__file__).resolve().parent / "fixtures" / "runs" / "unversioned"


def json_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_a_run_written_before_schema_versions_loads() -> None:
    run = load_run(UNVERSIONED)
    summary = run.summary
    assert (summary.eval_set, summary.k, summary.backend, summary.n_questions) == (
        "subset.jsonl",
        5,
        "extractive",
        3,
    )
    assert summary.overall.n == 3 and summary.overall.count("recall") == 1
    assert set(summary.by_type) == {"comparative", "factual", "unanswerable"}
    assert summary.answers is not None and summary.answers.n_unanswerable == 1
    assert summary.judge is not None and summary.judge.parse_failures["faithfulness"] == 1
    assert summary.perspectives is not None and summary.perspectives.n_comparative == 1
    assert summary.tokens is None and summary.index is not None
    rows = run.by_id()
    assert list(rows) == ["f03", "c08", "u08"]
    f03, c08, u08 = rows["f03"], rows["c08"], rows["u08"]
    assert set(f03.scores) <= {m.name for m in METRICS}  # metrics added since show "–"
    assert {"recall", "key_hit", "abstained", "attribution"} <= set(f03.scores)
    assert f03.answer is not None and f03.answer.claims and f03.answer.citations
    assert f03.judge is not None and [c.supported for c in f03.judge.claims] == [True, False]
    assert f03.retrieved[0].gold and f03.evidence[0].doc_id == f03.retrieved[0].doc_id
    assert c08.perspectives is not None and c08.perspectives.n_gold == 3
    assert any("did not parse" in e for e in c08.errors)
    assert u08.answer is not None and u08.answer.refused and u08.evidence == ()


def test_records_write_back_the_json_they_read() -> None:
    """Loading and saving changes nothing but the added schema_version."""
    summary = json.loads((UNVERSIONED / "summary.json").read_text(encoding="utf-8"))
    written = RunSummary.from_json(summary).to_json()
    assert written.pop("schema_version") == SCHEMA_VERSION
    assert written == summary
    for row in json_lines(UNVERSIONED / "results.jsonl"):
        again = QuestionResult.from_json(row).to_json()
        assert again.pop("schema_version") == SCHEMA_VERSION
        assert again == row


def test_a_saved_run_carries_the_schema_version_and_loads_back_equal(tmp_path: Path) -> None:
    old = load_run(UNVERSIONED)
    target = save_run(old, tmp_path / "run")
    summary = json.loads((target / "summary.json").read_text(encoding="utf-8"))
    assert summary["schema_version"] == SCHEMA_VERSION
    assert all(
        row["schema_version"] == SCHEMA_VERSION for row in json_lines(target / "results.jsonl")
    )
    new = load_run(target)
    assert (new.summary, new.rows) == (old.summary, old.rows)
    assert (target / "report.html").read_text(encoding="utf-8") == render_report(
        old.summary, old.rows
    )


def test_an_old_run_gets_its_report_rendered_again(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(UNVERSIONED, tmp_path / "run"))
    html = write_report(copy).read_text(encoding="utf-8")
    assert 'id="q-c08"' in html and "judge-model" in html


def test_a_newer_schema_is_refused_with_its_file(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(UNVERSIONED, tmp_path / "run"))
    summary = json.loads((copy / "summary.json").read_text(encoding="utf-8"))
    summary["schema_version"] = SCHEMA_VERSION + 1
    (copy / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(RunError, match=r"summary\.json: field 'schema_version' .* upgrade rag"):
        load_run(copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["retrieved"][1].update(rank="2nd"),
            r"'retrieved\[1\]\.rank' must be an integer",
        ),
        (lambda r: r["answer"].update(refused="no"), r"'answer\.refused' must be true or false"),
        (
            lambda r: r["judge"]["claims"][0].pop("verdict"),
            r"'judge\.claims\[0\]\.verdict' must be 0 or 1",
        ),
        (lambda r: r.update(evidence={"quote": "x"}), r"'evidence' must be a list"),
    ],
)
def test_a_field_of_the_wrong_type_is_named_with_file_and_line(
    tmp_path: Path, change: object, message: str
) -> None:
    copy = Path(shutil.copytree(UNVERSIONED, tmp_path / "run"))
    rows = json_lines(copy / "results.jsonl")
    change(rows[0])  # type: ignore[operator]
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    (copy / "results.jsonl").write_text(lines, encoding="utf-8")
    with pytest.raises(RunError, match=r"results\.jsonl:1: field " + message):
        load_run(copy)


# --- one verdict rule ---------------------------------------------------------------------


def test_a_metric_judges_values_in_its_direction() -> None:
    recall, refusal, ms = metric("recall"), metric("false_refusal"), metric("retrieval_ms")
    assert [recall.verdict(v) for v in (1.0, 0.8, 0.5, 0.1, None)] == [
        "good",
        "good",
        "mid",
        "bad",
        "neutral",
    ]
    assert [refusal.verdict(v) for v in (0.0, 0.5, 1.0)] == ["good", "mid", "bad"]
    assert ms.verdict(12.0) == "neutral"  # no good or bad on their own
    # against a floor: a lower-is-better metric takes it as a ceiling
    assert recall.verdict(0.85, floor=0.85) == "good" and recall.verdict(0.84, floor=0.85) == "bad"
    assert refusal.verdict(0.1, floor=0.2) == "good" and refusal.verdict(0.3, floor=0.2) == "bad"
    assert ms.verdict(150.0, floor=100.0) == "bad"
    assert recall.passed(1.0) and not recall.passed(0.75) and refusal.passed(0.0)
    assert ms.passed(10.0) is None and recall.passed(None) is None


def test_the_gate_uses_the_metric_verdict() -> None:
    summary = load_run(UNVERSIONED).summary
    assert failures(summary, {"recall": 1.0, "false_refusal": 0.0}) == []
    missed = failures(summary, {"key_hit": 1.5, "false_refusal": -0.5, "quote_verbatim": 0.5})
    assert missed == [
        "key_hit = 1.000, below the required 1.5",
        "false_refusal = 0.000, above the allowed -0.5",
        "quote_verbatim: not measured in this run (needed 0.5)",
    ]


def test_a_comparative_question_is_judged_by_its_authors_not_its_example_quotes() -> None:
    c08 = load_run(UNVERSIONED).by_id()["c08"]
    assert c08.score("recall") == 0.25 and c08.score("author_coverage") == 1.0
    verdict = question_verdict(c08)
    assert verdict.retrieval is True and not verdict.weak
    missed = QuestionResult.from_json(
        {**c08.to_json(), "scores": {**c08.scores, "author_coverage": 0.5}}
    )
    assert question_verdict(missed).retrieval is False and question_verdict(missed).weak


def test_the_report_and_the_evaluate_tab_flag_the_same_questions() -> None:
    run = load_run(UNVERSIONED)
    rows = [
        *run.rows,
        # a key missed, a false refusal, an answer to an unanswerable question
        QuestionResult("x1", "factual", "?", {"recall": 1.0, "key_hit": 0.0, "false_refusal": 0.0}),
        QuestionResult("x2", "factual", "?", {"recall": 1.0, "false_refusal": 1.0}),
        QuestionResult("x3", "unanswerable", "?", {"abstained": 0.0}),
        QuestionResult("x4", "paraphrase", "?", {"recall": 0.5}),
    ]
    html = render_report(run.summary, rows)
    for row in rows:
        details = html[html.index(f'id="q-{row.id}"') :]
        flagged = "⚠" in details[: details.index("</summary>")]
        drill = drilldown_html(row, run.summary.k)
        assert flagged == (question_mark(row) == "✗") == ('class="badge fail"' in drill), row.id
    assert [question_mark(r) for r in rows] == ["✓", "✓", "✓", "✗", "✗", "✗", "✗"]

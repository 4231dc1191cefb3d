"""`rag eval compare`: paired deltas, bootstrap intervals, regressions, run-folder errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rag.cli_tables import comparison_table, regressions_table
from rag.errors import RagError, RunError
from rag.evaluation.compare import compare_runs, comparison_dict, paired_bootstrap, regressions
from rag.evaluation.runs import Run, load_run


def row(qid: str, qtype: str = "factual", **scores: float | None) -> dict[str, Any]:
    return {"id": qid, "type": qtype, "question": f"What about {qid}?", "scores": scores}


def write_run(
    folder: Path, rows: list[dict[str, Any]], *, set_path: str = "eval/questions.jsonl", k: int = 5
) -> Path:
    folder.mkdir(parents=True)
    summary = {"set": set_path, "k": k, "backend": "extractive", "created": "2025-01-01T00:00"}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    lines = [json.dumps(r) for r in rows]
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def runs(
    tmp_path: Path, rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]
) -> tuple[Run, Run]:
    return load_run(write_run(tmp_path / "a", rows_a)), load_run(write_run(tmp_path / "b", rows_b))


def by_name(comparison: Any, name: str) -> Any:
    return next(d for d in comparison.metrics if d.metric.name == name)


def render(table: Any) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


MIXED = [
    row("f01", recall=1.0, mrr=1.0, key_hit=1.0, retrieval_ms=10.0),
    row("f02", recall=0.5, mrr=0.5, key_hit=0.0, retrieval_ms=12.0),
    row("f03", recall=0.0, mrr=0.0, key_hit=None, retrieval_ms=9.0),
    row("u01", "unanswerable", recall=None, abstained=1.0, retrieval_ms=11.0),
    row("u02", "unanswerable", recall=None, abstained=0.0, retrieval_ms=10.5),
]


def test_identical_runs_have_zero_deltas_and_point_intervals(tmp_path: Path) -> None:
    a, b = runs(tmp_path, MIXED, MIXED)
    comparison = compare_runs(a, b)
    assert comparison.metric_names == ("recall", "mrr", "key_hit", "abstained", "retrieval_ms")
    for d in comparison.metrics:
        assert d.delta == 0.0
        assert (d.ci.low, d.ci.high) == (0.0, 0.0)
        assert not d.significant and not d.better and not d.worse
        assert d.verdict == "no significant change"
    assert regressions(comparison) == []
    assert comparison.notices == ()


def test_clearly_better_recall_is_significant(tmp_path: Path) -> None:
    rows_a = [row(f"f{i:02d}", recall=[0.0, 0.5, 0.25][i % 3]) for i in range(30)]
    rows_b = [row(f"f{i:02d}", recall=1.0 if i % 4 else 0.75) for i in range(30)]
    d = by_name(compare_runs(*runs(tmp_path, rows_a, rows_b)), "recall")
    assert d.n == 30
    assert d.delta > 0.5
    assert 0 < d.ci.low <= d.delta <= d.ci.high
    assert d.significant and d.better and not d.worse
    assert d.verdict == "better"


def test_interval_contains_the_true_mean_delta() -> None:
    # B gains 1 on every other question: the true mean delta is 0.5, its standard error
    # 0.5 / sqrt(100) = 0.05, so a 95% interval is about 0.5 ± 0.1
    a = [0.0] * 100
    b = [float(i % 2) for i in range(100)]
    ci = paired_bootstrap(a, b, n_resamples=4000)
    assert ci.delta == pytest.approx(0.5)
    assert ci.low is not None and ci.high is not None
    assert ci.low < 0.5 < ci.high
    assert 0.15 < ci.high - ci.low < 0.25
    assert ci.n == 100 and ci.significant


def test_bootstrap_is_deterministic_under_the_seed() -> None:
    a = [((7 * i) % 13) / 13 for i in range(40)]
    b = [((5 * i) % 11) / 11 for i in range(40)]
    first = paired_bootstrap(a, b, seed=7)
    assert paired_bootstrap(a, b, seed=7) == first
    assert paired_bootstrap(a, b, seed=8) != first
    assert first.low is not None and first.high is not None
    assert first.low < first.delta < first.high  # type: ignore[operator]


def test_bootstrap_edge_cases() -> None:
    empty = paired_bootstrap([], [])
    assert (empty.delta, empty.low, empty.high, empty.n) == (None, None, None, 0)
    assert not empty.significant
    one = paired_bootstrap([0.0], [1.0])
    assert one.delta == 1.0 and one.low is None and not one.significant
    same_gain = paired_bootstrap([0.0, 0.5, 0.0], [0.5, 1.0, 0.5])
    assert (same_gain.low, same_gain.high) == (0.5, 0.5) and same_gain.significant
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_compare_is_deterministic(tmp_path: Path) -> None:
    rows_a = [row(f"f{i}", recall=(i % 3) / 2) for i in range(12)]
    rows_b = [row(f"f{i}", recall=(i % 4) / 3) for i in range(12)]
    a, b = runs(tmp_path, rows_a, rows_b)
    assert comparison_dict(compare_runs(a, b, seed=3)) == comparison_dict(
        compare_runs(a, b, seed=3)
    )


def test_pairing_by_id_ignores_order_and_reports_ids_in_one_run(tmp_path: Path) -> None:
    rows_a = [*MIXED, row("only-a", recall=0.0)]
    rows_b = [row("only-b", recall=1.0), *reversed(MIXED)]
    comparison = compare_runs(*runs(tmp_path, rows_a, rows_b))
    assert all(d.delta == 0.0 for d in comparison.metrics)
    assert by_name(comparison, "recall").n == 3
    assert comparison.only_in_a == ("only-a",)
    assert comparison.only_in_b == ("only-b",)
    assert any("only in A" in n and "only-a" in n for n in comparison.notices)
    assert any("only in B" in n and "only-b" in n for n in comparison.notices)
    assert regressions(comparison) == []


def test_none_scores_are_skipped_not_counted_as_zero(tmp_path: Path) -> None:
    rows_a = [row("f1", key_hit=1.0), row("f2", key_hit=None), row("f3", key_hit=1.0)]
    rows_b = [row("f1", key_hit=1.0), row("f2", key_hit=0.0), row("f3", key_hit=None)]
    comparison = compare_runs(*runs(tmp_path, rows_a, rows_b), metrics=["key_hit", "faithfulness"])
    key_hit = by_name(comparison, "key_hit")
    assert (key_hit.n, key_hit.mean_a, key_hit.mean_b, key_hit.delta) == (1, 1.0, 1.0, 0.0)
    faithfulness = by_name(comparison, "faithfulness")  # named, never scored: kept, n/a
    assert faithfulness.n == 0 and faithfulness.delta is None and faithfulness.verdict == "n/a"
    assert regressions(comparison) == []
    # not named: a metric no question pairs on is left out
    assert "faithfulness" not in compare_runs(comparison.a, comparison.b).metric_names


def test_direction_is_respected_for_lower_is_better_metrics(tmp_path: Path) -> None:
    n = 20
    rows_a = [row(f"f{i}", false_refusal=0.0, retrieval_ms=100.0 + i) for i in range(n)]
    rows_b = [
        row(f"f{i}", false_refusal=1.0 if i < 10 else 0.0, retrieval_ms=50.0 + i) for i in range(n)
    ]
    comparison = compare_runs(*runs(tmp_path, rows_a, rows_b))
    refusal, ms = by_name(comparison, "false_refusal"), by_name(comparison, "retrieval_ms")
    assert refusal.delta > 0 and refusal.significant and refusal.worse and not refusal.better
    assert ms.delta < 0 and ms.significant and ms.better and not ms.worse
    assert [r.id for r in regressions(comparison)] == [f"f{i}" for i in range(10)]


def test_cost_metrics_regress_only_beyond_fifty_percent(tmp_path: Path) -> None:
    rows_a = [
        row("c1", retrieval_ms=100.0),
        row("c2", retrieval_ms=100.0),
        row("c3", answer_ms=0.0),
    ]
    rows_b = [
        row("c1", retrieval_ms=140.0),
        row("c2", retrieval_ms=160.0),
        row("c3", answer_ms=5.0),
    ]
    comparison = compare_runs(*runs(tmp_path, rows_a, rows_b))
    # one question's milliseconds are noise: left out unless asked for
    assert regressions(comparison) == []
    found = regressions(comparison, metrics=["retrieval_ms", "answer_ms"])
    # c1 (+40%) is within the tolerance; 0 -> 5 ms is an unbounded rise, so it ranks first
    assert [r.id for r in found] == ["c3", "c2"]
    assert found[1].changes[0].drop == pytest.approx(0.6)


def test_regressions_list_exactly_the_questions_that_got_worse(tmp_path: Path) -> None:
    rows_a = [
        row("f1", recall=1.0, mrr=1.0),
        row("f2", recall=1.0, mrr=1.0),
        row("f3", recall=0.5, mrr=0.5),
        row("f4", recall=1.0, mrr=0.5),
        row("f5", recall=0.0, mrr=0.0),
    ]
    rows_b = [
        row("f1", recall=1.0, mrr=1.0),  # same
        row("f2", recall=0.5, mrr=0.5),  # worse on both
        row("f3", recall=1.0, mrr=1.0),  # better
        row("f4", recall=0.0, mrr=0.5),  # worse on recall by 1.0
        row("f5", recall=0.0, mrr=None),  # same where scored
    ]
    comparison = compare_runs(*runs(tmp_path, rows_a, rows_b))
    found = regressions(comparison)
    assert [r.id for r in found] == ["f2", "f4"]  # two metrics worse before one
    f2 = found[0]
    assert f2.type == "factual" and f2.question == "What about f2?"
    assert [(c.metric.name, c.before, c.after) for c in f2.changes] == [
        ("recall", 1.0, 0.5),
        ("mrr", 1.0, 0.5),
    ]
    assert [r.id for r in regressions(comparison, metrics=["mrr"])] == ["f2"]
    assert regressions(comparison.a, comparison.b) == found  # the two runs: every metric
    with pytest.raises(TypeError):
        regressions(comparison.a)
    text = render(regressions_table(found))
    assert "2 question(s) got worse" in text
    assert "recall 1.000 → 0.500; mrr 1.000 → 0.500" in text


def test_regressions_sort_by_biggest_drop_among_equals(tmp_path: Path) -> None:
    rows_a = [row("f1", recall=1.0), row("f2", recall=1.0), row("f3", recall=1.0)]
    rows_b = [row("f1", recall=0.75), row("f2", recall=0.0), row("f3", recall=0.5)]
    found = regressions(compare_runs(*runs(tmp_path, rows_a, rows_b)))
    assert [r.id for r in found] == ["f2", "f3", "f1"]


def test_by_type_breakdown(tmp_path: Path) -> None:
    rows_a = [row("f1", recall=0.0), row("f2", recall=0.0), row("p1", "paraphrase", recall=1.0)]
    rows_b = [row("f1", recall=1.0), row("f2", recall=1.0), row("p1", "paraphrase", recall=1.0)]
    comparison = compare_runs(*runs(tmp_path, rows_a, rows_b), by_type=True)
    assert list(comparison.by_type) == ["factual", "paraphrase"]
    assert comparison.by_type["factual"][0].delta == 1.0
    assert comparison.by_type["paraphrase"][0].delta == 0.0
    assert "paraphrase" in render(comparison_table(comparison))
    # a named metric no question of a type is scored on is left out of that type's rows
    named = compare_runs(comparison.a, comparison.b, by_type=True, metrics=["recall", "key_hit"])
    assert [d.metric.name for d in named.metrics] == ["recall", "key_hit"]
    assert [d.metric.name for d in named.by_type["factual"]] == ["recall"]


def test_different_set_and_k_are_noticed(tmp_path: Path) -> None:
    a = load_run(write_run(tmp_path / "a", MIXED))
    b = load_run(write_run(tmp_path / "b", MIXED, set_path="eval/other.jsonl", k=10))
    notices = compare_runs(a, b).notices
    assert any("different eval sets" in n and "eval/other.jsonl" in n for n in notices)
    assert any("different k" in n and "k=10" in n for n in notices)
    same = load_run(write_run(tmp_path / "c", MIXED, set_path="eval/./questions.jsonl"))
    assert compare_runs(a, same).notices == ()


def test_table_and_json_output(tmp_path: Path) -> None:
    rows_a = [row(f"f{i}", recall=0.0, false_refusal=0.0) for i in range(10)]
    rows_b = [row(f"f{i}", recall=float(i % 2), false_refusal=0.0) for i in range(10)]
    comparison = compare_runs(*runs(tmp_path, rows_a, rows_b))
    text = render(comparison_table(comparison))
    assert "recall" in text and "+0.500 [" in text and "] *" in text and "better" in text
    assert "A = a (extractive, k=5)" in text
    payload = comparison_dict(comparison, regressions(comparison))
    assert json.loads(json.dumps(payload)) == payload
    recall = payload["metrics"][0]
    assert recall["metric"] == "recall" and recall["delta"] == 0.5 and recall["significant"]
    assert recall["verdict"] == "better"
    assert payload["regressions"] == []
    assert "0 question(s) got worse" in render(regressions_table([]))
    assert payload["a"]["k"] == 5 and payload["b"]["path"].endswith("b")


def test_unknown_metric_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"unknown metric 'recal'.*known: recall"):
        compare_runs(*runs(tmp_path, MIXED, MIXED), metrics=["recal"])


def test_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "nope")
    folder = write_run(tmp_path / "run", MIXED)
    (folder / "results.jsonl").unlink()
    with pytest.raises(RunError, match=r"results\.jsonl is missing.*rag eval"):
        load_run(folder)
    (folder / "summary.json").unlink()
    with pytest.raises(RunError, match=r"summary\.json is missing"):
        load_run(folder)
    with pytest.raises(RunError, match="is a file"):
        load_run(write_run(tmp_path / "x", MIXED) / "summary.json")


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", MIXED)
    lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:-5]  # truncated
    (folder / "results.jsonl").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RunError) as info:
        load_run(folder)
    assert f"{folder / 'results.jsonl'}:3: not valid JSON" in str(info.value)
    assert isinstance(info.value, RagError)  # the CLI prints it as one line


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"type": "factual", "scores": {}}', 'needs a non-empty "id"'),
        ('{"id": "f09", "type": "factual"}', 'has no "scores" object'),
        ('{"id": "f01", "scores": {}}', "'f01' already used on line 1"),
        ('{"id": "f09", "scores": {"recall": "high"}}', "score 'recall' must be a number"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_malformed_rows_are_named(tmp_path: Path, line: str, message: str) -> None:
    folder = write_run(tmp_path / "run", MIXED)
    with (folder / "results.jsonl").open("a", encoding="utf-8") as f:
        f.write("\n" + line + "\n")
    with pytest.raises(RunError, match=r"results\.jsonl:7: .*" + message.replace("(", r"\(")):
        load_run(folder)


def test_bad_summary_and_empty_results(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", MIXED)
    (folder / "summary.json").write_text('{\n  "set": "x",\n  "k": \n}', encoding="utf-8")
    with pytest.raises(RunError, match=r"summary\.json:4: not valid JSON"):
        load_run(folder)
    empty = write_run(tmp_path / "empty", [])
    with pytest.raises(RunError, match="holds no results"):
        load_run(empty)


def test_bool_scores_read_as_numbers(tmp_path: Path) -> None:
    rows_a = [{"id": "u1", "type": "unanswerable", "question": "?", "scores": {"abstained": False}}]
    rows_b = [{"id": "u1", "type": "unanswerable", "question": "?", "scores": {"abstained": True}}]
    d = by_name(compare_runs(*runs(tmp_path, rows_a, rows_b)), "abstained")
    assert (d.mean_a, d.mean_b, d.delta) == (0.0, 1.0, 1.0)

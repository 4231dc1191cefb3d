"""The `rag` command line, driven in-process (typer's CliRunner against `rag.cli.app`, or
`rag.cli.main` where the error handling of the console script is under test) over the
session's demo index, plus one real subprocess. The embedding model is the session's: the
CLI's own `load_embedder` is pointed at it so no command loads the model again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes import HashEmbedder
from helpers import eval_subset
from typer.testing import CliRunner

import rag.assistant
from rag.assistant import Assistant
from rag.cli import app, main
from rag.embeddings import Embedder
from rag.prompts import CANNOT_ANSWER

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "eval" / "questions.jsonl"
RAG_SCRIPT = Path(sys.executable).parent / "rag"

PASSAGE_KEYS = {"rank", "score", "chunk_id", "doc_id", "title", "author", "url", "text"}
PASSAGE_KEYS |= {"start", "end", "injection"}
DOCUMENT_KEYS = {"doc_id", "title", "author", "outlet", "date", "url", "chunks"}
ANSWER_KEYS = {"question", "standalone_question", "answer", "refused", "backend", "notice"}
ANSWER_KEYS |= {"citations", "passages"}
CITATION_KEYS = {"n", "chunk_id", "doc_id", "title", "author", "url", "text"}

ANSWERABLE = "Where did Ilham Aliyev and Nikol Pashinyan hold a five-hour meeting in July 2025?"
UNANSWERABLE = "In which year did the Baku–Tbilisi–Ceyhan oil pipeline start operating?"  # u08
UNRESOLVED_DOC = "004-013e50525773c18e"  # the capture with no byline


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


Cli = Callable[..., Run]


@pytest.fixture
def cli(
    demo_assistant: Assistant,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Cli:
    """`cli("search", "x", "--json")` runs `rag --index <demo> --collection demo search ...`.

    `entry="main"` goes through `rag.cli.main` (the console script: domain errors become
    one line on stderr); the default goes through `CliRunner().invoke(app, ...)`."""
    monkeypatch.setattr(rag.assistant, "load_embedder", lambda *args, **kwargs: embedder)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    settings = demo_assistant.settings

    def run(
        *args: str,
        index: Path = settings.index_dir,
        collection: str = settings.collection,
        entry: str = "app",
    ) -> Run:
        argv = ["--index", str(index), "--collection", collection, *args]
        runner = CliRunner()
        if entry == "app":
            result = runner.invoke(app, argv)
            return Run(result.exit_code, result.stdout, result.stderr, result.exception)
        code: int = 0
        with runner.isolation() as (stdout, stderr, _):
            monkeypatch.setattr(sys, "argv", ["rag", *argv])
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
            out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
        return Run(code, out, err)

    return run


@pytest.fixture
def hash_model(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    """For tests of what the CLI does with an index, not of what the model finds: new
    indexes are built with the hash embedder (RAG_EMBEDDING_MODEL names it)."""
    fake = HashEmbedder()
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", fake.name)
    monkeypatch.setattr(rag.assistant, "load_embedder", lambda *args, **kwargs: fake)
    return fake


def assert_one_line_error(run: Run, *fragments: str) -> None:
    assert run.exit_code != 0
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in run.stderr


# --- search ---------------------------------------------------------------------------


def test_search_json_shape_and_spans(cli: Cli, demo_assistant: Assistant) -> None:
    run = cli("search", "Russia and Armenia in the CSTO", "--json", "-k", "4")
    assert run.exit_code == 0, run.exception
    [payload] = run.json_lines()
    assert set(payload) == {"query", "passages"}
    assert payload["query"] == "Russia and Armenia in the CSTO"
    passages = payload["passages"]
    assert len(passages) == 4
    assert [p["rank"] for p in passages] == [1, 2, 3, 4]
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)
    documents = demo_assistant.index.documents
    for p in passages:
        assert set(p) == PASSAGE_KEYS
        assert p["text"] == documents[p["doc_id"]].text[p["start"] : p["end"]]
        assert p["title"] == documents[p["doc_id"]].meta.title
    assert len({p["chunk_id"] for p in passages}) == 4


def test_search_author_filter_only_returns_that_author(cli: Cli) -> None:
    run = cli("search", "Russia's influence in the region", "--author", "melvin", "--json")
    assert run.exit_code == 0, run.exception
    passages = run.json_lines()[0]["passages"]
    assert passages
    assert {p["author"] for p in passages} == {"Neil Melvin"}


def test_search_doc_filter(cli: Cli) -> None:
    run = cli("search", "Russia", "--doc", UNRESOLVED_DOC, "--json", "-k", "3")
    assert run.exit_code == 0, run.exception
    passages = run.json_lines()[0]["passages"]
    assert len(passages) == 3
    assert {p["doc_id"] for p in passages} == {UNRESOLVED_DOC}
    assert all(p["author"] is None for p in passages)


def test_unknown_author_is_one_line_error(cli: Cli) -> None:
    run = cli("search", "Russia", "--author", "nobody-such", entry="main")
    assert_one_line_error(run, "'nobody-such'", "Neil Melvin")


def test_unknown_doc_id_is_one_line_error(cli: Cli) -> None:
    run = cli("search", "Russia", "--doc", "no-such-doc", entry="main")
    assert_one_line_error(run, "no-such-doc", "rag docs")


def test_search_batch_text_file(cli: Cli, tmp_path: Path) -> None:
    batch = tmp_path / "queries.txt"
    batch.write_text("Abu Dhabi meeting\n\n  Georgian wine exports  \nCSTO\n", encoding="utf-8")
    run = cli("search", "--batch", str(batch), "--json", "-k", "2")
    assert run.exit_code == 0, run.exception
    lines = run.json_lines()
    assert [line["query"] for line in lines] == [
        "Abu Dhabi meeting",
        "Georgian wine exports",
        "CSTO",
    ]
    assert all(len(line["passages"]) == 2 for line in lines)
    assert "Abu Dhabi" in lines[0]["passages"][0]["text"]


def test_search_batch_jsonl_file(cli: Cli, tmp_path: Path) -> None:
    batch = tmp_path / "queries.jsonl"
    rows = [{"question": "Rose Revolution", "id": "a"}, {"question": "Abu Dhabi meeting"}]
    batch.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = cli("search", "--batch", str(batch), "--json", "-k", "1")
    assert run.exit_code == 0, run.exception
    lines = run.json_lines()
    assert [line["query"] for line in lines] == ["Rose Revolution", "Abu Dhabi meeting"]
    assert "Rose Revolution" in lines[0]["passages"][0]["text"]


@pytest.mark.parametrize(
    ("bad_line", "says"),
    [('{"question": "unterminated', "not valid JSON"), ('{"query": "x"}', '"question"')],
)
def test_search_batch_bad_jsonl_line_names_file_and_line(
    cli: Cli, tmp_path: Path, bad_line: str, says: str
) -> None:
    batch = tmp_path / "bad.jsonl"
    batch.write_text('{"question": "CSTO"}\n' + bad_line + "\n", encoding="utf-8")
    run = cli("search", "--batch", str(batch), "--json", entry="main")
    assert_one_line_error(run, f"{batch}:2", says)


@pytest.mark.parametrize("args", [(), ("CSTO", "--batch", "queries.txt")])
def test_search_needs_exactly_one_of_query_or_batch(cli: Cli, args: tuple[str, ...]) -> None:
    run = cli("search", *args, "--json", entry="main")
    assert_one_line_error(run, "QUERY or --batch")


def test_search_without_index_says_run_ingest(tmp_path: Path) -> None:
    """A real process: the console script, its exit code and everything it prints."""
    empty = tmp_path / "empty-index"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run(
        [str(RAG_SCRIPT), "--index", str(empty), "--collection", "demo", "search", "Russia"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "rag ingest" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""


# --- docs -----------------------------------------------------------------------------


def test_docs_json(cli: Cli, demo_assistant: Assistant) -> None:
    run = cli("docs", "--json")
    assert run.exit_code == 0, run.exception
    payload = json.loads(run.stdout)
    assert set(payload) == {"documents"}
    documents = {d["doc_id"]: d for d in payload["documents"]}
    assert len(documents) == 5
    for row in documents.values():
        assert set(row) == DOCUMENT_KEYS
        assert row["chunks"] > 0
    assert sum(d["chunks"] for d in documents.values()) == len(demo_assistant.index.chunks)
    assert documents[UNRESOLVED_DOC]["author"] is None
    assert documents["003-d0be66f4cb85011a"]["author"] == "Neil Melvin"
    assert documents["001-dc618f474d60921a"]["date"] == "2025-08-10"


# --- ask ------------------------------------------------------------------------------


def check_answer_payload(payload: dict[str, Any]) -> None:
    assert set(payload) >= ANSWER_KEYS
    for c in payload["citations"]:
        assert set(c) >= CITATION_KEYS
        passage = payload["passages"][c["n"] - 1]
        assert (c["chunk_id"], c["text"]) == (passage["chunk_id"], passage["text"])
        for quote in c.get("quotes", []):
            assert quote in c["text"]
    for p in payload["passages"]:
        assert set(p) == PASSAGE_KEYS


def test_ask_json_answerable(cli: Cli) -> None:
    run = cli("ask", ANSWERABLE, "--json")
    assert run.exit_code == 0, run.exception
    [payload] = run.json_lines()
    check_answer_payload(payload)
    assert payload["question"] == payload["standalone_question"] == ANSWERABLE
    assert payload["refused"] is False
    assert payload["backend"] == "extractive"
    assert "Abu Dhabi" in payload["answer"]
    assert payload["citations"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", payload["answer"])}
    assert cited
    assert cited <= {c["n"] for c in payload["citations"]}


def test_ask_batch_json_in_order_with_a_refusal(cli: Cli, tmp_path: Path) -> None:
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"question": UNANSWERABLE}) + "\n" + json.dumps({"question": ANSWERABLE}),
        encoding="utf-8",
    )
    run = cli("ask", "--batch", str(batch), "--json")
    assert run.exit_code == 0, run.exception
    refused, answered = run.json_lines()
    for payload in (refused, answered):
        check_answer_payload(payload)
    assert refused["question"] == UNANSWERABLE
    assert refused["refused"] is True
    assert refused["citations"] == []
    assert refused["answer"] == CANNOT_ANSWER
    assert refused["passages"], "the passages looked at are still reported"
    assert answered["question"] == ANSWERABLE
    assert answered["refused"] is False
    assert answered["citations"]


# --- ingest and eval ------------------------------------------------------------------


def test_ingest_with_a_bad_file_reports_it_and_exits_1(
    cli: Cli, hash_model: HashEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(ROOT / "corpus" / "000_0c4da8ee7c2bcb9d.txt", folder / "good.txt")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n\x00\x01 this is not a PDF body \xff\xfe")
    index = tmp_path / "index"
    run = cli("ingest", str(folder), index=index, collection="mixed")
    assert run.exit_code == 1
    summary = [line for line in run.stderr.splitlines() if line.startswith("ingest:")]
    assert len(summary) == 1, run.stderr
    assert "skipped 1" in summary[0]
    assert "added 1" in summary[0]
    assert "1 documents" in summary[0]
    assert any("broken.pdf" in line and "skipped" in line for line in run.stderr.splitlines())
    assert "Traceback" not in run.stderr
    # The good file was indexed despite the bad one.
    docs = cli("docs", "--json", index=index, collection="mixed")
    assert [d["doc_id"] for d in json.loads(docs.stdout)["documents"]] == ["good"]


def test_ingest_without_a_terminal_prints_progress_lines_and_refuses_outside_links(
    cli: Cli, hash_model: HashEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "linked"
    folder.mkdir()
    shutil.copy(ROOT / "corpus" / "000_0c4da8ee7c2bcb9d.txt", folder / "good.txt")
    outside = tmp_path / "outside.txt"
    outside.write_text("The vault code is 1234, said the caretaker.", encoding="utf-8")
    (folder / "secret.txt").symlink_to(outside)
    index = tmp_path / "index"

    run = cli("ingest", str(folder), index=index, collection="linked")

    assert run.exit_code == 1
    lines = run.stderr.splitlines()
    assert "reading files: 0/1" in lines and "reading files: 1/1" in lines  # not a bar
    embedded = [line for line in lines if line.startswith("embedding texts:")]
    assert re.fullmatch(r"embedding texts: (\d+)/\1 \([\d,.]+/s\)", embedded[-1]), embedded
    assert len([line for line in lines if line.startswith("ingest:")]) == 1  # the summary
    [refusal] = [line for line in lines if "secret.txt" in line]
    assert "outside the ingested folder" in refusal and "--follow-external-links" in refusal

    run = cli("ingest", str(folder), "--follow-external-links", index=index, collection="linked")
    assert run.exit_code == 0, run.stderr
    [summary] = [line for line in run.stderr.splitlines() if line.startswith("ingest:")]
    assert "added 1" in summary


def test_eval_json_summary(cli: Cli, tmp_path: Path) -> None:
    wanted = {"f03", "f04", "u08"}
    small = eval_subset(tmp_path, wanted, "small.jsonl")
    run = cli("eval", str(small), "--json", "-k", "5")
    assert run.exit_code == 0, run.exception
    summary = json.loads(run.stdout)
    assert {"set", "k", "backend", "overall", "by_type", "answers", "latency_ms"} <= set(summary)
    assert summary["k"] == 5
    overall = summary["overall"]
    assert overall["n"] == 3
    assert overall["n_recall"] == 2  # the unanswerable question has no retrieval figures
    assert overall["recall"] == 1.0
    assert 0.0 < overall["mrr"] <= 1.0
    assert overall["n_abstained"] == 1 and overall["n_false_refusal"] == 2
    assert set(summary["by_type"]) == {"factual", "unanswerable"}
    answers = summary["answers"]
    assert (answers["n_keyed"], answers["n_unanswerable"]) == (2, 1)
    assert 0.0 <= answers["answer_key_hit_rate"] <= 1.0
    run_dir = Path(summary["run_dir"])
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "report.html",
        "results.jsonl",
        "summary.json",
    ]
    assert [q["id"] for q in summary["questions"]] == ["f03", "f04", "u08"]


def test_eval_lists_missing_evidence_first_and_strict_stops_on_it(cli: Cli, tmp_path: Path) -> None:
    good = next(
        json.loads(line)
        for line in EVAL_SET.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["id"] == "f03"
    )
    bad = {**good, "id": "mine1", "type": "my label", "evidence": ["no author wrote this"]}
    small = tmp_path / "mine.jsonl"
    small.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    run = cli("eval", str(small), "--retrieval-only", "--no-save", "--no-conversations")
    assert run.exit_code == 0, run.exception
    listed = run.stdout.index("Evidence not found in the index: 1 question(s) run")
    assert listed < run.stdout.index("metric")  # before the summary table
    assert "mine1" in run.stdout and "my label" in run.stdout
    strict = cli("eval", str(small), "--retrieval-only", "--no-save", "--strict", entry="main")
    assert strict.exit_code == 1 and strict.stdout == ""
    assert strict.stderr.strip().startswith(  # (a newline where the progress bar was)
        "error: --strict: 1 evidence quote(s) or gold document(s) not found in the index"
    )
    assert "question mine1" in strict.stderr and "was not found in its gold" in strict.stderr
    assert "Traceback" not in strict.stderr


# --- rag eval: run folders, compare, the pass/fail gate, judge mode, sweep ------------------


def test_eval_compare_two_runs(cli: Cli, tmp_path: Path) -> None:
    small = eval_subset(tmp_path, {"f03", "f04", "p04", "u08"})
    assert cli("eval", str(small), "-k", "5", "--out", str(tmp_path / "a")).exit_code == 0
    assert cli("eval", str(small), "-k", "1", "--out", str(tmp_path / "b")).exit_code == 0
    run = cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    assert run.exit_code == 0, run.stderr
    result = json.loads(run.stdout)
    recall = next(m for m in result["metrics"] if m["metric"] == "recall")
    assert recall["n"] == 3 and recall["delta"] <= 0
    assert recall["low"] <= recall["delta"] <= recall["high"]
    assert any("k" in notice for notice in result["notices"])
    text = cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert "95% paired bootstrap" in text.stdout
    # a run name is looked up in RAG_RUNS_DIR; a missing run is one line naming it
    missing = cli("eval", "compare", "20990101T000000", str(tmp_path / "a"), entry="main")
    assert_one_line_error(missing, "20990101T000000", "does not exist")


def test_eval_refuses_to_overwrite_a_run(cli: Cli, tmp_path: Path) -> None:
    small = eval_subset(tmp_path, {"f04"})
    target = tmp_path / "run"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    run = cli("eval", str(small), "--out", str(target), entry="main")
    assert_one_line_error(run, "already exists and is not empty")
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_eval_require_is_a_ci_gate_on_offline_metrics(cli: Cli, tmp_path: Path) -> None:
    small = eval_subset(tmp_path, {"f03", "f04"})
    passed = cli("eval", str(small), "--no-save", "--require", "recall=1.0")
    assert passed.exit_code == 0 and "PASS 1 requirement" in passed.stderr
    failed = cli("eval", str(small), "--no-save", "--require", "false_refusal=-0.5", entry="main")
    assert failed.exit_code == 1
    assert "FAIL false_refusal = 0.000, above the allowed -0.5" in failed.stderr
    judged = cli("eval", str(small), "--require", "faithfulness=0.5", entry="main")
    assert_one_line_error(judged, "only offline quality metrics decide pass/fail")
    unknown = cli("eval", str(small), "--require", "recal=0.5", entry="main")
    assert_one_line_error(unknown, "unknown metric", "recall")


def test_eval_judge_needs_a_model(cli: Cli, tmp_path: Path) -> None:
    small = eval_subset(tmp_path, {"f04"})
    run = cli("eval", str(small), "--judge", entry="main")
    assert_one_line_error(run, "RAG_JUDGE_BASE_URL")


def test_eval_judge_scores_and_caches(
    cli: Cli, tmp_path: Path, fake_openai: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = eval_subset(tmp_path, {"f04", "f03"})
    monkeypatch.setenv("RAG_JUDGE_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("RAG_JUDGE_MODEL", "judge-model")
    monkeypatch.setenv("RAG_JUDGE_CACHE", str(tmp_path / "judge.sqlite"))
    # f03 first (file order): its verdicts do not parse; then f04: 1 of 2 claims supported
    fake_openai.reply('{"claims": ["Aliyev and Pashinyan met in Abu Dhabi."]}')
    fake_openai.reply("I think it is all true!")
    fake_openai.reply('{"questions": ["Where did Aliyev and Pashinyan meet?"], "noncommittal": 0}')
    fake_openai.reply('{"claims": ["Askerov works at UNC Greensboro.", "He teaches physics."]}')
    fake_openai.reply(
        '{"verdicts": [{"claim": "Askerov works at UNC Greensboro.", "verdict": 1, "reason": "'
        'stated"}, {"claim": "He teaches physics.", "verdict": 0, "reason": "not stated"}]}'
    )
    fake_openai.reply(
        '{"questions": ["At which university is Ali Askerov a faculty member?"], "noncommittal": 0}'
    )
    run = cli("eval", str(small), "--judge", "--json", "--out", str(tmp_path / "one"))
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    judge = summary["judge"]
    assert judge["model"] == "judge-model"
    assert judge["faithfulness"] == 0.5 and judge["n_faithfulness"] == 1  # failure left out
    assert judge["parse_failures"]["faithfulness"] == 1
    assert judge["answer_relevance"] > 0.5
    assert [r.body["temperature"] for r in fake_openai.chat_requests] == [0.0] * 6
    rows = {r["id"]: r for r in summary["questions"]}
    assert rows["f04"]["scores"]["faithfulness"] == 0.5
    assert rows["f03"]["scores"]["faithfulness"] is None
    assert any("faithfulness" in e for e in rows["f03"]["errors"])
    # the rerun takes every parsed reply from the cache; only the failed step is asked again
    fake_openai.reply(
        '{"verdicts": [{"claim": "Aliyev and Pashinyan met in Abu Dhabi.", '
        '"verdict": 1, "reason": "stated"}]}'
    )
    again = cli("eval", str(small), "--judge", "--json", "--out", str(tmp_path / "two"))
    assert again.exit_code == 0, again.stderr
    assert len(fake_openai.chat_requests) == 7
    rerun = json.loads(again.stdout)["judge"]
    assert rerun["faithfulness"] == 0.75 and rerun["parse_failures"]["faithfulness"] == 0


def test_eval_sweep_ranks_a_grid_without_touching_the_index(
    cli: Cli, demo_assistant: Assistant, tmp_path: Path
) -> None:
    small = eval_subset(tmp_path, {"f03", "f04", "p04", "p13", "p05", "p15", "m01"})
    current = demo_assistant.settings.collection_dir / "CURRENT"
    before = current.read_text(encoding="utf-8")
    run = cli("eval", "sweep", str(small), "--grid", "k=1,5,fusion=rrf,weighted", "--json")
    assert run.exit_code == 0, run.stderr
    result = json.loads(run.stdout)
    assert len(result["rows"]) == 4
    scores = [r["score"] for r in result["rows"]]
    assert scores == sorted(scores, reverse=True)  # best first
    by_config = {(r["config"]["k"], r["config"]["fusion"]): r["score"] for r in result["rows"]}
    for fusion in ("rrf", "weighted"):  # more passages never find less evidence
        assert by_config[(5, fusion)] >= by_config[(1, fusion)]
    assert by_config[(1, "rrf")] < 1.0  # the grid makes a difference on this set
    assert current.read_text(encoding="utf-8") == before
    table = cli("eval", "sweep", str(small), "--grid", "k=1,5")
    assert "best by recall: RAG_TOP_K=5" in table.stdout


def test_eval_sweep_builds_index_variants_in_a_temporary_folder(
    cli: Cli, hash_model: HashEmbedder, tmp_path: Path, corpus_copy: Path
) -> None:
    index = tmp_path / "index"
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(corpus_copy / "001_dc618f474d60921a.txt", one)
    assert cli("ingest", str(one), index=index, collection="one").exit_code == 0
    small = eval_subset(tmp_path, {"f04"})
    before = sorted(p.name for p in (index / "one").iterdir())
    run = cli(
        "eval",
        "sweep",
        str(small),
        "--grid",
        "chunk_size=96,160",
        "--retrieval-only",
        "--json",
        index=index,
        collection="one",
    )
    assert run.exit_code == 0, run.stderr
    rows = json.loads(run.stdout)["rows"]
    chunks = {r["config"]["chunk_tokens"]: r["chunks"] for r in rows}
    assert chunks[96] > chunks[160]  # two real indexes, chunked differently
    assert sorted(p.name for p in (index / "one").iterdir()) == before


@pytest.mark.parametrize(
    ("grid", "fragment"),
    [
        ("chunk_size=abc", "chunk_tokens='abc'"),
        ("colour=red", "'colour' is not a setting that can be swept"),
        ("160,200", "has no setting name"),
        ("k=0", "k must be 1 or more"),
        ("fusion=best", "fusion='best'"),
    ],
)
def test_eval_sweep_grid_errors(cli: Cli, grid: str, fragment: str) -> None:
    run = cli("eval", "sweep", "--grid", grid, entry="main")
    assert_one_line_error(run, fragment)


def test_eval_with_an_llm_counts_tokens_and_fallbacks(
    cli: Cli, tmp_path: Path, fake_openai: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = eval_subset(tmp_path, {"f03", "f04"})
    missing = cli("eval", str(small), "--backend", "openai", "--no-save", entry="main")
    assert_one_line_error(missing, "RAG_LLM_BASE_URL")  # not two silent fallbacks
    monkeypatch.setenv("RAG_LLM_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("RAG_LLM_MODEL", "fake-model")
    monkeypatch.setenv("RAG_LLM_MAX_RETRIES", "0")
    fake_openai.reply("Aliyev and Pashinyan met in Abu Dhabi [1].", usage=(120, 9))
    fake_openai.status(503, "overloaded")
    run = cli("eval", str(small), "--backend", "openai", "--json", "--no-save")
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    rows = {r["id"]: r for r in summary["questions"]}
    assert rows["f03"]["answer"]["backend"] == "openai"
    assert (rows["f03"]["scores"]["prompt_tokens"], rows["f03"]["scores"]["completion_tokens"]) == (
        120,
        9,
    )
    assert rows["f04"]["answer"]["backend"] == "extractive"  # the 503 fell back, with a notice
    assert rows["f04"]["scores"]["prompt_tokens"] is None
    assert any("503" in e for e in rows["f04"]["errors"])
    assert summary["answers"]["fallbacks"] == 1
    assert summary["tokens"] == {"prompt": 120, "completion": 9, "questions_counted": 1}


# --- what a file or a document controls is printed, never obeyed ----------------------------


def test_printable_escapes_control_characters() -> None:
    from rag.terminal import printable

    assert printable("a\x1b[31mred\x07\x9b\u202eb\U000e0041") == (
        "a\\x1b[31mred\\x07\\x9b\\u202eb\\U000e0041"
    )
    assert printable("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert printable("one\n\ntwo\x1b", multiline=True) == "one\n\ntwo\\x1b"
    assert printable("[bold]Ümlaut – “quoted” [/]") == "[bold]Ümlaut – “quoted” [/]"


def test_names_with_markup_and_escape_bytes_are_printed_literally(
    cli: Cli, hash_model: HashEmbedder, tmp_path: Path
) -> None:
    """`[/].txt` (a folder `[` holding `].txt`) once crashed the CLI after the index was
    written; `[final]` vanished from names; escape bytes reached the terminal."""
    folder = tmp_path / "hostile"
    (folder / "[").mkdir(parents=True)
    (folder / "[" / "].txt").write_text("No id can be made from this file name.\n")
    (folder / "bell\x1b]0;pwned\x07.txt").write_text("")  # empty: skipped, its name printed
    (folder / "[final] notes.txt").write_text(
        "The talks in Abu Dhabi lasted five hours and ended with a joint statement.\n"
    )
    index = tmp_path / "index"
    run = cli("ingest", str(folder), index=index, collection="hostile", entry="main")
    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr and "MarkupError" not in run.stderr
    summary = [line for line in run.stderr.splitlines() if line.startswith("ingest:")]
    assert len(summary) == 1 and "added 1" in summary[0] and "skipped 2" in summary[0]
    assert f"skipped {folder / '['}/].txt: " in run.stderr
    assert "\x1b" not in run.stderr and "\x07" not in run.stderr
    assert "bell\\x1b]0;pwned\\x07.txt" in run.stderr
    docs = cli("docs", index=index, collection="hostile")
    assert "[final]" in docs.stdout, docs.stdout
    found = cli("search", "talks in Abu Dhabi", "-k", "1", index=index, collection="hostile")
    assert found.exit_code == 0, found.exception
    assert "[final] notes" in found.stdout


def test_ingest_progress_shows_a_rate() -> None:
    from rich.progress import Progress

    from rag.cli import RateColumn, _rate

    assert _rate(50, 100, 2.0) == " (25.0/s)"
    assert _rate(0, 100, 2.0) == "" and _rate(1, 1, 2.0) == ""  # nothing done; one item
    now = [0.0]
    bar = Progress(RateColumn(), get_time=lambda: now[0])
    task = bar.add_task("embedding texts", total=100)
    bar.update(task, completed=10)
    now[0] = 2.0
    bar.update(task, completed=60)  # 50 more in 2 s
    assert RateColumn().render(bar.tasks[0]).plain == "25.0/s"

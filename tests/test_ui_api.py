"""The Gradio app through its API, as `gradio_client` sees it: the app is launched on a
free loopback port over the session's demo index (and, for uploads and removal, over a
copy of part of the corpus in tmp; the real corpus/ and index/ are never written)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from helpers import free_port, small_library

from rag import serialize
from rag.assistant import Assistant
from ui.app import launch

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Why has Russia lost influence in the South Caucasus?"
HAS_COMPARE = hasattr(Assistant, "compare")
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
needs_compare = pytest.mark.skipif(
    not HAS_COMPARE,
    reason="Assistant.compare (and serialize.comparison_markdown) have not landed yet; "
    "the Compare tab is built against that interface",
)


def text_of(message: dict[str, Any]) -> str:
    """A chatbot message's text (Gradio 6 sends content as a list of parts)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


@pytest.fixture(scope="module")
def served(demo_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    runs_dir = tmp_path_factory.mktemp("runs")
    port = free_port()
    demo = launch(
        demo_assistant,
        port=port,
        prevent_thread_lock=True,
        quiet=True,
        runs_dir=runs_dir,
        eval_set=ROOT / "eval" / "questions.jsonl",
    )
    demo.runs_dir = runs_dir  # type: ignore[attr-defined]
    demo.url = f"http://127.0.0.1:{port}/"  # type: ignore[attr-defined]
    yield demo
    demo.close()


@pytest.fixture
def client(served: Any) -> Client:
    return Client(served.url, verbose=False, download_files=False)


def ask(client: Client, question: str, **options: Any) -> tuple[list[dict[str, Any]], str]:
    chat, sources, _textbox = client.predict(
        question,
        options.get("backend", "extractive"),
        options.get("k", 5),
        options.get("author", ""),
        options.get("doc", ""),
        api_name="/ui_ask",
    )
    return chat, sources


def test_ask_answers_with_citations_linked_to_source_cards(client: Client) -> None:
    chat, sources = ask(client, QUESTION)
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = text_of(chat[-1])
    links = re.findall(r'href="#source-(\d+)"', answer)
    assert links, answer
    for n in links:  # every citation has its card, with the cited sentence highlighted
        pattern = rf'<article class="source-card" id="source-{n}".*?</article>'
        card = re.search(pattern, sources, re.S)
        assert card, f"no card for [{n}]"
        assert "<mark>" in card.group(0)
        assert "relevance" in card.group(0)
    assert "Neil Melvin" in sources  # author shown on the cards


def test_follow_up_keeps_the_conversation_and_shows_the_standalone_question(
    client: Client,
) -> None:
    ask(client, "What is Russia's role in Armenia?")
    chat, sources = ask(client, "And what about Georgia?")
    assert len(chat) == 4
    assert "Understood as" in text_of(chat[-1])
    assert "Georgia" in text_of(chat[-1])
    # the earlier answer's citations now point at its own (collapsed) cards
    assert re.search(r'href="#source-t1-\d+"', text_of(chat[1]))
    assert 'class="earlier"' in sources


def _eval_rows() -> list[dict[str, Any]]:
    text = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_refusal_reads_as_a_refusal_with_related_passages_apart(
    client: Client, demo_assistant: Assistant
) -> None:
    unanswerable = [r["question"] for r in _eval_rows() if r["type"] == "unanswerable"]
    refused = next((q for q in unanswerable if demo_assistant.ask(q).refused), None)
    if refused is None:
        pytest.skip("the answerer refuses none of the eval set's unanswerable questions")
    chat, sources = ask(client, refused)
    answer = text_of(chat[-1])
    assert "No answer in the documents" in answer
    assert 'href="#source-' not in answer
    assert "Related passages" in sources
    assert 'id="related-' in sources


def test_a_notice_says_when_the_llm_was_not_used(client: Client, demo_assistant: Assistant) -> None:
    if demo_assistant.settings.llm_base_url:
        pytest.skip("an LLM endpoint is configured (RAG_LLM_BASE_URL); no fallback to show")
    chat, sources = ask(client, QUESTION, backend="openai")
    answer = text_of(chat[-1])
    assert "⚠" in answer and "language model was not used" in answer
    assert 'href="#source-' in answer  # the extractive answer, with its citations
    assert "<mark>" in sources


def test_filters_restrict_the_sources(client: Client, demo_assistant: Assistant) -> None:
    author = "Neil Melvin"
    _, sources = ask(client, QUESTION, author=author)
    cards = re.findall(r'<div class="card-meta">(.*?)</div>', sources)
    assert cards and all(author in c for c in cards), cards
    doc_id = next(iter(demo_assistant.index.documents))
    _, sources = ask(client, QUESTION, doc=doc_id)
    latest = sources.split('<details class="earlier">')[0]  # this answer's cards only
    assert set(re.findall(r'data-doc="([^"]+)"', latest)) == {doc_id}


def test_library_lists_documents_and_settings(client: Client, demo_assistant: Assistant) -> None:
    header, table, *_ = client.predict(api_name="/ui_library")
    index = demo_assistant.index
    assert f"{len(index.documents)} documents" in header
    assert table.count("<tr data-doc=") == len(index.documents)


COMPARE_QUESTION = "How has Russia's position in the South Caucasus changed?"


@needs_compare
def test_compare_gives_one_row_per_author(client: Client, demo_assistant: Assistant) -> None:
    html, _download = client.predict(COMPARE_QUESTION, [], "extractive", api_name="/ui_compare")
    rows = re.findall(r'<tr class="perspective[^"]*" data-author="([^"]*)"', html)
    comparison = demo_assistant.compare(COMPARE_QUESTION, backend="extractive")
    assert len(rows) == len(comparison.perspectives) >= 2
    known = [a for a in rows if a]
    assert len(set(known)) == len(known), rows  # one row per author
    silent = sum(1 for p in comparison.perspectives if not p.addressed)
    assert html.count("Does not address this question.") == silent
    assert "Where they agree" in html and "Where they diverge" in html


@needs_compare
@pytest.mark.skipif(
    not hasattr(serialize, "comparison_markdown"),
    reason="rag.serialize.comparison_markdown has not landed yet (the export button stays "
    "hidden until it does)",
)
def test_compare_exports_markdown(client: Client, demo_assistant: Assistant) -> None:
    _html, download = client.predict(COMPARE_QUESTION, [], "extractive", api_name="/ui_compare")
    assert download.get("visible", True) is not False, download
    value = download.get("value", download)
    url = value["url"] if isinstance(value, dict) else None
    assert url, download
    text = httpx.get(url).text
    comparison = demo_assistant.compare(COMPARE_QUESTION, backend="extractive")
    assert text == serialize.comparison_markdown(comparison)  # type: ignore[attr-defined]


def test_compare_without_a_question_is_an_error(client: Client) -> None:
    with pytest.raises(AppError, match="Type a question"):
        client.predict("  ", [], "extractive", api_name="/ui_compare")


def _tiny_eval_set(folder: Path) -> Path:
    rows = _eval_rows()
    picked = [next(r for r in rows if r["type"] == t) for t in ("factual", "paraphrase")]
    picked.append(next(r for r in rows if r["type"] == "unanswerable"))
    target = folder / "tiny.jsonl"
    target.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return target


def test_evaluate_a_small_set_saves_the_run_and_drills_down(
    client: Client, served: Any, tmp_path: Path
) -> None:
    eval_set = _tiny_eval_set(tmp_path)
    status, table, plot, picker, _drill, _run_a, run_b = client.predict(
        "upload", handle_file(str(eval_set)), 3, "extractive", True, api_name="/ui_evaluate"
    )
    assert "3 questions" in status
    assert "answers (extractive)" in status
    types = [row[0] for row in table["value"]["data"]]
    assert types == ["factual", "paraphrase", "unanswerable", "overall"], table
    assert table["value"]["headers"][2] == "recall@3"
    assert {row[0] for row in plot["data"]} == {"factual", "paraphrase"}
    ids = [value for _label, value in picker["choices"]]
    assert len(ids) == 3
    assert run_b["value"] in {name for _label, name in run_b["choices"]}

    saved = sorted(p for p in served.runs_dir.iterdir() if p.is_dir())
    latest = saved[-1]
    summary = json.loads((latest / "summary.json").read_text(encoding="utf-8"))
    assert summary["k"] == 3 and "questions" not in summary
    results = (latest / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["id"] for r in results] == ids

    drill = client.predict(ids[0], api_name="/ui_drilldown")
    assert "Retrieved passages" in drill
    assert re.search(r'class="badge (pass|fail)"', drill)

    # a second run, then the deltas between the two saved runs
    client.predict(
        "upload", handle_file(str(eval_set)), 1, "extractive", False, api_name="/ui_evaluate"
    )
    names = sorted(p.name for p in served.runs_dir.iterdir() if p.is_dir())
    deltas = client.predict(names[-2], names[-1], api_name="/ui_compare_runs")
    rows = {(r[0], r[1]): r for r in deltas["value"]["data"]}
    _scope, _metric, n, a, b, delta, interval, verdict = rows[("overall", "recall")]
    assert n == 2  # the two answerable questions, paired by id
    assert float(delta) == pytest.approx(float(b) - float(a), abs=2e-3)
    assert delta.startswith(("+", "-")) and interval.startswith("[")
    assert verdict in {"better", "worse", "no significant change"}


def test_evaluate_rejects_a_broken_eval_set(client: Client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(AppError, match="not valid JSON"):
        client.predict(
            "upload", handle_file(str(broken)), 3, "extractive", False, api_name="/ui_evaluate"
        )


# ------------------------------------------------------------------ uploads and removal


@pytest.fixture(scope="module")
def library_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, Assistant, Path]]:
    """An app over its own small index built from a copy of two corpus documents. Adding
    and removing documents is index mechanics: the hash embedder stands in for the model."""
    root = tmp_path_factory.mktemp("library")
    assistant = small_library(root)
    corpus = root / "corpus"
    port = free_port()
    demo = launch(
        assistant, port=port, prevent_thread_lock=True, quiet=True, runs_dir=root / "runs"
    )
    demo.url = f"http://127.0.0.1:{port}/"  # type: ignore[attr-defined]
    yield demo, assistant, corpus
    demo.close()


def _real_corpus() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (ROOT / "corpus").iterdir()}


GOOD = """# Notes on the Black Sea grain corridor

By Test Author

The Black Sea grain corridor reopened shipping lanes for Ukrainian wheat in 2023.
Insurers in London priced the war risk premium at one percent of hull value.
"""


def test_upload_adds_a_good_file_and_refuses_a_bad_one(
    library_app: tuple[Any, Assistant, Path], tmp_path: Path
) -> None:
    demo, assistant, corpus = library_app
    real_before = _real_corpus()
    client = Client(demo.url, verbose=False, download_files=False)
    before = set(assistant.index.documents)

    good = tmp_path / "grain corridor.md"
    good.write_text(GOOD, encoding="utf-8")
    report, header, table, *_rest = client.predict(
        [handle_file(str(good))], api_name="/ui_add_documents"
    )
    assert "added as grain_corridor.md" in report, report
    assert (corpus / "grain_corridor.md").is_file()
    after = set(assistant.index.documents)
    assert after - before == {"grain-corridor"}
    assert 'data-doc="grain-corridor"' in table
    assert f"{len(after)} documents" in header

    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4\n this is not really a PDF \x00\x01\x02")
    generation = assistant.index.path
    report, *_ = client.predict([handle_file(str(bad))], api_name="/ui_add_documents")
    assert "scan.pdf: not added" in report, report
    assert 'class="error"' in report
    assert set(assistant.index.documents) == after  # index unchanged
    assert assistant.index.path == generation
    assert not (corpus / "scan.pdf").exists()  # the corpus folder still matches the index

    assert _real_corpus() == real_before


def test_upload_refuses_unsupported_types_and_oversize_files(
    library_app: tuple[Any, Assistant, Path], tmp_path: Path
) -> None:
    demo, assistant, corpus = library_app
    client = Client(demo.url, verbose=False, download_files=False)
    before = set(assistant.index.documents)
    listing = sorted(p.name for p in corpus.iterdir())

    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    with pytest.raises(AppError, match="Invalid file type"):
        client.predict([handle_file(str(exe))], api_name="/ui_add_documents")

    big = tmp_path / "big.txt"
    big.write_text("word " * 60_000, encoding="utf-8")  # 300 kB > the 200 kB limit here
    response = httpx.post(
        f"{demo.url}gradio_api/upload",
        files={"files": ("big.txt", big.read_bytes(), "text/plain")},
    )
    assert response.status_code == 413, response.text

    assert set(assistant.index.documents) == before
    assert sorted(p.name for p in corpus.iterdir()) == listing


def test_remove_deletes_the_file_and_the_document(
    library_app: tuple[Any, Assistant, Path],
) -> None:
    demo, assistant, corpus = library_app
    real_before = _real_corpus()
    client = Client(demo.url, verbose=False, download_files=False)
    doc_id = sorted(assistant.index.documents)[0]
    source = Path(assistant.index.documents[doc_id].meta.source).resolve()
    assert source.parent == corpus.resolve()

    report, _confirm, _header, table, *_ = client.predict(doc_id, api_name="/ui_remove_document")
    assert "Removed" in report, report
    assert doc_id not in assistant.index.documents
    assert not source.exists()
    assert f'data-doc="{doc_id}"' not in table
    assert _real_corpus() == real_before

    with pytest.raises(AppError, match=r"not in the (index|list of choices)"):
        client.predict(doc_id, api_name="/ui_remove_document")

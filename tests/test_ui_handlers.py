"""The app's handlers (ui/handlers.py) called as plain functions, no Gradio and no server,
over the facade: the Ask tab's streaming and conversation, the messages a user gets for
bad input, and the Library tab's upload and removal through `Assistant.add_documents` /
`remove_document` over a small index of its own (the real corpus/ is never written)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer
from helpers import eval_subset, llm_assistant

from rag.assistant import Assistant
from rag.embeddings import Embedder
from rag.library import LibraryError
from rag.plaintext import plain
from rag.settings import Settings
from ui import handlers
from ui.handlers import Context, UserError
from ui.render import md_text
from ui.reports import report_file, report_href

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Why has Russia lost influence in the South Caucasus?"


def context(assistant: Assistant, tmp_path: Path) -> Context:
    return Context(
        assistant=assistant,
        runs_dir=tmp_path / "runs",
        eval_set=ROOT / "eval" / "questions.jsonl",
        export_dir=tmp_path,
    )


def test_ask_streams_then_shows_the_answer_and_its_sources(
    demo_assistant: Assistant, tmp_path: Path
) -> None:
    ctx = context(demo_assistant, tmp_path)
    steps = list(handlers.ask(ctx, QUESTION, None, "extractive", 5, "", ""))
    chat, sources, session, box = steps[0]
    assert chat[-1]["content"] == "*Searching the documents…*" and box == ""
    assert sources == handlers.update()  # the sources panel waits for the answer
    chat, sources, session, box = steps[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    cited = re.findall(r'href="#source-(\d+)"', chat[-1]["content"])
    assert cited and all(f'id="source-{n}"' in sources for n in cited)
    assert session.turns[-1].answer.question == QUESTION
    follow = list(handlers.ask(ctx, "And what about Georgia?", session, "extractive", 5, "", ""))
    assert "Understood as" in follow[-1][0][-1]["content"]
    assert len(session.conversation.turns) == 2


def test_an_llm_answer_streams_into_the_chat_then_its_citations_become_links(
    demo_assistant: Assistant, embedder: Embedder, fake_openai: FakeOpenAIServer, tmp_path: Path
) -> None:
    assistant = llm_assistant(demo_assistant, embedder, fake_openai.base_url)
    chunks = ["Aliyev and ", "Pashinyan met ", "in Abu Dhabi ", "[1]."]
    fake_openai.stream(chunks)
    steps = list(handlers.ask(context(assistant, tmp_path), QUESTION, None, "openai", 5, "", ""))
    assert fake_openai.chat_requests[0].stream is True
    shown = [chat[-1]["content"] for chat, *_ in steps]
    assert shown[0] == "*Searching the documents…*"
    partial = shown[1:-1]
    # one message per chunk as it arrives, each the one before plus the next chunk
    assert len(partial) == len(chunks)
    for n, content in enumerate(partial, 1):
        assert content.endswith(" ▍")
        assert content.removesuffix(" ▍") == md_text(plain("".join(chunks[:n])))
    assert "href=" not in "".join(partial)  # no half-resolved citation while streaming
    final, sources = shown[-1], steps[-1][1]
    assert "▍" not in final and "Abu Dhabi" in final
    assert re.findall(r'<a class="cite" href="#source-(\d+)"', final) == ["1"]
    assert 'id="source-1"' in sources
    assert steps[-1][2].turns[-1].answer.backend == "openai"


def test_an_evaluation_links_its_saved_report(demo_assistant: Assistant, tmp_path: Path) -> None:
    ctx = context(demo_assistant, tmp_path)
    eval_set = eval_subset(tmp_path, {"f03", "u08"})
    status, *_ = handlers.evaluate(ctx, "upload", str(eval_set), 3, "extractive", False)
    [href] = re.findall(r'<a href="([^"]+)" target="_blank"', status)
    [name] = [p.name for p in ctx.runs_dir.iterdir()]
    assert href == report_href(name) == f"runs/{name}/report.html"
    assert report_file(ctx.runs_dir, name) == (ctx.runs_dir / name / "report.html").resolve()


def test_an_empty_question_changes_nothing(demo_assistant: Assistant, tmp_path: Path) -> None:
    [(chat, sources, session, box)] = handlers.ask(
        context(demo_assistant, tmp_path), "   ", None, "extractive", 5, None, None
    )
    assert chat == [] and not session.turns
    assert sources == box == handlers.update()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ctx: handlers.compare(ctx, " ", [], "extractive"), "Type a question"),
        (
            lambda ctx: handlers.evaluate(ctx, "upload", None, 5, "extractive", False),
            "Upload a JSONL eval set first",
        ),
        (
            lambda ctx: handlers.evaluate(ctx, "upload", "set.csv", 5, "extractive", False),
            "must be a .jsonl file",
        ),
        (lambda ctx: handlers.compare_runs(ctx, "", "x"), "Pick two saved runs"),
        (lambda ctx: handlers.compare_runs(ctx, "../..", "x"), "Cannot read the run: not a run"),
        (lambda ctx: handlers.add_documents(ctx, []), "Choose one or more files"),
        (lambda ctx: handlers.ask_removal(ctx, None), "Pick the document to remove"),
    ],
)
def test_bad_input_is_a_message_for_the_user(
    demo_assistant: Assistant, tmp_path: Path, call: Any, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        call(context(demo_assistant, tmp_path))


def test_the_index_views_list_every_document(demo_assistant: Assistant, tmp_path: Path) -> None:
    header, table, authors, docs, compare_authors, remove_pick = handlers.index_views(
        context(demo_assistant, tmp_path)
    )
    entries = demo_assistant.documents()
    assert f"{len(entries)} documents" in header
    assert f"{sum(e.chunks for e in entries)} passages" in header
    assert table.count("<tr data-doc=") == len(entries)
    ids = {e.document.doc_id for e in entries}
    assert {v for _, v in remove_pick["choices"]} == ids and remove_pick["value"] is None
    assert {v for _, v in docs["choices"]} == {"", *ids}
    assert {v for _, v in compare_authors["choices"]} == set(demo_assistant.authors())
    assert authors["choices"][0] == ("All authors", "")


# ------------------------------------------------------------------ the library


@pytest.fixture
def library(embedder: Embedder, tmp_path: Path) -> Iterator[tuple[Context, Path]]:
    """An assistant over an index of its own, built from two short files in a corpus
    folder in tmp."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "grain.md").write_text(
        "# Grain\n\nBy Ann Author\n\nThe Black Sea grain corridor reopened in 2023. "
        "Insurers priced the war risk at one percent of hull value.\n",
        encoding="utf-8",
    )
    (corpus / "ports.txt").write_text(
        "By Bo Writer\n\nThe port of Poti handles most of Georgia's container traffic. "
        "Anaklia was meant to take deep-sea ships.\n",
        encoding="utf-8",
    )
    settings = Settings(  # type: ignore[call-arg]
        index_dir=tmp_path / "index",
        collection="lib",
        corpus_dir=corpus,
        max_file_bytes=10_000,
        _env_file=None,
    )
    assistant = Assistant(settings, embedder_factory=lambda: embedder)
    assert assistant.ingest([corpus]).ok
    yield context(assistant, tmp_path), corpus


def test_adding_keeps_what_ingests_and_refuses_the_rest(
    library: tuple[Context, Path], tmp_path: Path
) -> None:
    ctx, corpus = library
    good = tmp_path / "new notes.txt"
    good.write_text("By Cy Reporter\n\nThe Middle Corridor crosses the Caspian.\n", "utf-8")
    broken = tmp_path / "scan.pdf"
    broken.write_bytes(b"%PDF-1.4\n not a PDF \x00\x01")
    empty, program = tmp_path / "empty.txt", tmp_path / "tool.exe"
    empty.write_bytes(b"")
    program.write_bytes(b"MZ")
    before = ctx.assistant.index.path

    report = ctx.assistant.add_documents([good, broken, empty, program])
    outcomes = {f.name: (f.outcome, f.detail) for f in report.files}
    assert outcomes["new notes.txt"] == ("added", "new_notes.txt")
    assert outcomes["scan.pdf"][0] == "not added"
    assert outcomes["empty.txt"] == ("refused", "the file is empty")
    assert outcomes["tool.exe"][0] == "refused" and ".pdf" in outcomes["tool.exe"][1]
    assert sorted(p.name for p in corpus.iterdir()) == ["grain.md", "new_notes.txt", "ports.txt"]
    assert "new-notes" in ctx.assistant.index.documents
    assert ctx.assistant.index.path != before

    lines = handlers.add_report_lines(report)
    assert ("ok", "new notes.txt: added as new_notes.txt") in lines
    assert ("error", "empty.txt: refused — the file is empty") in lines
    assert lines[-1][0] == "info" and "3 documents" in lines[-1][1]


def test_removal_deletes_only_a_corpus_file_and_updates_the_index(
    library: tuple[Context, Path], tmp_path: Path
) -> None:
    ctx, corpus = library
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "memo.txt").write_text("By Di Analyst\n\nBaku hosted the summit.\n", "utf-8")
    ctx.assistant.ingest([corpus, outside])
    with pytest.raises(LibraryError, match="not ingested from the corpus folder"):
        ctx.assistant.removal_target("memo")
    with pytest.raises(LibraryError, match="not in the index"):
        ctx.assistant.remove_document("nothing-like-it")

    box, text = handlers.ask_removal(ctx, "grain")
    assert box == handlers.update(visible=True) and "grain.md" in text
    report, box, header, *_ = handlers.remove_document(ctx, "grain")
    assert "Removed grain.md (grain)." in report and box == handlers.update(visible=False)
    assert not (corpus / "grain.md").exists() and (outside / "memo.txt").exists()
    assert "grain" not in ctx.assistant.index.documents
    assert "2 documents" in header  # ports and the memo outside the corpus folder

"""A question that names its source ("per the RUSI paper", "in Askerov's view") is about
that document: retrieval boosts it, and sentence context reaches back past a chunk's start."""

from __future__ import annotations

from collections import Counter

import pytest
from fakes import HashEmbedder

from rag.assistant import Assistant
from rag.question import analyse
from rag.retrieval import Filters, Retriever
from rag.scoring import SentenceScorer
from rag.sources import SourceNames, source_names
from rag.types import Chunk, DocumentMeta, Passage

RUSI = DocumentMeta(
    doc_id="rusi",
    source="melvin.txt",
    content_hash="0",
    author="Neil Melvin",
    outlet="RUSI (Royal United Services Institute)",
)
EIR = DocumentMeta(
    doc_id="eir",
    source="askerov.pdf",
    content_hash="1",
    author="Ali Askerov",
    outlet="E-International Relations",
    url="https://www.e-ir.info/2025/08/10/opinion/",
)
LONG = DocumentMeta(doc_id="long", source="long.md", content_hash="2", author="Ann Long")
ANONYMOUS = DocumentMeta(doc_id="anon", source="anon.txt", content_hash="3")
DOCUMENTS = {meta.doc_id: meta for meta in (RUSI, EIR, LONG, ANONYMOUS)}


def test_a_document_is_named_by_author_outlet_acronym_or_site() -> None:
    assert {"Neil Melvin", "Melvin", "RUSI"} <= source_names(RUSI)
    assert {"Askerov", "E-International Relations", "e-ir"} <= source_names(EIR)
    assert source_names(ANONYMOUS) == frozenset()
    broken = DocumentMeta(doc_id="x", source="x.txt", content_hash="4", url="http://[::1")
    assert source_names(broken) == frozenset()


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Which EU states does the RUSI paper single out?", {"rusi"}),
        ("In Melvin's view, what went wrong?", {"rusi"}),
        ("What year, per the E-IR opinion piece?", {"eir"}),
        ("According to Ali Askerov, who mediated?", {"eir"}),
        ("Do Melvin and Askerov agree on Turkey?", {"rusi", "eir"}),
        ("How long did Russian troops stay?", set()),  # "long" and "Russian" name nothing
        ("What did Ann Long write about ports?", {"long"}),
        ("What does the rusi acronym stand for?", set()),  # written in lower case
    ],
)
def test_which_documents_a_question_names(question: str, named: set[str]) -> None:
    assert SourceNames.of(DOCUMENTS).named(question) == named


def test_a_named_source_may_fill_the_result_and_comes_first(demo_assistant: Assistant) -> None:
    """The demo index, real model: unboosted, no document gives more than three passages;
    naming the RUSI paper lets it give all five, the best first."""
    question = "What does the RUSI paper say about Moscow's influence in the region?"
    index, embedder = demo_assistant.index, demo_assistant.embedder
    rusi = next(d for d, doc in index.documents.items() if doc.meta.author == "Neil Melvin")
    off = Retriever(index, embedder, demo_assistant.settings.model_copy(update={"source_boost": 0}))
    on = Retriever(index, embedder, demo_assistant.settings.model_copy(update={"source_boost": 3}))
    assert on.named_sources(question) == {rusi}
    assert off.named_sources(question) == frozenset()
    assert max(Counter(p.chunk.doc_id for p in off.search(question, k=5)).values()) <= 3
    boosted = on.search(question, k=5)
    assert [p.chunk.doc_id for p in boosted] == [rusi] * 5
    # filtered to another author, the named source is not searched and lifts no cap
    other = on.search(question, k=5, filters=Filters(authors=("Askerov",)))
    assert 0 < len(other) <= 3 and rusi not in {p.chunk.doc_id for p in other}


def test_sentence_context_reaches_back_past_the_chunk_start() -> None:
    """A chunk that begins "It has reacted ..." names no country; the document before it
    says who "it" is, so a sentence about Georgia is not taken for another country's."""
    text = (
        "Russia has long treated its neighbourhood as its own. It has reacted with hostility "
        "whenever a neighbour turned west. Examples include the invasion of Georgia in 2008 "
        "and the war on Ukraine in 2022."
    )
    start = text.index("It has")
    meta = DocumentMeta(doc_id="d", source="d.txt", content_hash="h")
    passage = Passage(Chunk("d:0", "d", 0, text[start:], start, len(text)), meta, 1.0, 1)
    analysis = analyse("In what year did Moscow send troops into Georgia?", {})
    examples = "Examples include"

    def rival(scorer: SentenceScorer) -> bool:
        scored, _ = scorer.score(analysis, [passage])
        return next(s for s in scored if s.text.startswith(examples)).rival

    assert rival(SentenceScorer(HashEmbedder(), {}))
    assert not rival(SentenceScorer(HashEmbedder(), {}, document_text={"d": text}.get))


def test_an_author_named_in_the_question_is_not_what_the_answer_must_mention() -> None:
    question = "Which EU states does Melvin single out?"
    idf = {"melvin": 5.0, "singl": 3.0, "state": 1.0}
    plain = analyse(question, idf)
    pointed = analyse(question, idf, authors=["Neil Melvin"])
    assert "Melvin" in plain.focus.names
    assert "Melvin" not in pointed.focus.names and "melvin" not in pointed.focus.terms
    assert "melvin" not in pointed.terms

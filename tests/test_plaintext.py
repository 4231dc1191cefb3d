"""A Markdown document's text as the app shows it (rag/plaintext.py, ui/render.py): no raw
syntax in source cards or answers, and the highlighted quote covers exactly its words."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from rag.ingest.catalog import Catalog
from rag.ingest.loaders import load_document
from rag.plaintext import plain, plain_markdown
from rag.types import Answer, Chunk, Citation, Document, Passage
from ui.render import answer_markdown, source_card

FIXTURE = Path(__file__).parent / "fixtures" / "markdown" / "caucasus-notes.md"
# Sentences of the fixture as the index holds them (the quotes citations carry).
QUOTES = (
    "Russia has lost its position of __pre-eminence__ in the South Caucasus, as the "
    "*war in Ukraine* drew its attention",
    "Azerbaijan grew stronger after the **Second Nagorno-Karabakh War** of 2020.",
    "The old order rested on __frozen conflicts__ that Moscow used for leverage.",
)
RAW_SYNTAX = re.compile(r"(?m)^\s*(?:#|[*+-]\s|>|---)|__|\*\*|\]\(|!\[|\\[*_]|(?<!\w)_|_(?!\w)")


@pytest.fixture(scope="module")
def document() -> Document:
    return load_document(FIXTURE, catalog=Catalog(), max_bytes=1_000_000)


def passage(document: Document) -> Passage:
    text = document.text
    chunk = Chunk(chunk_id="notes#0", doc_id="notes", index=0, text=text, start=0, end=len(text))
    return Passage(chunk=chunk, meta=document.meta, score=1.0, rank=1)


def shown_text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_the_cleaned_text_keeps_its_markdown(document: Document) -> None:
    # the premise: quotes point into text that still has the syntax
    assert all(q in document.text for q in QUOTES)


def test_a_source_card_shows_rendered_text_and_marks_exactly_the_quotes(
    document: Document,
) -> None:
    card = source_card(passage(document), 1, card_id="source-1", quotes=QUOTES)
    body = card[card.index('<div class="passage">') : card.index("<footer")]
    seen = shown_text(body)
    assert not RAW_SYNTAX.search(seen), RAW_SYNTAX.findall(seen)
    assert "Russia and the region" in shown_text(card)  # the heading, without its #
    assert "pre-eminence in the South Caucasus" in seen
    assert "according to a RUSI paper." in seen and "rusi.org" not in seen
    assert "▲ Figure 1: Map of the region. Source: Wikimedia." in seen
    assert "• Azerbaijan grew stronger" in seen and "• Turkey, Iran" in seen
    # what is not syntax stays as written
    assert "snake_case names and arithmetic like 2*3*4" in seen and "escaped *stars*" in seen
    marked = [shown_text(m) for m in re.findall(r"<mark>(.*?)</mark>", body)]
    assert marked == [plain(q) for q in QUOTES]


def test_an_answer_quoting_the_document_shows_no_markdown(document: Document) -> None:
    source = passage(document)
    quote = QUOTES[2]
    answer = Answer(
        question="q",
        standalone_question="q",
        text=f"{QUOTES[0]} [1]. {quote} [1]",
        citations=(Citation(n=1, passage=source, quote=quote),),
        passages=(source,),
        refused=False,
        backend="extractive",
    )
    shown = answer_markdown(answer)
    assert "__" not in shown and "\\_" not in shown and "\\*" not in shown
    assert "rested on frozen conflicts that Moscow" in shown
    assert shown.count('href="#source-1"') == 2


def test_every_shown_character_maps_back_to_its_source(document: Document) -> None:
    shown = plain_markdown(document.text)
    assert len(shown.origin) == len(shown.text)
    assert list(shown.origin) == sorted(shown.origin)
    for char, at in zip(shown.text, shown.origin, strict=True):
        assert char == document.text[at] or char in "• \n"

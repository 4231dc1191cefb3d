"""What a reader copies from an answer, the link from each answer to its sources, and the
conversations the browser keeps (ui.history): plain functions, no browser (the browser
side is in tests/test_ui_browser.py)."""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.conversation import Conversation
from rag.types import Answer, Chunk, Citation, DocumentMeta, Passage
from ui import handlers, history
from ui.render import (
    ChatSession,
    Turn,
    answer_markdown,
    answer_plain_text,
    chat_messages,
    sources_html,
)

QUESTION = "Why has Russia lost influence in the South Caucasus?"


def _passage(n: int, text: str, **meta: str | None) -> Passage:
    fields = {"title": f"Title {n}", "author": "Neil Melvin", "outlet": "RUSI", "date": None}
    fields.update(meta)
    info = DocumentMeta(doc_id=f"d{n}", source=f"/srv/corpus/d{n}.txt", content_hash="0", **fields)
    chunk = Chunk(chunk_id=f"d{n}#0", doc_id=f"d{n}", index=0, text=text, start=0, end=len(text))
    return Passage(chunk=chunk, meta=info, score=1.0 / n, rank=n)


TEXT = "Moscow lost ground (the CSTO failed) [1]. Turkey gained [2, 1]."


def _answer(text: str = TEXT) -> Answer:
    one = _passage(1, "The CSTO failed Armenia.", date="2024-11-18", url="https://rusi.org/x")
    two = _passage(2, "Turkey gained.", author="Vasif Huseynov", outlet=None, url="javascript:x")
    three = _passage(3, "Not cited.")
    return Answer(
        question=QUESTION,
        standalone_question=QUESTION,
        text=text,
        citations=(Citation(1, one, "The CSTO failed Armenia."), Citation(2, two, None)),
        passages=(one, two, three),
        refused=False,
        backend="extractive",
    )


def _carried(markdown: str) -> str:
    """The plain text the hidden span carries, as the browser decodes its attribute."""
    [value] = re.findall(r'<span class="copy-text" hidden title="([^"]*)"></span>', markdown)
    return html.unescape(value)


# ---------------------------------------------------------------- copy as plain text


def test_an_answer_copies_as_plain_text_with_its_references() -> None:
    answer = _answer()
    plain = answer_plain_text(answer)
    assert plain == (
        "Moscow lost ground (the CSTO failed) [1]. Turkey gained [2, 1].\n\n"
        "References\n"
        "[1] Title 1 — Neil Melvin, RUSI, 2024-11-18, https://rusi.org/x\n"
        "[2] Title 2 — Vasif Huseynov"  # no outlet, no date; a non-http URL is left out
    )
    markdown = answer_markdown(answer)
    assert _carried(markdown) == plain
    # nothing of the carrier reads as Markdown or markup: no brackets, no newlines, no tags
    carrier = markdown[markdown.index('<span class="copy-text"') :]
    assert not re.search(r"[\[\]()\n<>]", carrier.split('title="', 1)[1].split('"', 1)[0])


def test_a_refusal_copies_without_references() -> None:
    refused = Answer(
        question="Who won the 2030 election?",
        standalone_question="Who won the 2030 election?",
        text="The documents do not say.",
        citations=(),
        passages=(),
        refused=True,
        backend="extractive",
        related=(_passage(1, "Elections."),),
    )
    assert answer_plain_text(refused) == "No answer in the documents. The documents do not say."
    markdown = answer_markdown(refused)
    assert "beside the chat" not in markdown and "under Sources" in markdown
    assert 'href="#answer-source-list"' in markdown  # the related passages, one tap away
    assert 'href="#source-' not in markdown  # and no citation link


# ---------------------------------------------------------------- a link to each answer's sources


def test_each_answer_links_to_its_own_group_in_the_sources_panel() -> None:
    session = ChatSession(conversation=Conversation())
    session.turns = [Turn(f"question {i}", _answer()) for i in range(7)]
    panel = sources_html(session)
    chat = chat_messages(session)
    linked = [re.findall(r'class="sources-link" href="#([^"]+)"', m["content"]) for m in chat[1::2]]
    # the panel holds the newest answer and four earlier ones: those link, older ones do not
    assert linked[:2] == [[], []]
    assert linked[2:] == [[f"answer-source-t{i}-list"] for i in (3, 4, 5, 6)] + [
        ["answer-source-list"]
    ]
    for [target] in linked[2:]:
        assert f'id="{target}"' in panel


# ---------------------------------------------------------------- conversations kept in the browser


def test_a_conversation_survives_the_trip_through_the_browser_store() -> None:
    session = ChatSession(conversation=Conversation([(QUESTION, "Moscow lost ground")]))
    session.turns = [Turn(QUESTION, _answer()), Turn("And Georgia?", None, "Could not answer: x")]
    store = json.loads(json.dumps(history.saved(history.empty_store(), "", session)))
    assert "/srv/corpus" not in json.dumps(store)  # no server paths in the browser
    back = history.find(store, "", session.id)
    assert back is not None and back.id == session.id
    assert back.conversation.turns == session.conversation.turns
    assert back.turns[1].error == "Could not answer: x"
    assert chat_messages(back) == chat_messages(session)
    assert sources_html(back) == sources_html(session)


def test_the_store_keeps_each_users_list_newest_first_and_bounded() -> None:
    store = history.empty_store()
    sessions = []
    for i in range(history.MAX_CONVERSATIONS + 2):
        session = ChatSession(conversation=Conversation(), turns=[Turn(f"q{i}", _answer())])
        sessions.append(session)
        store = history.saved(store, "ann", session, now=1000.0 + i)
    ids = [e["id"] for e in history.conversations(store, "ann")]
    assert len(ids) == history.MAX_CONVERSATIONS and ids[0] == sessions[-1].id
    assert sessions[0].id not in ids  # the oldest went
    assert history.conversations(store, "") == []  # another user sees none of them
    store = history.saved(store, "ann", sessions[5], now=5000.0)  # asked again: first
    assert history.conversations(store, "ann")[0]["id"] == sessions[5].id
    assert len(history.conversations(store, "ann")) == history.MAX_CONVERSATIONS
    long = ChatSession(conversation=Conversation(), turns=[Turn(f"t{i}") for i in range(30)])
    [kept] = history.conversations(history.saved(history.empty_store(), "", long), "")
    assert [t["question"] for t in kept["turns"]] == [
        f"t{i}" for i in range(30 - history.MAX_TURNS_SAVED, 30)
    ]
    store = history.removed(store, "ann", sessions[5].id)
    assert sessions[5].id not in [e["id"] for e in history.conversations(store, "ann")]


def test_an_entry_that_does_not_read_is_skipped_and_logged_the_others_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = ChatSession(conversation=Conversation(), turns=[Turn("q", _answer())])
    store = history.saved(history.empty_store(), "", good)
    broken = {"id": "broken", "title": "x", "turns": [{"question": "q", "answer": {"text": 1}}]}
    store["users"][""].insert(0, broken)
    with caplog.at_level(logging.WARNING):
        latest = history.latest(store, "")
    assert latest is not None and latest.id == good.id
    assert "broken" in caplog.text
    assert history.conversations("not a store", "") == []
    with pytest.raises(handlers.UserError, match="can no longer be read"):
        handlers.open_conversation("broken", store, "")


def test_handlers_save_reopen_and_delete(demo_assistant: Assistant, tmp_path: Path) -> None:
    ctx = handlers.Context(
        assistant=demo_assistant,
        runs_dir=tmp_path / "runs",
        eval_set=tmp_path / "questions.jsonl",
        export_dir=tmp_path,
    )
    *_, (chat, sources, session, _) = handlers.ask(ctx, QUESTION, None, "extractive", 5, "", "")
    store, picker = handlers.remember(session, history.empty_store(), "")
    assert picker["value"] == session.id and picker["choices"][0][1] == session.id
    store = json.loads(json.dumps(store))  # what comes back from the browser

    chat2, sources2, again, picker = handlers.reopen_latest(store, "")  # a reload
    assert (chat2, sources2) == (chat, sources) and again.id == session.id
    assert picker["value"] == session.id
    follow = list(handlers.ask(ctx, "And what about Georgia?", again, "extractive", 5, "", ""))
    assert "Understood as" in follow[-1][0][-1]["content"]  # the context came back too

    _, _, fresh, _ = handlers.new_conversation()
    store, _ = handlers.remember(fresh, store, "")  # an empty conversation is not saved
    assert len(history.conversations(store, "")) == 1
    store, picker, chat3, panel, open_now = handlers.delete_conversation(
        session.id, store, again, ""
    )
    assert history.conversations(store, "") == [] and picker["choices"] == []
    assert chat3 == [] and open_now.id != session.id and "source-card" not in panel
    with pytest.raises(handlers.UserError):
        handlers.delete_conversation(None, store, open_now, "")

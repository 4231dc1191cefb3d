"""Past conversations, kept in the reader's browser (Gradio's BrowserState, localStorage):
nothing about an anonymous reader's questions is stored on the server, and a reload or a
restart of the app finds them again.

The store is a plain JSON value, `{"users": {user: [conversation, ...]}}`, newest first,
one list per signed-in user ("" when there is no sign-in), so two people who share a
browser profile each see their own list. A conversation keeps its turns as typed records
(the answers with their passages, so the Sources panel works when it is reopened) and the
context its follow-ups are understood in. What comes back from the browser is validated:
an entry that does not read (edited by hand, written by another version) is skipped and
logged, and the others are kept.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rag.conversation import Conversation
from rag.types import Answer, Passage
from ui.render import ChatSession, Turn

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 20  # per user, newest kept: localStorage holds about 5 MB per site
MAX_TURNS_SAVED = 10  # the newest turns of a conversation that are saved (about 8 kB each)
STORAGE_KEY = "rag-conversations"
# BrowserState encrypts with a secret the page itself is given, so it hides nothing from
# the reader; a fixed one lets a restarted app read what an earlier run stored.
STORAGE_SECRET = "rag-ui-conversations-v1"

Store = dict[str, Any]
Record = dict[str, Any]

_ANSWER: TypeAdapter[Answer] = TypeAdapter(Answer)
_PASSAGE: TypeAdapter[Passage] = TypeAdapter(Passage)


def empty_store() -> Store:
    return {"users": {}}


# ---------------------------------------------------------------- records


def _passage_record(passage: Passage) -> dict[str, Any]:
    """A passage as JSON, without the server's file path of its document."""
    data: dict[str, Any] = _PASSAGE.dump_python(passage, mode="json")
    data["meta"]["source"] = ""
    return data


def answer_record(answer: Answer) -> dict[str, Any]:
    """An answer as JSON; a citation's passage, when it is the passage its number names,
    is not written twice."""
    data: dict[str, Any] = _ANSWER.dump_python(
        dataclasses.replace(answer, citations=()), mode="json"
    )
    data["passages"] = [_passage_record(p) for p in answer.passages]
    data["related"] = [_passage_record(p) for p in answer.related]
    citations = []
    for c in answer.citations:
        own = 1 <= c.n <= len(answer.passages) and answer.passages[c.n - 1] == c.passage
        passage = None if own else _passage_record(c.passage)
        citations.append({"n": c.n, "quote": c.quote, "passage": passage})
    data["citations"] = citations
    return data


def answer_from_record(data: Mapping[str, Any]) -> Answer:
    """Raises ValidationError (or KeyError, TypeError) when it does not read."""
    data = dict(data)
    passages = list(data.get("passages") or [])
    citations = []
    for c in data.get("citations") or []:
        passage = c["passage"] if c.get("passage") is not None else passages[int(c["n"]) - 1]
        citations.append({**c, "passage": passage})
    data["citations"] = citations
    return _ANSWER.validate_python(data)


def conversation_title(session: ChatSession) -> str:
    first = session.turns[0].question.strip() if session.turns else ""
    first = " ".join(first.split())
    return first if len(first) <= 70 else first[:69] + "…"


def session_record(session: ChatSession, now: float | None = None) -> Record:
    """What the browser keeps of a chat session."""
    turns = [
        {
            "question": t.question,
            "answer": answer_record(t.answer) if t.answer is not None else None,
            "error": t.error,
        }
        for t in session.turns[-MAX_TURNS_SAVED:]
    ]
    context = session.conversation.turns if session.conversation is not None else []
    return {
        "id": session.id,
        "title": conversation_title(session),
        "updated": time.time() if now is None else now,
        "turns": turns,
        "context": [list(pair) for pair in context],
    }


def session_from_record(record: Mapping[str, Any]) -> ChatSession:
    """Raises ValidationError (or KeyError, TypeError, ValueError) when it does not read."""
    turns = []
    for t in record["turns"]:
        answer = answer_from_record(t["answer"]) if t.get("answer") is not None else None
        error = t.get("error")
        turns.append(Turn(str(t["question"]), answer, str(error) if error is not None else None))
    context = [(str(q), str(a)) for q, a in record.get("context") or []]
    return ChatSession(conversation=Conversation(turns=context), turns=turns, id=str(record["id"]))


# ---------------------------------------------------------------- the store


def conversations(store: Any, user: str) -> list[Record]:
    """This user's saved conversations, newest first (an unreadable store reads as empty)."""
    if not isinstance(store, Mapping) or not isinstance(store.get("users"), Mapping):
        if store not in (None, "", {}):
            log.warning("the browser's conversation store does not read; starting a new one")
        return []
    entries = store["users"].get(user) or []
    if not isinstance(entries, list):
        log.warning("the browser's conversations of user %r do not read; ignored", user)
        return []
    return [dict(e) for e in entries if isinstance(e, Mapping) and isinstance(e.get("id"), str)]


def _with(store: Any, user: str, entries: list[Record]) -> Store:
    users = dict(store["users"]) if isinstance(store, Mapping) and "users" in store else {}
    if not isinstance(users, dict):
        users = {}
    users[user] = entries
    return {"users": users}


def saved(store: Any, user: str, session: ChatSession, now: float | None = None) -> Store:
    """The store with this session saved first (replacing its earlier save); the oldest
    conversations beyond MAX_CONVERSATIONS are dropped. A session with no turn is not saved."""
    entries = [e for e in conversations(store, user) if e["id"] != session.id]
    if session.turns:
        entries.insert(0, session_record(session, now))
    return _with(store, user, entries[:MAX_CONVERSATIONS])


def removed(store: Any, user: str, conversation_id: str | None) -> Store:
    entries = [e for e in conversations(store, user) if e["id"] != conversation_id]
    return _with(store, user, entries)


def find(store: Any, user: str, conversation_id: str | None) -> ChatSession | None:
    """The saved conversation with this id, or None (logged when it no longer reads)."""
    for entry in conversations(store, user):
        if entry["id"] == conversation_id:
            try:
                return session_from_record(entry)
            except (ValidationError, KeyError, TypeError, ValueError, IndexError) as error:
                log.warning("saved conversation %s does not read (%s); skipped", entry["id"], error)
                return None
    return None


def latest(store: Any, user: str) -> ChatSession | None:
    """The newest saved conversation that reads."""
    for entry in conversations(store, user):
        session = find(store, user, entry["id"])
        if session is not None:
            return session
    return None


def choices(store: Any, user: str) -> list[tuple[str, str]]:
    """(label, id) of this user's conversations for the picker: title and date."""
    out = []
    for entry in conversations(store, user):
        when = entry.get("updated")
        stamp = (
            time.strftime("%d %b %H:%M", time.localtime(when))
            if isinstance(when, int | float)
            else ""
        )
        title = str(entry.get("title") or "Untitled")
        out.append((f"{title} · {stamp}" if stamp else title, entry["id"]))
    return out

"""Which documents a question names as its source: "per the E-IR commentary", "the RUSI
paper", "according to Melvin", "in Askerov's view". Such a question is about that document,
yet the passage that answers it rarely repeats who wrote it or where, so retrieval gives
the named documents' passages a boost (`Settings.source_boost`).

A document is named by its author (full name or surname), its outlet (the name, or an
acronym in it such as "RUSI" or "JAMnews") or its web site ("e-ir.info" -> "E-IR"). Names
compare without case, hyphens, dots and possessives ("E-IR" = "e-ir", "Aze.Media" =
"AzeMedia", "Melvin's" = "Melvin"), and only where the question writes them capitalised:
an author called "Long" is not named by "how long".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlparse

from rag.types import DocumentMeta

_TOKEN = re.compile(r"\w[\w.’'-]*")
_POSSESSIVE = re.compile(r"[’']s?$")
_ACRONYM = re.compile(r"\b[A-Z][\w.-]*[A-Z][\w.-]*\b")  # two capitals or more: RUSI, JAMnews
_GENERIC_HOSTS = frozenset({"www", "blog", "blogs", "news", "en", "medium", "substack", "docs"})
_MIN_LENGTH = 3


def _normal(token: str) -> str:
    return re.sub(r"[.’'-]", "", _POSSESSIVE.sub("", token)).casefold()


def _tokens(text: str) -> list[str]:
    return [_normal(t) for t in _TOKEN.findall(text)]


def _site_label(url: str) -> str:
    """ "e-ir" for https://www.e-ir.info/...; "" for no URL or one that does not parse (a
    site name is only a hint, and URLs are checked at ingest: rag/urls.py)."""
    try:
        host = urlparse(url).hostname or ""
    except ValueError:  # "http://[::1" and the like
        return ""
    return host.removeprefix("www.").split(".")[0]


def source_names(meta: DocumentMeta) -> frozenset[str]:
    """The ways a question may name a document as its source, as written in its metadata."""
    names: set[str] = set()
    for author in re.split(r"\s*(?:,|&|\band\b)\s*", meta.author or ""):
        if author.strip():
            names.update((author.strip(), author.split()[-1]))
    if meta.outlet:
        names.add(re.split(r"\s*\(", meta.outlet)[0])
        names.update(_ACRONYM.findall(meta.outlet))
    label = _site_label(meta.url or "")
    if label not in _GENERIC_HOSTS:
        names.add(label)
    return frozenset(n.strip() for n in names if len(_normal(n.strip())) >= _MIN_LENGTH)


class SourceNames:
    """Every document's source names, indexed by their first word, so finding the ones a
    question names costs a lookup per question word, however large the collection."""

    def __init__(self, documents: Mapping[str, DocumentMeta]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for doc_id, meta in documents.items():
            for name in source_names(meta):
                words = tuple(_tokens(name))
                if words:
                    self._by_first.setdefault(words[0], []).append((words, doc_id))

    def named(self, question: str) -> frozenset[str]:
        """The ids of the documents the question names as its source (often none)."""
        written = _TOKEN.findall(question)
        normal = [_normal(t) for t in written]
        found: set[str] = set()
        for i, word in enumerate(normal):
            if not written[i][:1].isupper():
                continue
            for words, doc_id in self._by_first.get(word, ()):
                if tuple(normal[i : i + len(words)]) == words:
                    found.add(doc_id)
        return frozenset(found)

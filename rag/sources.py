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
from collections.abc import Mapping, Sequence
from functools import lru_cache
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


def name_table(documents: Mapping[str, DocumentMeta]) -> dict[str, list[str]]:
    """Each normalised source name ("thomas de waal", "rusi") and the ids of the documents
    it names, in the documents' order. Ingest stores it (rag.store), so a collection of
    a hundred thousand documents is not walked per process."""
    table: dict[str, list[str]] = {}
    for doc_id, meta in documents.items():
        for name in _names_of(meta.author, meta.outlet, meta.url):
            table.setdefault(name, []).append(doc_id)
    return table


@lru_cache(maxsize=1 << 14)
def _names_of(author: str | None, outlet: str | None, url: str | None) -> tuple[str, ...]:
    """The normalised names of one (author, outlet, site): shared by many documents."""
    meta = DocumentMeta(
        doc_id="", source="", content_hash="", author=author, outlet=outlet, url=url
    )
    normalised = (" ".join(_tokens(name)) for name in source_names(meta))
    return tuple(sorted({name for name in normalised if name}))


class SourceNames:
    """The source names of a collection's documents (`name_table`), so finding the ones a
    question names costs a lookup per question word and name length, however large the
    collection."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self._table = table
        self._longest = max((name.count(" ") + 1 for name in table), default=0)

    @classmethod
    def of(cls, documents: Mapping[str, DocumentMeta]) -> SourceNames:
        return cls(name_table(documents))

    def named(self, question: str) -> frozenset[str]:
        """The ids of the documents the question names as its source (often none)."""
        written = _TOKEN.findall(question)
        normal = [_normal(t) for t in written]
        found: set[str] = set()
        for i in range(len(normal)):
            if not written[i][:1].isupper():
                continue
            for length in range(1, min(self._longest, len(normal) - i) + 1):
                found.update(self._table.get(" ".join(normal[i : i + length]), ()))
        return frozenset(found)

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


def source_names(meta: DocumentMeta) -> frozenset[str]:
    """The ways a question may name a document as its source, as written in its metadata."""
    names: set[str] = set()
    for author in re.split(r"\s*(?:,|&|\band\b)\s*", meta.author or ""):
        if author.strip():
            names.update((author.strip(), author.split()[-1]))
    if meta.outlet:
        names.add(re.split(r"\s*\(", meta.outlet)[0])
        names.update(_ACRONYM.findall(meta.outlet))
    if meta.url:
        label = (urlparse(meta.url).hostname or "").removeprefix("www.").split(".")[0]
        if label not in _GENERIC_HOSTS:
            names.add(label)
    return frozenset(n.strip() for n in names if len(_normal(n.strip())) >= _MIN_LENGTH)


def _named(name: str, written: list[str], normal: list[str]) -> bool:
    wanted = _tokens(name)
    if not wanted:
        return False
    width = len(wanted)
    return any(
        normal[i : i + width] == wanted and written[i][:1].isupper()
        for i in range(len(normal) - width + 1)
    )


def named_documents(question: str, documents: Mapping[str, DocumentMeta]) -> frozenset[str]:
    """The ids of the documents the question names as its source (often none)."""
    written = _TOKEN.findall(question)
    normal = [_normal(t) for t in written]
    return frozenset(
        doc_id
        for doc_id, meta in documents.items()
        if any(_named(name, written, normal) for name in source_names(meta))
    )

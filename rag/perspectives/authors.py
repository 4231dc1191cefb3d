"""Who the perspectives belong to: documents grouped by author, and how an author is named
(an unsigned document is its own author, named after its title)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from rag.errors import RagError
from rag.types import Document, DocumentMeta, Perspective


@dataclass(frozen=True)
class AuthorGroup:
    """The documents of one author, or one document whose author is unknown."""

    label: str  # how points and tables name it
    author: str | None
    doc_ids: tuple[str, ...]


def author_label(meta: DocumentMeta) -> str:
    """The author's name, or a name for the unknown author of one document."""
    if meta.author and meta.author.strip():
        return " ".join(meta.author.split())
    return f"unknown author of “{meta.title}”" if meta.title else f"unknown author of {meta.doc_id}"


def perspective_label(perspective: Perspective) -> str:
    """How points name the author of a perspective (see `author_label`)."""
    return author_label(perspective.meta) if perspective.author is None else perspective.author


def _meta(entry: Document | DocumentMeta) -> DocumentMeta:
    return entry.meta if isinstance(entry, Document) else entry


def author_names(documents: Mapping[str, Document] | Mapping[str, DocumentMeta]) -> list[str]:
    """The collection's named authors: in a question they pick a source, not a topic.
    Metadata alone serves (an index's `metas`: no text is read)."""
    return sorted({m.author for m in map(_meta, documents.values()) if m.author})


def author_groups(
    documents: Mapping[str, Document] | Mapping[str, DocumentMeta],
    wanted: Sequence[str] | None = None,
) -> list[AuthorGroup]:
    """Documents grouped by author (names compared case-insensitively), in collection order.

    `wanted` keeps the groups whose author name, label or document id contains one of its
    strings (case-insensitive); a string matching nothing is an error naming the authors."""
    groups: dict[str, AuthorGroup] = {}
    for doc_id, entry in documents.items():
        meta = _meta(entry)
        label = author_label(meta)
        key = label.casefold() if meta.author and meta.author.strip() else f"doc:{doc_id}"
        group = groups.get(key)
        if group is None:
            groups[key] = AuthorGroup(label, label if meta.author else None, (doc_id,))
        else:
            groups[key] = replace(group, doc_ids=(*group.doc_ids, doc_id))
    found = list(groups.values())
    if not wanted:
        return found
    needles = [w.strip().casefold() for w in wanted if w.strip()]
    unmatched = [
        n
        for n in needles
        if not any(n in g.label.casefold() or any(n in d for d in g.doc_ids) for g in found)
    ]
    if unmatched:
        names = sorted({g.author for g in found if g.author})
        raise RagError(
            f"no author matching {', '.join(repr(n) for n in unmatched)}; authors in this "
            f"collection: {', '.join(names) or 'none recorded'}"
        )
    return [
        g
        for g in found
        if any(n in g.label.casefold() or any(n in d for d in g.doc_ids) for n in needles)
    ]

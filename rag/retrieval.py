"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused, then diversified.

The pure pieces (fusion, diversity) are functions over indices and scores; `Retriever`
binds them to a loaded index and an embedder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.aliases import expand_query
from rag.embeddings import Embedder, Vectors
from rag.errors import RagError
from rag.lexical import terms
from rag.settings import Settings
from rag.store import LoadedIndex
from rag.types import Chunk, Passage

Ranking = Sequence[tuple[int, float]]  # (chunk row, score), best first


def rrf_fuse(
    rankings: Sequence[Ranking], weights: Sequence[float], k: int = 60
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: robust to the two scorers' incomparable scales."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (row, _) in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank + 1)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def weighted_fuse(rankings: Sequence[Ranking], weights: Sequence[float]) -> list[tuple[int, float]]:
    """Convex combination of max-normalised scores (a row absent from a ranking scores 0)."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        top = max((score for _, score in ranking), default=0.0)
        if top <= 0:
            continue
        for row, score in ranking:
            fused[row] = fused.get(row, 0.0) + weight * max(score, 0.0) / top
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _overlap_share(a: Chunk, b: Chunk) -> float:
    shared = min(a.end, b.end) - max(a.start, b.start)
    return max(shared, 0) / max(min(a.end - a.start, b.end - b.start), 1)


def diversify(
    candidates: Sequence[tuple[int, float]],
    chunks: Sequence[Chunk],
    embeddings: npt.NDArray[np.float32],
    *,
    k: int,
    max_per_doc: int,
    max_overlap: float,
    max_similarity: float = 0.97,
) -> list[tuple[int, float]]:
    """Keep the best candidates, but at most `max_per_doc` per document and no near-duplicates
    (a passage mostly overlapping a chosen one, or with almost the same embedding)."""
    chosen: list[tuple[int, float]] = []
    per_doc: dict[str, int] = {}
    for row, score in candidates:
        chunk = chunks[row]
        if per_doc.get(chunk.doc_id, 0) >= max_per_doc:
            continue
        duplicate = False
        for other, _ in chosen:
            if (
                chunks[other].doc_id == chunk.doc_id
                and _overlap_share(chunk, chunks[other]) > max_overlap
            ):
                duplicate = True
                break
            if float(embeddings[row] @ embeddings[other]) > max_similarity:
                duplicate = True
                break
        if duplicate:
            continue
        chosen.append((row, score))
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
        if len(chosen) == k:
            break
    return chosen


_PERSPECTIVE_WORDS = re.compile(
    r"\b(authors?|writers?|analysts?|perspectives?|viewpoints?|views?|compare|comparison|differ|"
    r"disagree|agree|each (?:author|writer|document|article))\b",
    re.IGNORECASE,
)


def asks_for_perspectives(question: str) -> bool:
    """A question about what the authors (plural) think wants one passage per document."""
    return bool(_PERSPECTIVE_WORDS.search(question)) and not re.search(
        r"\b(according to|in \w+'s|says?|said)\b", question, re.IGNORECASE
    )


@dataclass(frozen=True)
class Filters:
    authors: tuple[str, ...] = ()  # case-insensitive; a name matches when it contains one of these
    doc_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.authors or self.doc_ids)


def filter_rows(index: LoadedIndex, filters: Filters) -> npt.NDArray[np.bool_] | None:
    """Which chunks the filters allow (None: all); an unknown id or author is an error
    that lists what exists, raised before any model is loaded."""
    if not filters:
        return None
    documents = index.documents
    known_ids = set(documents)
    unknown = [d for d in filters.doc_ids if d not in known_ids]
    if unknown:
        raise RagError(f"unknown document id(s): {', '.join(unknown)}; see `rag docs` for the ids")
    wanted_docs = set(filters.doc_ids) or known_ids
    if filters.authors:
        needles = [a.casefold() for a in filters.authors]
        by_author = {
            doc_id
            for doc_id, doc in documents.items()
            if doc.meta.author and any(n in doc.meta.author.casefold() for n in needles)
        }
        if not by_author:
            authors = sorted({d.meta.author for d in documents.values() if d.meta.author})
            raise RagError(
                f"no document by an author matching {', '.join(filters.authors)!r}; "
                f"authors in this collection: {', '.join(authors) or 'none recorded'}"
            )
        wanted_docs &= by_author
    return np.array([c.doc_id in wanted_docs for c in index.chunks], dtype=bool)


class Retriever:
    """Hybrid search over one loaded index."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings) -> None:
        index.check_compatible(embedder.name, embedder.dimension)
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._vocabulary: Mapping[str, int] = (
            index.bm25.vocab_dict if index.chunks and index.bm25.vocab_dict else {}
        )
        self._sentence_owners = index.sentence_chunks()

    # ------------------------------------------------------------ filters

    def allowed_rows(self, filters: Filters) -> npt.NDArray[np.bool_] | None:
        return filter_rows(self.index, filters)

    # ------------------------------------------------------------ the two rankings

    def dense_ranking(
        self,
        query_vector: npt.NDArray[np.float32],
        limit: int,
        allowed: npt.NDArray[np.bool_] | None,
    ) -> list[tuple[int, float]]:
        if allowed is not None:
            rows = np.flatnonzero(allowed)
            scores = self.index.embeddings[rows] @ query_vector
            order = np.argsort(-scores, kind="stable")[:limit]
            return [(int(rows[i]), float(scores[i])) for i in order]
        scores_2d, rows_2d = self.index.dense.search(query_vector[None, :], limit)
        return [(int(r), float(s)) for r, s in zip(rows_2d[0], scores_2d[0], strict=True) if r >= 0]

    def sentence_ranking(
        self,
        query_vector: npt.NDArray[np.float32],
        limit: int,
        allowed: npt.NDArray[np.bool_] | None,
    ) -> list[tuple[int, float]]:
        """Chunks ranked by their best-matching sentence."""
        if not len(self.index.sentences):
            return []
        scores = self.index.sentence_embeddings @ query_vector
        best: dict[int, float] = {}
        for sentence in np.argsort(-scores, kind="stable"):
            for row in self._sentence_owners[sentence]:
                if row not in best and (allowed is None or allowed[row]):
                    best[row] = float(scores[sentence])
            if len(best) >= limit:
                break
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def lexical_ranking(
        self, query: str, limit: int, allowed: npt.NDArray[np.bool_] | None
    ) -> list[tuple[int, float]]:
        query_terms = [t for t in terms(query) if t in self._vocabulary]
        if not query_terms:
            return []
        mask = None if allowed is None else allowed.astype(np.float32)
        rows, scores = self.index.bm25.retrieve(
            [query_terms], k=limit, show_progress=False, weight_mask=mask
        )
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if s > 0]

    # ------------------------------------------------------------ search

    def embed_query(self, query: str) -> Vectors:
        """The vector `search` ranks by (place names expanded), for callers that search one
        query many times with different filters."""
        expanded = expand_query(query) if self.settings.expand_place_names else query
        vector: Vectors = self.embedder.embed([expanded])[0]
        return vector

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        max_per_doc: int | None = None,
        query_vector: Vectors | None = None,
    ) -> list[Passage]:
        """`query_vector` (from `embed_query`) spares embedding the query again; the query
        text still drives BM25, so it may carry extra spellings the embedding need not see."""
        top_k = k or self.settings.top_k
        chunks = self.index.chunks
        if not chunks or not query.strip():
            return []
        allowed = self.allowed_rows(filters)
        available = int(allowed.sum()) if allowed is not None else len(chunks)
        limit = min(max(self.settings.candidates, top_k * 4), available)
        if limit == 0:
            return []
        if self.settings.expand_place_names:
            query = expand_query(query)
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        rankings = [
            self.dense_ranking(query_vector, limit, allowed),
            self.sentence_ranking(query_vector, limit, allowed),
            self.lexical_ranking(query, limit, allowed),
        ]
        weights = [
            self.settings.dense_weight,
            self.settings.sentence_weight,
            self.settings.lexical_weight,
        ]
        if self.settings.fusion == "rrf":
            fused = rrf_fuse(rankings, weights, self.settings.rrf_k)
        else:
            fused = weighted_fuse(rankings, weights)
        chosen = diversify(
            fused,
            chunks,
            self.index.embeddings,
            k=top_k,
            max_per_doc=max_per_doc
            or (1 if asks_for_perspectives(query) else self.settings.max_per_doc),
            max_overlap=self.settings.max_overlap,
        )
        documents = self.index.documents
        return [
            Passage(chunks[row], documents[chunks[row].doc_id].meta, score, rank)
            for rank, (row, score) in enumerate(chosen, 1)
        ]

"""Hybrid retrieval: four scorers fused, then diversified.

The scorers: dense over whole chunks (FAISS), dense over single sentences (a chunk scores
as its best sentence), BM25, and soft word matching (rag.wordmatch; a chunk scores as its
best sentence). Each proposes its top candidates; by default every candidate of the union
is then scored by all four and the z-scores are summed with weights (`zscore_fuse`).

Above `Settings.exhaustive_max_chunks` chunks, scoring every chunk by every scorer costs
too much per question (a matmul over every sentence vector, soft word matching over every
sentence), so the candidates come from the vector indexes (the chunk index's top, the
sentence index's top sentences mapped to their chunks) and BM25's top, and only that pool
is scored by all four and fused the same way. Below it the exhaustive path stays as it was.

The pure pieces (fusion, diversity) are functions over indices and scores; `Retriever`
binds them to a loaded index and an embedder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.aliases import expand_query
from rag.csr import gather, group_max
from rag.embeddings import Embedder, Vectors
from rag.errors import RagError
from rag.lexical import terms
from rag.settings import Settings
from rag.store import LoadedIndex
from rag.types import Chunk, Passage
from rag.wordmatch import WordMatcher, content_words

log = logging.getLogger(__name__)

Ranking = Sequence[tuple[int, float]]  # (chunk row, score), best first
_UNKNOWN_WORDS_KEPT = 10_000  # vectors of query words outside the vocabulary, for reuse


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


def zscore_fuse(
    rows: Sequence[int],
    columns: Sequence[npt.NDArray[np.floating[Any]]],
    weights: Sequence[float],
    bonus: npt.NDArray[np.floating[Any]] | None = None,
) -> list[tuple[int, float]]:
    """Weighted sum of each scorer's z-scores over a candidate pool (`columns[i][j]`: scorer
    i's score of `rows[j]`).

    Every candidate is scored by every scorer, so a passage outside one scorer's top list is
    not counted as a zero there (max-normalised fusion does that, and then a passage found
    by one scorer alone cannot compete). Each scorer is measured in its own spread over the
    pool, so scales do not matter and a passage one scorer puts far above the rest (a rare
    name matched by BM25) stands out. A scorer with no spread adds nothing. `bonus` (per
    row, in z-score units) is added as is: the boost of a source the question names."""
    total = np.zeros(len(rows), dtype=np.float64)
    if bonus is not None:
        total += bonus
    for column, weight in zip(columns, weights, strict=True):
        values = np.asarray(column, dtype=np.float64)
        spread = float(values.std())
        if weight and spread > 0:
            total += weight * (values - values.mean()) / spread
    order = np.argsort(-total, kind="stable")
    return [(int(rows[i]), float(total[i])) for i in order]


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
    documents = index.metas
    known_ids = set(documents)
    unknown = [d for d in filters.doc_ids if d not in known_ids]
    if unknown:
        raise RagError(f"unknown document id(s): {', '.join(unknown)}; see `rag docs` for the ids")
    wanted_docs = set(filters.doc_ids) or known_ids
    if filters.authors:
        needles = [a.casefold() for a in filters.authors]
        by_author = {
            doc_id
            for doc_id, meta in documents.items()
            if meta.author and any(n in meta.author.casefold() for n in needles)
        }
        if not by_author:
            authors = sorted({m.author for m in documents.values() if m.author})
            raise RagError(
                f"no document by an author matching {', '.join(filters.authors)!r}; "
                f"authors in this collection: {', '.join(authors) or 'none recorded'}"
            )
        wanted_docs &= by_author
    return index.chunk_mask(wanted_docs)


_PRECISION = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


def warn_on_backend_mismatch(manifest: Mapping[str, Any], backend: str) -> bool:
    """Vectors of another backend of the same model differ little, so queries still find
    the right passages: a warning, not an error, and only across precisions (torch and
    onnx fp32 give the same vectors, cosine ~1.0; int8 ~0.99 of them). True when it
    warned. Indexes from before the setting existed are torch's."""
    held = list(manifest.get("embedding_backends", ["torch"]))
    if {_PRECISION.get(b, b) for b in held} == {_PRECISION.get(backend, backend)}:
        return False
    log.warning(
        "the index holds vectors from embedding backend %s but queries use %s; results may "
        "differ slightly (rebuild with `rag ingest --rebuild` to match RAG_EMBEDDING_BACKEND)",
        "+".join(held),
        backend,
    )
    return True


class Retriever:
    """Hybrid search over one loaded index."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings) -> None:
        index.check_compatible(embedder.name, embedder.dimension)
        warn_on_backend_mismatch(index.manifest, settings.embedding_backend)
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._vocabulary: Mapping[str, int] = (
            index.bm25.vocab_dict if index.chunks and index.bm25.vocab_dict else {}
        )
        # Each chunk's sentences, flattened, for a per-chunk maximum in one numpy call, and
        # each sentence's chunks, for the candidate path (precomputed at ingest: rag.store).
        offsets, self._flat_sentences = index.csr("chunk_sentences")
        self._chunk_sentence_offsets = offsets
        self._chunks_with_sentences = np.flatnonzero(np.diff(offsets))
        self._chunk_starts = offsets[self._chunks_with_sentences]
        self._sentence_owner_offsets, self._sentence_owner_rows = index.csr("sentence_chunks")
        word_offsets, word_sentences = index.csr("word_sentences")
        self.words = WordMatcher.from_postings(
            index.words,
            index.word_embeddings,
            word_offsets,
            word_sentences,
            len(index.sentences),
            index.csr("sentence_words"),
        )
        self._unknown_vectors: dict[str, npt.NDArray[np.float32]] = {}

    @property
    def exhaustive(self) -> bool:
        """Whether every chunk is scored (small collections), or only candidates."""
        return len(self.index.chunks) <= self.settings.exhaustive_max_chunks

    # ------------------------------------------------------------ filters

    def allowed_rows(self, filters: Filters) -> npt.NDArray[np.bool_] | None:
        return filter_rows(self.index, filters)

    # ------------------------------------------------------------ the query

    def expand(self, query: str) -> str:
        """The query with the names it stands for appended (rag.aliases), when enabled."""
        if not self.settings.expand_place_names:
            return query
        return expand_query(query, self.words.knows)

    # ------------------------------------------------------------ scores of every chunk

    def _best_per_chunk(self, sentence_scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """A chunk scores as its best sentence (chunks without one: the lowest score, or 0)."""
        floor = min(float(sentence_scores.min()), 0.0) if len(sentence_scores) else 0.0
        out = np.full(len(self.index.chunks), floor, dtype=np.float32)
        if len(self._flat_sentences):
            out[self._chunks_with_sentences] = np.maximum.reduceat(
                sentence_scores[self._flat_sentences], self._chunk_starts
            )
        return out

    def sentence_scores(self, query_vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Every chunk's best sentence cosine with the query."""
        return self._best_per_chunk(self.index.sentence_embeddings @ query_vector)

    def lexical_scores(self, query: str) -> npt.NDArray[np.float32]:
        """Every chunk's BM25 score (a repeated query term counts again, as in bm25s), added
        from bm25s's precomputed columns into one array (rag.store builds plain BM25: no
        non-occurrence term), not one array per term: at a million chunks a question's terms
        hold 1.5M postings, and `np.add.at` beat a fancy `+=` and `bincount` (3.5 vs 10 ms)."""
        scores = np.zeros(len(self.index.chunks), dtype=np.float32)
        table = self.index.bm25.scores
        data, indices, indptr = table["data"], table["indices"], table["indptr"]
        for term in terms(query):
            column = self._vocabulary.get(term)
            if column is not None:
                start, stop = int(indptr[column]), int(indptr[column + 1])
                np.add.at(scores, indices[start:stop], data[start:stop])
        return scores

    def word_scores(self, query: str) -> npt.NDArray[np.float32]:
        """Every chunk's best sentence by soft word matching."""
        asked = content_words(query)
        extra = self._unknown_word_vectors(self.words.unknown(asked))
        sentence = self.words.sentence_scores(asked, self.settings.word_threshold, extra)
        return self._best_per_chunk(sentence)

    def _unknown_word_vectors(self, unknown: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Vectors of query words outside the vocabulary, when enabled: embedded apart from
        the question (a batch pads to its longest text, so words are cheap alone and dear
        beside a question) and remembered, a bounded number, for later questions."""
        if not self.settings.word_embed_unknown or not unknown:
            return {}
        missing = [w for w in unknown if w not in self._unknown_vectors]
        if missing:
            if len(self._unknown_vectors) + len(missing) > _UNKNOWN_WORDS_KEPT:
                self._unknown_vectors.clear()
            self._unknown_vectors.update(zip(missing, self.embedder.embed(missing), strict=True))
        return {w: self._unknown_vectors[w] for w in unknown}

    # ------------------------------------------------------------ the rankings

    @staticmethod
    def _top(
        scores: npt.NDArray[np.float32],
        limit: int,
        allowed: npt.NDArray[np.bool_] | None,
        *,
        positive: bool = False,
    ) -> list[tuple[int, float]]:
        """The best `limit` rows by score (ties: lower row first), among the allowed ones."""
        mask = allowed
        if positive:
            mask = scores > 0 if mask is None else mask & (scores > 0)
        if mask is None:  # every row: partition the scores themselves, no million-row copy
            rows = np.arange(len(scores))
            if len(scores) > limit:
                rows = np.argpartition(-scores, limit - 1)[:limit]
        else:
            rows = np.flatnonzero(mask)
            if len(rows) > limit:
                rows = rows[np.argpartition(-scores[rows], limit - 1)[:limit]]
        values = scores[rows]
        order = np.lexsort((rows, -values))
        return [(int(rows[i]), float(values[i])) for i in order]

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
        return self._top(self.sentence_scores(query_vector), limit, allowed)

    def lexical_ranking(
        self, query: str, limit: int, allowed: npt.NDArray[np.bool_] | None
    ) -> list[tuple[int, float]]:
        if not self.index.chunks:
            return []
        return self._top(self.lexical_scores(query), limit, allowed, positive=True)

    def word_ranking(
        self, query: str, limit: int, allowed: npt.NDArray[np.bool_] | None
    ) -> list[tuple[int, float]]:
        """Chunks ranked by their best sentence under soft word matching."""
        if not self.index.chunks:
            return []
        return self._top(self.word_scores(query), limit, allowed, positive=True)

    # ------------------------------------------------------------ search

    def embed_query(self, query: str) -> Vectors:
        """The vector `search` ranks by (place names expanded), for callers that search one
        query many times with different filters."""
        vector: Vectors = self.embedder.embed([self.expand(query)])[0]
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
        named = self._named_rows(self.named_sources(query), allowed)
        query = self.expand(query)
        fused = self._fuse(query, limit, allowed, query_vector, named)
        if not max_per_doc:
            # A question about the authors wants one passage each; one about a named
            # source wants that source's passages, however many.
            max_per_doc = (
                1
                if asks_for_perspectives(query)
                else top_k
                if named is not None
                else self.settings.max_per_doc
            )
        chosen = diversify(
            fused,
            chunks,
            self.index.embeddings,
            k=top_k,
            max_per_doc=max_per_doc,
            max_overlap=self.settings.max_overlap,
        )
        metas = self.index.metas
        return [
            Passage(chunks[row], metas[chunks[row].doc_id], score, rank)
            for rank, (row, score) in enumerate(chosen, 1)
        ]

    def named_sources(self, question: str) -> frozenset[str]:
        """The documents the question names as its source (rag.sources), when boosted."""
        if not self.settings.source_boost:
            return frozenset()
        return self.index.source_names.named(question)

    def _fuse(
        self,
        query: str,
        limit: int,
        allowed: npt.NDArray[np.bool_] | None,
        query_vector: Vectors | None = None,
        named: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[int, float]]:
        """The candidates of all scorers, best first, by the configured fusion. The `named`
        rows (a source the question names) join the candidates and get `source_boost`
        (z-score fusion only)."""
        settings = self.settings
        weights = [
            settings.dense_weight,
            settings.sentence_weight,
            settings.lexical_weight,
            settings.word_weight,
        ]
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        if not self.exhaustive:
            return self._fuse_candidates(query, limit, allowed, query_vector, named, weights)
        sentence = self.sentence_scores(query_vector)
        lexical = self.lexical_scores(query)
        word = (
            self.word_scores(query)
            if settings.word_weight
            else np.zeros(len(self.index.chunks), dtype=np.float32)
        )
        rankings = [
            self.dense_ranking(query_vector, limit, allowed),
            self._top(sentence, limit, allowed) if len(self.index.sentences) else [],
            self._top(lexical, limit, allowed, positive=True),
            self._top(word, limit, allowed, positive=True),
        ]
        if settings.fusion == "rrf":
            return rrf_fuse(rankings, weights, settings.rrf_k)
        if settings.fusion == "weighted":
            return weighted_fuse(rankings, weights)
        if named is not None:
            rankings.append(self._top(sentence, limit, named))
        pool = sorted({row for ranking in rankings for row, _ in ranking})
        rows = np.array(pool, dtype=np.int64)
        columns = [
            self.index.embeddings[rows] @ query_vector,
            sentence[rows],
            lexical[rows],
            word[rows],
        ]
        bonus = None if named is None else settings.source_boost * named[rows]
        return zscore_fuse(pool, columns, weights, bonus)

    # ------------------------------------------------------------ the candidate path

    def _fuse_candidates(
        self,
        query: str,
        limit: int,
        allowed: npt.NDArray[np.bool_] | None,
        query_vector: Vectors,
        named: npt.NDArray[np.bool_] | None,
        weights: list[float],
    ) -> list[tuple[int, float]]:
        """`_fuse` for large collections: the pool is the union of the chunk index's,
        the sentence index's and BM25's top candidates (among the allowed rows; all the
        allowed rows when a filter leaves few), and only the pool is scored by all four.
        Soft word matching proposes no candidates of its own here: it would have to scan
        every sentence."""
        settings = self.settings
        lexical = self.lexical_scores(query)  # sparse: the postings of the query's terms
        allowed_rows = None if allowed is None else np.flatnonzero(allowed)
        if allowed_rows is not None and len(allowed_rows) <= settings.exhaustive_max_chunks:
            pool = allowed_rows
        else:
            found = [
                self._dense_candidates(query_vector, limit, allowed),
                self._sentence_candidates(query_vector, limit, allowed),
                np.array([row for row, _ in self._top(lexical, limit, allowed, positive=True)]),
            ]
            if named is not None:
                found.append(self._named_candidates(query_vector, limit, named))
            pool = np.unique(np.concatenate(found).astype(np.int64))
        if not len(pool):
            return []
        columns = [
            np.asarray(self.index.embeddings[pool], dtype=np.float32) @ query_vector,
            self._pool_sentence_scores(pool, query_vector),
            lexical[pool],
            self._pool_word_scores(pool, query)
            if settings.word_weight
            else np.zeros(len(pool), dtype=np.float32),
        ]
        if allowed_rows is not None and len(pool) == len(allowed_rows) and len(pool) > limit:
            # every allowed row was scored: keep each scorer's top, as the exhaustive path does
            keep = np.zeros(len(pool), dtype=bool)
            for column, positive in zip(columns, (False, False, True, True), strict=True):
                keep[[i for i, _ in self._top(column, limit, None, positive=positive)]] = True
            if named is not None:
                named_at = np.flatnonzero(named[pool])
                best = self._top(columns[1][named_at], limit, None)
                keep[named_at[[i for i, _ in best]]] = True
            pool, columns = pool[keep], [column[keep] for column in columns]
        if settings.fusion != "zscore":
            rankings = [
                [
                    (int(pool[i]), float(column[i]))
                    for i, _ in self._top(column, limit, None, positive=positive)
                ]
                for column, positive in zip(columns, (False, False, True, True), strict=True)
            ]
            if settings.fusion == "rrf":
                return rrf_fuse(rankings, weights, settings.rrf_k)
            return weighted_fuse(rankings, weights)
        bonus = None if named is None else settings.source_boost * named[pool]
        return zscore_fuse(pool.tolist(), columns, weights, bonus)

    def _fetch(self, limit: int, allowed: npt.NDArray[np.bool_] | None) -> int:
        """How many hits to ask an index for, so that about `limit` pass the filter."""
        if allowed is None:
            return limit
        share = max(float(allowed.mean()), 1e-3)
        return int(min(limit / share, limit * 50))

    def _dense_candidates(
        self, query_vector: Vectors, limit: int, allowed: npt.NDArray[np.bool_] | None
    ) -> npt.NDArray[np.int64]:
        found = self.index.chunk_index.search(query_vector[None, :], self._fetch(limit, allowed))[1]
        rows: npt.NDArray[np.int64] = found[0][found[0] >= 0]
        if allowed is not None:
            rows = rows[allowed[rows]]
        return rows[:limit]

    def _sentence_candidates(
        self, query_vector: Vectors, limit: int, allowed: npt.NDArray[np.bool_] | None
    ) -> npt.NDArray[np.int64]:
        """The chunks holding the sentence index's best sentences, best first."""
        if not len(self.index.sentences):
            return np.zeros(0, dtype=np.int64)
        index = self.index.sentence_index
        # a chunk holds several sentences, and two chunks may share one: ask for more
        found = index.search(query_vector[None, :], 2 * self._fetch(limit, allowed))[1][0]
        sentences = found[found >= 0]
        rows, _ = gather(self._sentence_owner_offsets, self._sentence_owner_rows, sentences)
        if allowed is not None:
            rows = rows[allowed[rows]]
        _, first = np.unique(rows, return_index=True)
        return rows[np.sort(first)][:limit]

    def _named_candidates(
        self, query_vector: Vectors, limit: int, named: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64]:
        """The named documents' chunks: all of them when few, else those of their best
        sentences (as the exhaustive path keeps the named rows' sentence top). A source named
        across a large collection (an author of thousands of documents) must not put every
        one of its chunks in the pool."""
        rows = np.flatnonzero(named)
        if len(rows) <= limit:
            return rows
        return self._sentence_candidates(query_vector, limit, named)

    def _pool_sentences(self, pool: npt.NDArray[np.int64]) -> tuple[Any, Any]:
        return gather(self._chunk_sentence_offsets, self._flat_sentences, pool)

    def _pool_best(
        self, pool: npt.NDArray[np.int64], owner: npt.NDArray[np.int64], values: Any
    ) -> npt.NDArray[np.float32]:
        """Each pool chunk's best sentence value (no sentence: the lowest value, or 0)."""
        floor = min(float(values.min()), 0.0) if len(values) else 0.0
        return group_max(values, owner, len(pool), floor)

    def _pool_sentence_scores(
        self, pool: npt.NDArray[np.int64], query_vector: Vectors
    ) -> npt.NDArray[np.float32]:
        sentences, owner = self._pool_sentences(pool)
        order = np.argsort(sentences, kind="stable")  # a memmap reads best in file order
        values = np.empty(len(sentences), dtype=np.float32)
        values[order] = (
            np.asarray(self.index.sentence_embeddings[sentences[order]], dtype=np.float32)
            @ query_vector
        )
        return self._pool_best(pool, owner, values)

    def _pool_word_scores(self, pool: npt.NDArray[np.int64], query: str) -> npt.NDArray[np.float32]:
        sentences, owner = self._pool_sentences(pool)
        asked = content_words(query)
        extra = self._unknown_word_vectors(self.words.unknown(asked))
        scores = self.words.some_scores(asked, self.settings.word_threshold, extra, sentences)
        return self._pool_best(pool, owner, scores)

    def _named_rows(
        self, named: frozenset[str], allowed: npt.NDArray[np.bool_] | None
    ) -> npt.NDArray[np.bool_] | None:
        """The chunks of the named documents that the filters allow; None when there are
        none (a source the filters leave out is not searched)."""
        if not named:
            return None
        rows = self.index.chunk_mask(named)
        if allowed is not None:
            rows &= allowed
        return rows if rows.any() else None

"""Balanced retrieval: every author (or every unsigned document) gets its own search, so one
prolific author cannot crowd the others out of the top passages.

The question is embedded once for all the searches. Its text, which drives BM25, gets the
spellings of its names that the author's own documents use ("Türkiye" for a question about
Turkey, "the Kremlin" for one about Russia): a writer who never spells a name the question's
way is still found.

Beside the passages, `claim_sentences` finds the sentences anywhere in an author's documents
that make a claim about a name the question asks about, for the points of agreement and
divergence."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from functools import lru_cache

import numpy as np

from rag.embeddings import Vectors
from rag.injection import addresses_reader_or_model
from rag.lexical import terms
from rag.names import variants
from rag.perspectives.authors import AuthorGroup
from rag.perspectives.claims import claims
from rag.perspectives.config import CompareConfig
from rag.perspectives.quotes import Scored, is_prose
from rag.retrieval import Filters, Retriever
from rag.store import LoadedIndex
from rag.types import Document, Passage, Quote


@lru_cache(maxsize=1024)
def _spellings_in(text: str, name: str) -> tuple[str, ...]:
    """The ways of writing `name` that occur in `text` as whole words."""
    return tuple(
        sorted(
            v
            for v in variants(name)
            if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text) is not None
        )
    )


def author_query(
    question: str, names: Collection[str], group: AuthorGroup, documents: Mapping[str, Document]
) -> str:
    """The question with the author's spellings of its names appended, where its own words
    differ from them (for BM25; the embedding is the question's)."""
    asked = set(terms(question))
    extra: list[str] = []
    for name in sorted(names):
        for doc_id in group.doc_ids:
            for spelling in _spellings_in(documents[doc_id].text, name):
                if spelling not in extra and not set(terms(spelling)) <= asked:
                    extra.append(spelling)
    return f"{question} ({', '.join(extra)})" if extra else question


def search_author(
    question: str,
    names: Collection[str],
    group: AuthorGroup,
    retriever: Retriever,
    query_vector: Vectors,
    config: CompareConfig,
) -> list[Passage]:
    """The passages of this author's documents that best answer the question."""
    documents = retriever.index.documents
    return retriever.search(
        author_query(question, names, group, documents),
        k=config.passages_per_author * min(len(group.doc_ids), 2),
        filters=Filters(doc_ids=group.doc_ids),
        max_per_doc=config.passages_per_author,
        query_vector=query_vector,
    )


# Names of regions: the setting of a question ("in the South Caucasus"), not an actor whose
# influence or relations the authors take positions on.
_REGIONS = frozenset(
    {"South Caucasus", "Caucasus", "North Caucasus", "Eurasia", "Central Asia", "Middle East"}
)


def actors(names: Collection[str]) -> frozenset[str]:
    """The actors among a question's focus names (regions left out)."""
    return frozenset(names) - _REGIONS


# Up to this many sentences an author's are all compared with the question; above it (a
# large collection) the sentence index proposes the closest, and the author's are kept.
EXACT_SENTENCE_ROWS = 50_000
NEAREST_SENTENCES = 4_096


def _author_sentence_rows(
    index: LoadedIndex, wanted: Collection[str], question_vector: Vectors
) -> list[int]:
    """The rows of the author's sentences worth comparing with the question, in order."""
    held = [index.sentence_rows_of(doc_id) for doc_id in wanted]
    if sum(len(r) for r in held) <= EXACT_SENTENCE_ROWS:
        return sorted(int(r) for rows in held for r in rows)
    found = index.sentence_index.search(question_vector[None, :], NEAREST_SENTENCES)[1][0]
    found = np.sort(found[found >= 0])
    doc_rows = [row for row in map(index.doc_row, wanted) if row is not None]
    theirs = np.isin(np.asarray(index.sentence_columns[found, 0]), doc_rows)
    return [int(r) for r in found[theirs]]


def claim_sentences(
    names: Collection[str],
    group: AuthorGroup,
    index: LoadedIndex,
    question_vector: Vectors,
    config: CompareConfig,
) -> list[Scored]:
    """The author's sentences, anywhere in their documents, that make a claim about an actor
    the question names ("Russia's influence is declining" for a question on Russia),
    closest to the question first: what an author holds on the question's subject is often
    outside the few passages quoted."""
    wanted_actors = actors(names)
    if not wanted_actors:
        return []
    documents = index.documents
    wanted = set(group.doc_ids)
    rows = _author_sentence_rows(index, wanted, question_vector)
    if not rows:
        return []
    similarities = index.sentence_embeddings[rows] @ question_vector
    found: list[Scored] = []
    for row, similarity in zip(rows, similarities, strict=True):
        if similarity < config.claim_similarity:
            continue
        doc_id, start, end = index.sentences[row]
        text = documents[doc_id].text[start:end]
        if addresses_reader_or_model(text):
            continue  # an instruction to the reader or a model is never quoted
        if not any(set(c.subject.entities) & wanted_actors for c in claims(text)):
            continue
        chunk = next((c for c in index.chunks_of(doc_id) if c.start <= start < c.end), None)
        if chunk is None:
            continue
        quote = Quote(text, chunk.chunk_id, doc_id, start, end)
        if is_prose(quote, documents):
            vector = index.sentence_embeddings[row]
            found.append(Scored(quote, float(similarity), float(similarity), vector))
    found.sort(key=lambda s: -s.similarity)
    return found[: config.claim_pool]

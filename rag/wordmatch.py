"""Soft word matching: a sentence scores by the question's words it contains *or a near
synonym of*, as the embedding model judges single words ("weapons" ~ "armed", "troops" ~
"military", "Asian" ~ "Asia"), each match weighted by the matched word's IDF.

Paraphrased questions share few words with the text, so BM25 misses them, and a whole-
sentence embedding dilutes one decisive word among the rest. Matching word by word keeps
BM25's precision on names while bridging the synonyms MiniLM knows.

The collection's vocabulary is embedded once, at ingest, and stored in the index
(`words.jsonl`, `word_embeddings.npy`); a question word outside it (often the very word
a paraphrase chose) is embedded at query time by the caller. Function words and numbers
are left to BM25 ("2008" must never softly match "2009").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from rag.csr import gather, group_max
from rag.embeddings import Vectors
from rag.lexical import QUERY_FILLER, terms, words

Scores = npt.NDArray[np.float32]


@lru_cache(maxsize=1 << 16)
def _is_filler(word: str) -> bool:
    stems = terms(word)
    return not stems or all(s in QUERY_FILLER for s in stems)


@lru_cache(maxsize=1 << 18)
def _content_form(word: str) -> str | None:
    """The word as matched (possessive removed), or None for a function word, a single
    letter or a number. Cached: a collection's sentences repeat the same words."""
    word = word.removesuffix("'s")
    if len(word) > 1 and not any(c.isdigit() for c in word) and not _is_filler(word):
        return word
    return None


def content_words(text: str) -> list[str]:
    """The distinct words of a text worth matching, in order: lower-cased, possessive
    removed, no function words, no single letters, no numbers."""
    return list(dict.fromkeys(w for w in map(_content_form, words(text)) if w))


def vocabulary(texts: Iterable[str]) -> list[str]:
    """The sorted content words of a collection's sentences (what ingest embeds)."""
    found: set[str] = set()
    for text in texts:
        found.update(content_words(text))
    return sorted(found)


class WordMatcher:
    """Sentence scores from soft word matches, over one index's sentences."""

    def __init__(
        self, words_: Sequence[str], vectors: Vectors, sentence_texts: Sequence[str]
    ) -> None:
        if len(words_) != len(vectors):
            raise ValueError(f"{len(words_)} words but {len(vectors)} word vectors")
        self.words = list(words_)
        self.vectors = vectors
        self._row = {w: i for i, w in enumerate(self.words)}
        self.sentence_count = len(sentence_texts)
        # Which sentences hold each word: `_sentences[_offsets[w]:_offsets[w + 1]]`.
        pairs = [
            (self._row[w], s)
            for s, text in enumerate(sentence_texts)
            for w in content_words(text)
            if w in self._row
        ]
        pairs.sort()
        word_rows = np.array([w for w, _ in pairs], dtype=np.int64)
        self._sentences = np.array([s for _, s in pairs], dtype=np.int64)
        self._offsets = np.searchsorted(word_rows, np.arange(len(self.words) + 1))
        by_sentence = np.lexsort((word_rows, self._sentences))
        self._words_of = (
            np.searchsorted(self._sentences[by_sentence], np.arange(self.sentence_count + 1)),
            word_rows[by_sentence],
        )
        frequency = np.diff(self._offsets)
        n = max(self.sentence_count, 1)
        self.idf = np.log1p(n / np.maximum(frequency, 1)).astype(np.float32)

    @classmethod
    def from_postings(
        cls,
        words_: Sequence[str],
        vectors: Vectors,
        offsets: npt.NDArray[np.int64],
        sentences: npt.NDArray[np.int64],
        sentence_count: int,
        words_of: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    ) -> WordMatcher:
        """The matcher from postings computed at ingest (rag.store): which sentences hold
        each word, `sentences[offsets[w]:offsets[w + 1]]`, and the same table turned
        round (`words_of`: offsets and word rows per sentence); nothing walks the
        sentences."""
        if len(words_) != len(vectors) or len(offsets) != len(words_) + 1:
            raise ValueError(f"{len(words_)} words, {len(vectors)} vectors, {len(offsets)} offsets")
        matcher = cls.__new__(cls)
        matcher.words = list(words_)
        matcher.vectors = vectors
        matcher._row = {w: i for i, w in enumerate(matcher.words)}
        matcher.sentence_count = sentence_count
        matcher._sentences = sentences
        matcher._offsets = offsets
        matcher._words_of = words_of
        frequency = np.diff(offsets)
        matcher.idf = np.log1p(max(sentence_count, 1) / np.maximum(frequency, 1)).astype(np.float32)
        return matcher

    def knows(self, name: str) -> bool:
        """Whether the collection uses a name: all its content words are in the vocabulary."""
        found = content_words(name)
        return bool(found) and all(w in self._row for w in found)

    def unknown(self, query_words: Sequence[str]) -> list[str]:
        """The query words outside the vocabulary (they need their own vectors)."""
        return [w for w in dict.fromkeys(query_words) if w not in self._row]

    def some_scores(
        self,
        query_words: Sequence[str],
        threshold: float,
        extra: Mapping[str, npt.NDArray[np.float32]] | None,
        sentences: npt.NDArray[np.int64],
    ) -> Scores:
        """`sentence_scores` of these sentences (any order, repeats allowed), read from
        each sentence's own words: for a few hundred candidates of a large collection,
        where a common word's postings run to millions of sentences."""
        extra = extra or {}
        asked_words = [w for w in dict.fromkeys(query_words) if w in self._row or w in extra]
        if not asked_words or not len(sentences):
            return np.zeros(len(sentences), dtype=np.float32)
        query_vectors = np.stack(
            [self.vectors[self._row[w]] if w in self._row else extra[w] for w in asked_words]
        )
        held, owner = gather(*self._words_of, sentences)
        # Only the words these sentences hold are compared with the query's.
        present, held = np.unique(held, return_inverse=True)
        similarity = query_vectors @ np.asarray(self.vectors[present]).T
        weighted = np.where(similarity >= threshold, similarity * self.idf[present], 0.0)
        # matches are >= 0, so a sentence without any scores 0
        best = group_max(weighted[:, held], owner, len(sentences), 0.0)
        total: Scores = best.sum(axis=0)
        return total

    def sentence_scores(
        self,
        query_words: Sequence[str],
        threshold: float,
        extra: Mapping[str, npt.NDArray[np.float32]] | None = None,
        sentences: npt.NDArray[np.int64] | None = None,
    ) -> Scores:
        """For each sentence: the sum over query words of the best match's similarity times
        its IDF, counting only matches at or above `threshold`. A query word outside the
        vocabulary takes part when `extra` holds its vector. `sentences` (sorted rows):
        score only those, in that order, so the cost follows them and the matched words'
        postings, not the collection."""
        extra = extra or {}
        asked_words = [w for w in dict.fromkeys(query_words) if w in self._row or w in extra]
        width = self.sentence_count if sentences is None else len(sentences)
        if not asked_words or not width:
            return np.zeros(width, dtype=np.float32)
        query_vectors = np.stack(
            [self.vectors[self._row[w]] if w in self._row else extra[w] for w in asked_words]
        )
        similarity = query_vectors @ self.vectors.T
        asked, matched = np.nonzero(similarity >= threshold)
        counts = self._offsets[matched + 1] - self._offsets[matched]
        # Every (query word, sentence holding a matched word) pair with the match's value.
        first = np.repeat(self._offsets[matched] - np.cumsum(counts) + counts, counts)
        held = self._sentences[first + np.arange(int(counts.sum()))]
        values = np.repeat(similarity[asked, matched] * self.idf[matched], counts)
        asked = np.repeat(asked, counts)
        if sentences is not None:  # keep the postings among `sentences`, renumbered
            member = np.zeros(self.sentence_count, dtype=bool)
            member[sentences] = True
            kept = member[held]
            asked, values = asked[kept], values[kept]
            held = np.searchsorted(sentences, held[kept])
        best = np.zeros((len(asked_words), width), dtype=np.float32)
        np.maximum.at(best, (asked, held), values)
        total: Scores = best.sum(axis=0)
        return total

"""Lexical analysis shared by BM25 indexing, BM25 queries and answer scoring, so a
term means the same thing everywhere: lower-cased words, English stop words dropped,
Snowball-stemmed (so "relations" matches "relationship")."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_EN_PLUS

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN) | {"s", "t"}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, apostrophes normalised (Azerbaijan’s -> azerbaijan's)."""
    found: list[str] = _WORD.findall(text.lower())  # no groups: whole matches
    return [w.replace("’", "'") for w in found] if "’" in text else found


def terms(text: str) -> list[str]:
    """Stemmed content terms of a text, in order, duplicates kept (BM25 counts them)."""
    kept = [w.removesuffix("'s") for w in words(text)]
    kept = [w for w in kept if (w not in _STOPWORDS and len(w) > 1) or w.isdigit()]
    return list(_stemmer().stemWords(kept))


def term_set(texts: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for text in texts:
        out.update(terms(text))
    return out


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of a literal: word lists stay readable in code."""
    return frozenset(text.split())


# Words a question uses to ask rather than to say what it is about: English function words
# (NLTK's list, shipped by bm25s) and the verbs of asking and reporting. Soft word matching
# (rag.wordmatch) neither matches nor embeds them.
_ASKING = (
    "according say says said tell describe describes mention mentions give gives gave "
    "happen happened would could might must shall may also"
)
QUERY_FILLER = frozenset(terms(" ".join(STOPWORDS_EN_PLUS) + " " + _ASKING))


def table_values(table: Mapping[str, float]) -> npt.NDArray[np.float64]:
    """A term table's values (an IDF), as one array: a table that holds them as a column
    (rag.store.TermTable: 170k terms at a million chunks) hands it over, rather than being
    walked term by term on every question."""
    column = getattr(table, "column", None)
    if column is not None:
        values: npt.NDArray[np.float64] = column()
        return values
    return np.fromiter(table.values(), dtype=np.float64, count=len(table))

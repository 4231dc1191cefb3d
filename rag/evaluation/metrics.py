"""Retrieval metrics, pure functions over gold evidence and what was retrieved.

Quotes are matched after normalisation (case, whitespace, curly quotes, dashes), so a
quote copied from a web page still matches the cleaned text."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip().casefold()


@dataclass(frozen=True)
class Retrieved:
    """A retrieved passage as the metrics see it."""

    doc_id: str
    index: int  # chunk position in its document, to recognise adjacent passages
    text: str
    start: int
    end: int


def quote_found(
    quote: str, passages: Sequence[Retrieved], document_texts: Mapping[str, str]
) -> bool:
    """A quote is found when one retrieved passage, or two adjacent ones, contain it."""
    needle = normalise(quote)
    if any(needle in normalise(p.text) for p in passages):
        return True
    for a in passages:
        for b in passages:
            if a.doc_id == b.doc_id and b.index == a.index + 1:
                joined = document_texts[a.doc_id][min(a.start, b.start) : max(a.end, b.end)]
                if needle in normalise(joined):
                    return True
    return False


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Span of a quote in a text, tolerant of normalisation (maps back to raw offsets)."""
    needle = normalise(quote)
    # Build the normalised text with a map from normalised offsets back to raw offsets.
    chars: list[str] = []
    offsets: list[int] = []
    previous_space = True
    for position, char in enumerate(text.translate(_QUOTES)):
        if char.isspace():
            if previous_space:
                continue
            chars.append(" ")
            previous_space = True
        else:
            chars.append(char.casefold())
            previous_space = False
        offsets.append(position)
    haystack = "".join(chars)
    found = haystack.find(needle)
    if found < 0 or not needle:
        return None
    return offsets[found], offsets[found + len(needle) - 1] + 1


def passage_hits(
    evidence_spans: Sequence[tuple[str, int, int]], passages: Sequence[Retrieved]
) -> list[int | None]:
    """For each passage, the evidence item it newly covers (by half of the quote), or None."""
    covered: set[int] = set()
    hits: list[int | None] = []
    for passage in passages:
        hit = None
        for number, (doc_id, start, end) in enumerate(evidence_spans):
            if number in covered or doc_id != passage.doc_id:
                continue
            shared = min(end, passage.end) - max(start, passage.start)
            if shared >= (end - start) / 2:
                hit = number
                break
        if hit is not None:
            covered.add(hit)
        hits.append(hit)
    return hits


def reciprocal_rank(hits: Sequence[int | None]) -> float:
    for rank, hit in enumerate(hits, 1):
        if hit is not None:
            return 1.0 / rank
    return 0.0


def ndcg(hits: Sequence[int | None], n_relevant: int, k: int = 10) -> float:
    """Binary-gain nDCG@k where each evidence item counts once."""
    gains = [1.0 if hit is not None else 0.0 for hit in hits[:k]]
    dcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, 1))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(n_relevant, k) + 1))
    return dcg / ideal if ideal else 0.0

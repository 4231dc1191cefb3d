"""Answer metrics, pure functions over an Answer and the hand-written gold data."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.citations import parse_citations
from rag.evaluation.metrics import normalise
from rag.types import Answer

if TYPE_CHECKING:  # pydantic: not needed to score
    from rag.evaluation.schema import EvalQuestion


def keys_hit(answer: Answer, question: EvalQuestion) -> bool:
    """Every answer key occurs in the answer text (case- and quote-insensitive)."""
    text = normalise(answer.text)
    return not answer.refused and all(normalise(key) in text for key in question.answer_keys)


def citation_validity(answer: Answer) -> float:
    """Share of citations that point at a given passage and quote it verbatim.

    Every `[n]` in the text must be a passage given to the answerer; every citation's quote
    (the sentence it highlights) must occur in that passage word for word."""
    numbers = parse_citations(answer.text)
    checks = [1 <= n <= len(answer.passages) for n in numbers]
    for citation in answer.citations:
        in_range = 1 <= citation.n <= len(answer.passages)
        quoted = citation.quote is None or citation.quote in citation.passage.chunk.text
        same = in_range and answer.passages[citation.n - 1] == citation.passage
        checks.append(in_range and quoted and same)
    if not checks:
        return 1.0
    return sum(checks) / len(checks)


def sentence_count(text: str) -> int:
    return len(re.findall(r"\[\d+\]", text))

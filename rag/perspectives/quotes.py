"""One author's evidence: the sentences of the author's passages scored by the shared
`rag.scoring.SentenceScorer`, the "addresses / does not address" decision of
`rag.answerability.decide`, and the quotes chosen from them.

Every quote is a `Quote` with `text == document.text[start:end]`, checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from rag.answerability import confidence, decide
from rag.embeddings import Vectors
from rag.perspectives.authors import AuthorGroup
from rag.perspectives.config import CompareConfig
from rag.question import QuestionAnalysis
from rag.scoring import ScoredSentence
from rag.types import Document, Passage, Quote


@dataclass(frozen=True)
class Scored:
    """A scored sentence as a verbatim quote, with its embedding."""

    quote: Quote
    score: float  # answerability's confidence: the scorer's score discounted by missed focus
    similarity: float  # raw cosine with the question
    vector: Vectors = field(compare=False, repr=False)


@dataclass(frozen=True)
class Evidence:
    """What one author's passages offer on the question, most confident sentence first."""

    group: AuthorGroup
    sentences: tuple[Scored, ...]
    addressed: bool
    reason: str  # why addressed or not, for diagnostics

    @property
    def best(self) -> float:
        return self.sentences[0].score if self.sentences else float("-inf")


def quote_of(text: str, passage: Passage, documents: Mapping[str, Document]) -> Quote | None:
    """The sentence with its span in the document, or None if it is not verbatim there."""
    chunk = passage.chunk
    document = documents[chunk.doc_id]
    offset = chunk.text.find(text)
    start = chunk.start + offset if offset >= 0 else document.text.find(text)
    if start < 0:
        return None
    end = start + len(text)
    if document.text[start:end] != text:
        return None
    return Quote(text, chunk.chunk_id, chunk.doc_id, start, end)


# A sentence of prose ends with terminal punctuation (then closing quotes, brackets or
# citation marks); a title repeated in the text, a heading or a photo caption does not.
_PROSE_END = re.compile(r"[.!?…][\"'”’)\]»]*(?:\s*\[\d{1,4}\])*$")


def is_prose(quote: Quote, documents: Mapping[str, Document]) -> bool:
    """Worth quoting as the author's words: a sentence, not the title, a heading or a caption."""
    title = documents[quote.doc_id].meta.title or ""
    return bool(_PROSE_END.search(quote.text)) and quote.text.strip() != title.strip()


# A question about what the authors think ("How far has Armenia turned away from Russia,
# according to the authors?") asks for views, not for the figure its wording suggests.
_ASKS_FOR_VIEWS = re.compile(
    r"\b(authors?|writers?|analysts?|experts?|commentators?|perspectives?|views?|viewpoints?|"
    r"opinions?|assess|portray|characteri[sz]e|argue|think)\b",
    re.IGNORECASE,
)


def for_comparison(analysis: QuestionAnalysis) -> QuestionAnalysis:
    """The analysis a comparison uses: a question asking for the authors' views wants no
    particular figure, date or name, whatever its wording."""
    if analysis.slot is None or not _ASKS_FOR_VIEWS.search(analysis.text):
        return analysis
    return replace(analysis, kind="explain", slot=None)


def evidence_of(
    group: AuthorGroup,
    analysis: QuestionAnalysis,
    passages: Sequence[Passage],
    scored: Sequence[ScoredSentence],
    vectors: Vectors,
    documents: Mapping[str, Document],
    config: CompareConfig,
) -> Evidence:
    """The author's sentences as quotes, best first, and whether they address the question."""
    decision = decide(analysis, scored, config.addresses)
    weight = config.addresses.focus_weight
    merit = [confidence(s, analysis, weight) for s in scored]
    seen: set[tuple[str, int]] = set()
    found: list[Scored] = []
    for i in sorted(range(len(scored)), key=lambda i: (-merit[i], i)):
        if scored[i].fills_slot is False:
            continue  # asked for a date, a figure or a name, this sentence gives none
        quote = quote_of(scored[i].text, passages[scored[i].passage_number - 1], documents)
        if quote is None or (quote.doc_id, quote.start) in seen or not is_prose(quote, documents):
            continue
        seen.add((quote.doc_id, quote.start))
        found.append(Scored(quote, merit[i], scored[i].similarity, vectors[i]))
    if decision.answerable and not found:
        return Evidence(group, (), False, "no sentence of prose to quote")
    reason = decision.reason or "; ".join(decision.diagnostics)
    return Evidence(group, tuple(found), decision.answerable, reason)


def select_quotes(sentences: Sequence[Scored], config: CompareConfig) -> list[Scored]:
    """One to `max_quotes` of the most confident sentences, none repeating another."""
    if not sentences:
        return []
    floor = max(config.addresses.min_confidence, sentences[0].score * config.keep_ratio)
    chosen: list[Scored] = [sentences[0]]
    for s in sentences[1:]:
        if len(chosen) == config.max_quotes or s.score < floor:
            break
        if any(float(s.vector @ c.vector) > config.redundancy for c in chosen):
            continue
        if any(s.quote.text in c.quote.text or c.quote.text in s.quote.text for c in chosen):
            continue
        chosen.append(s)
    return chosen


def pool(evidence: Evidence, quotes: Sequence[Scored], size: int, floor: float) -> list[Scored]:
    """The author's quotes, then further sentences at or above `floor`, up to `size`."""
    found = list(quotes)
    for s in evidence.sentences:
        if len(found) >= size:
            break
        if s not in found and s.score >= floor:
            found.append(s)
    return found


# --- the offline summary ------------------------------------------------------------------

_CITATION_MARK = re.compile(r"\s*\[\d{1,4}(?:\s*[-–,]\s*\d{1,4})*\]")
_PARENTHESIS = re.compile(r"\s*\([^()]{0,200}\)")
_OPENER = re.compile(
    r"^(?:however|moreover|furthermore|in particular|at the same time|in addition|indeed|"
    r"thus|therefore|meanwhile|nevertheless|nonetheless|still|also|notably|ultimately|"
    r"as a result|for this reason|in the meantime|in other words|in fact|of course|"
    r"above all|first|second|third|finally|and|but|so)\b[,:]?\s+",
    re.IGNORECASE,
)


def condense(sentence: str, max_words: int) -> str:
    """A sentence shortened for a summary: no citation marks, parentheses or opening
    connective, cut at a clause boundary (or a word) after at most `max_words` words."""
    text = _PARENTHESIS.sub("", _CITATION_MARK.sub("", sentence))
    text = " ".join(_OPENER.sub("", " ".join(text.split())).split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    tokens = text.split()
    if len(tokens) <= max_words:
        return text
    cut = " ".join(tokens[:max_words])
    clause = max(cut.rfind(", "), cut.rfind("; "), cut.rfind(" – "), cut.rfind(" — "))
    if clause >= len(cut) * 0.6:
        cut = cut[:clause]
    return cut.rstrip(" ,;:–—") + " …"


def offline_summary(quotes: Sequence[Scored], config: CompareConfig) -> str:
    """The author's most relevant sentences, condensed, within `summary_words` words."""
    parts: list[str] = []
    budget = config.summary_words
    for s in quotes[:2]:
        if budget < 12 and parts:
            break
        text = condense(s.quote.text, budget)
        parts.append(text)
        budget -= len(text.split())
    return " ".join(parts)

"""ALCE-style citation recall and precision, with a lexical support test in place of NLI.

ALCE (Gao et al. 2023, "Enabling Large Language Models to Generate Text with Citations")
asks an NLI model whether the passages a sentence cites entail it. We have no such model
offline, so "the evidence supports the claim" is approximated lexically: the share of the
claim's content terms (`rag.lexical.terms`, stemmed, less English function words) that
occur in the evidence, compared with `SUPPORT_THRESHOLD`. The threshold is calibrated on
hand-labelled claim/passage pairs (eval/support_pairs.jsonl, eval/calibrate_support.py);
a test keeps the constant equal to the best threshold on those labels. The test is blind
to negation, swapped actors and changed numbers that reuse the passage's words (see
docs/citation-support.md).

Pure functions, no I/O except `load_pairs`. The caller does not score refused answers: a
refusal has no claims to check, and scoring its boilerplate would only add noise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bm25s.stopwords import STOPWORDS_EN_PLUS

from rag.citations import parse_citations
from rag.evaluation.metrics import normalise
from rag.jsonlines import json_objects
from rag.lexical import term_set, terms, words
from rag.sentences import split_sentences
from rag.types import Answer

__all__ = [
    "SUPPORT_THRESHOLD",
    "THRESHOLDS",
    "CitationScores",
    "Claim",
    "ClaimScore",
    "SupportPair",
    "ThresholdRow",
    "best_row",
    "calibrate",
    "citation_scores",
    "claims",
    "load_pairs",
    "quote_verbatim",
    "strip_markers",
    "support_score",
    "supports",
]

# Calibrated by eval/calibrate_support.py on eval/support_pairs.jsonl (best accuracy over
# THRESHOLDS, ties to the higher threshold); tests/test_eval_support.py keeps it there.
SUPPORT_THRESHOLD: float = 0.8

# The calibration grid: 0.30, 0.35, ..., 0.95.
THRESHOLDS: tuple[float, ...] = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))

# A bracketed group that may be a citation marker; `parse_citations` decides, so the forms
# recognised here are exactly those of rag.citations (`[1]`, `[1, 2]`, `[Passage 3]`, ...).
_BRACKETS = re.compile(r"[ \t]*\[[^\[\]\n]{1,80}\](?!\()")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")
_HAS_WORD = re.compile(r"\w")
# `rag.lexical.terms` drops only BM25's 33 stop words, so "has", "after", "which", "from"
# would count as claim content that a paraphrase must repeat. The claim side also drops
# NLTK's English stop list (shipped by bm25s); the evidence side needs no filter.
_FUNCTION_WORDS = frozenset(w.replace("’", "'") for w in STOPWORDS_EN_PLUS)


def strip_markers(text: str) -> str:
    """`text` without its citation markers, so `[3]` is never counted as the term "3"."""

    def drop(m: re.Match[str]) -> str:
        return "" if parse_citations(m.group(0)) else m.group(0)

    return _SPACE_BEFORE_PUNCT.sub(r"\1", _BRACKETS.sub(drop, text)).strip()


# --- the support test -----------------------------------------------------------------


def _content_terms(claim: str) -> set[str]:
    """The claim's distinct stemmed content terms, markers and function words removed."""
    kept = [w for w in words(strip_markers(claim)) if w.removesuffix("'s") not in _FUNCTION_WORDS]
    return set(terms(" ".join(kept)))


def support_score(claim: str, evidence: Sequence[str]) -> float:
    """Share of the claim's distinct content terms found among the evidence's terms.

    A claim with no content words at all ("It is.") cannot be checked lexically; it scores
    1.0 (treated as supported) rather than failing every answer that contains one.
    """
    claim_terms = _content_terms(claim)
    if not claim_terms:
        return 1.0
    found = claim_terms & term_set(evidence)
    return len(found) / len(claim_terms)


def supports(claim: str, evidence: Sequence[str], threshold: float = SUPPORT_THRESHOLD) -> bool:
    """Whether the evidence texts, taken together, support the claim (lexical test)."""
    return support_score(claim, evidence) >= threshold


# --- claims and ALCE scores -----------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer: its text without markers, and the numbers it cites."""

    text: str
    cited: tuple[int, ...]


def claims(answer_text: str) -> list[Claim]:
    """The answer's sentences (`rag.sentences.split_sentences`) as claims, as ALCE does.

    Every sentence is a claim, cited or not: an uncited sentence counts against recall.
    A "sentence" that is nothing but markers (`[2]` on a line of its own) is not a claim;
    its numbers are added to the claim before it.
    """
    found: list[Claim] = []
    for start, end in split_sentences(answer_text):
        sentence = answer_text[start:end]
        cited = tuple(parse_citations(sentence))
        text = strip_markers(sentence)
        if _HAS_WORD.search(text):
            found.append(Claim(text, cited))
        elif found and cited:
            previous = found[-1]
            merged = tuple(dict.fromkeys(previous.cited + cited))
            found[-1] = Claim(previous.text, merged)
    return found


@dataclass(frozen=True)
class ClaimScore:
    """How one claim fared: `score` is the support score of all its valid citations
    together; `irrelevant` lists the citations that count against precision."""

    text: str
    cited: tuple[int, ...]
    supported: bool
    score: float
    irrelevant: tuple[int, ...]


@dataclass(frozen=True)
class CitationScores:
    """ALCE citation recall and precision of one answer.

    `recall` is None when the answer has no claims; `precision` is None when it cites
    nothing (ALCE's script scores that 0; None keeps it out of the mean, and the uncited
    claims already count against recall).
    """

    recall: float | None
    precision: float | None
    n_claims: int
    n_citations: int
    claims: tuple[ClaimScore, ...]


def citation_scores(answer: Answer, threshold: float = SUPPORT_THRESHOLD) -> CitationScores:
    """ALCE citation recall and precision, as in ALCE's eval.py, with the lexical test.

    Recall: the share of claims whose cited passages, joined, support the claim. A claim
    that cites nothing, or cites any number outside 1..len(answer.passages), is unsupported.

    Precision: the share of citations that are not irrelevant. A citation of a supported
    claim is irrelevant when it does not support the claim on its own while the claim's
    other citations still support it without it. Every citation of an unsupported claim
    counts as not correct, out-of-range ones included (ALCE's script leaves a sentence with
    an out-of-range citation out of the denominator; we count it, so such a citation lowers
    precision rather than vanishing).
    """
    n_passages = len(answer.passages)

    def evidence(numbers: Sequence[int]) -> list[str]:
        return [answer.passages[n - 1].chunk.text for n in numbers if 1 <= n <= n_passages]

    def holds(text: str, numbers: Sequence[int]) -> bool:
        return bool(numbers) and supports(text, evidence(numbers), threshold)

    scored: list[ClaimScore] = []
    for claim in claims(answer.text):
        cited = claim.cited
        score = support_score(claim.text, evidence(cited)) if cited else 0.0
        in_range = all(1 <= n <= n_passages for n in cited)
        supported = bool(cited) and in_range and score >= threshold
        if not supported:
            irrelevant = cited
        else:
            irrelevant = tuple(
                n
                for n in cited
                if not holds(claim.text, [n]) and holds(claim.text, [m for m in cited if m != n])
            )
        scored.append(ClaimScore(claim.text, cited, supported, score, irrelevant))

    n_claims = len(scored)
    n_citations = sum(len(c.cited) for c in scored)
    n_correct = sum(len(c.cited) - len(c.irrelevant) for c in scored)
    return CitationScores(
        recall=sum(c.supported for c in scored) / n_claims if n_claims else None,
        precision=n_correct / n_citations if n_citations else None,
        n_claims=n_claims,
        n_citations=n_citations,
        claims=tuple(scored),
    )


# --- verbatim quotes ------------------------------------------------------------------

_QUOTED = re.compile(r"[\"“]([^\"“”\n]+)[\"”]")
_ELLIPSIS = re.compile(r"\[\s*(?:\.\s*){3}\]|\[\s*…\s*\]|\.{3}|…")
_EDGE = " .,;:!?'\"-"
_MIN_QUOTE_WORDS = 3


def _quotes(text: str) -> list[str]:
    """Spans inside straight or curly double quotes with at least three words."""
    found = (strip_markers(m.group(1)) for m in _QUOTED.finditer(text))
    return [q for q in found if len(words(q)) >= _MIN_QUOTE_WORDS]


def _found_in(quote: str, passage: str) -> bool:
    """The quote occurs word for word in the passage; `...` / `[…]` may stand for omitted
    text, so the pieces around it must occur in order."""
    haystack = normalise(passage)
    position = 0
    for piece in _ELLIPSIS.split(normalise(quote)):
        piece = piece.strip(_EDGE)
        if not piece:
            continue
        m = re.compile(rf"(?<!\w){re.escape(piece)}(?!\w)").search(haystack, position)
        if m is None:
            return False
        position = m.end()
    return position > 0


def quote_verbatim(answer: Answer) -> float | None:
    """Share of the answer's quoted spans found word for word in a passage it cites.

    Matching ignores case, runs of whitespace, curly vs straight quotes and dashes
    (`rag.evaluation.metrics.normalise`) and punctuation at the quote's edges. None when
    the answer quotes nothing (spans under three words are scare quotes, not quotations).
    """
    quotes = _quotes(answer.text)
    if not quotes:
        return None
    n_passages = len(answer.passages)
    cited = [
        answer.passages[n - 1].chunk.text
        for n in parse_citations(answer.text)
        if 1 <= n <= n_passages
    ]
    found = sum(any(_found_in(q, text) for text in cited) for q in quotes)
    return found / len(quotes)


# --- calibration ----------------------------------------------------------------------


@dataclass(frozen=True)
class SupportPair:
    """A hand-labelled pair: does `passage` support `claim`? `note` says why."""

    id: str
    claim: str
    passage: str
    supported: bool
    note: str


_PAIR_FIELDS: dict[str, type] = {
    "id": str,
    "claim": str,
    "passage": str,
    "supported": bool,
    "note": str,
}


def load_pairs(path: str | Path) -> list[SupportPair]:
    """Read a JSONL file of pairs; a bad line raises ValueError naming file and line."""
    path = Path(path)
    pairs: list[SupportPair] = []
    seen: set[str] = set()
    for number, row in json_objects(path.read_text(encoding="utf-8"), path, ValueError):
        where = f"{path}:{number}"
        missing = [name for name in _PAIR_FIELDS if name not in row]
        if missing:
            raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
        unknown = sorted(set(row) - set(_PAIR_FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
        for name, kind in _PAIR_FIELDS.items():
            if not isinstance(row[name], kind):
                raise ValueError(f"{where}: {name!r} must be a {kind.__name__}")
        for name in ("id", "claim", "passage"):
            if not row[name].strip():
                raise ValueError(f"{where}: {name!r} is empty")
        if row["id"] in seen:
            raise ValueError(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        pairs.append(
            SupportPair(row["id"], row["claim"], row["passage"], row["supported"], row["note"])
        )
    return pairs


@dataclass(frozen=True)
class ThresholdRow:
    """The support test at one threshold against the labels ("positive" = supported)."""

    threshold: float
    accuracy: float
    precision: float  # 0.0 when nothing is predicted supported
    recall: float
    f1: float
    tp: int
    fp: int
    tn: int
    fn: int


def calibrate(
    pairs: Sequence[SupportPair], thresholds: Sequence[float] = THRESHOLDS
) -> list[ThresholdRow]:
    """Accuracy, precision, recall and F1 of `supports` at each threshold."""
    if not pairs:
        raise ValueError("no pairs to calibrate on")
    scored = [(support_score(p.claim, [p.passage]), p.supported) for p in pairs]
    rows: list[ThresholdRow] = []
    for threshold in thresholds:
        tp = sum(score >= threshold and label for score, label in scored)
        fp = sum(score >= threshold and not label for score, label in scored)
        fn = sum(score < threshold and label for score, label in scored)
        tn = len(scored) - tp - fp - fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        accuracy = (tp + tn) / len(scored)
        rows.append(ThresholdRow(threshold, accuracy, precision, recall, f1, tp, fp, tn, fn))
    return rows


def best_row(rows: Sequence[ThresholdRow]) -> ThresholdRow:
    """The row with the best accuracy; ties go to the higher (stricter) threshold."""
    if not rows:
        raise ValueError("no rows")
    return max(rows, key=lambda row: (row.accuracy, row.threshold))

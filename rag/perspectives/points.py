"""Offline points of agreement and divergence: claims about the SAME SUBJECT, compared by
the stance each author takes on it.

Two authors' claims are about the same subject when they name the same actor through name
variants (`rag.names`: Moscow, the Kremlin and Russia are one) with the same aspect
(influence, relations, dependence...; `rag.perspectives.claims`) AND their sentences are
close in meaning (MiniLM cosine at least `CompareConfig.same_subject`). Opposite stances
make a divergence, the same stance an agreement. A point says what each author holds, in
plain words true to the quotes shown with it ("On Russia's influence: A says it is
declining; B says it persists."). No subject shared that way, no point: a point is never
made of shared keywords.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import combinations

from rag.lexical import word_set
from rag.perspectives.claims import Claim, Subject, claims, subject_words
from rag.perspectives.config import CompareConfig
from rag.perspectives.quotes import Scored
from rag.types import Point

_PLURAL = word_set("relations relationships ties efforts exports investments")
_GROUP_WORD = {"influence": "influence", "relations": "relations"}


@dataclass(frozen=True)
class Position:
    """What one author says about a subject, and the sentence that says it."""

    label: str
    claim: Claim
    sentence: Scored


def positions(
    authors: Sequence[tuple[str, Sequence[Scored]]],
) -> dict[Subject, dict[str, Position]]:
    """Each author's position on each subject their sentences make a claim about (from the
    most confident sentence); an author who gives one subject both signs takes none."""
    found: dict[Subject, dict[str, list[Position]]] = {}
    for label, sentences in authors:
        for sentence in sentences:
            for claim in claims(sentence.quote.text):
                found.setdefault(claim.subject, {}).setdefault(label, []).append(
                    Position(label, claim, sentence)
                )
    return {
        subject: {
            label: held[0]
            for label, held in by_author.items()
            if len({p.claim.sign for p in held}) == 1
        }
        for subject, by_author in found.items()
    }


def _conjugate(phrase: str) -> str:
    """A phrase about "it" said of "they"."""
    for singular, plural in (
        ("is ", "are "),
        ("has ", "have "),
        ("does ", "do "),
        ("persists", "persist"),
        ("remains ", "remain "),
        ("succeeds", "succeed"),
        ("fails", "fail"),
    ):
        if phrase.startswith(singular):
            return plural + phrase[len(singular) :]
    return phrase


def _who(label: str) -> str:
    return f"the {label}" if label.startswith("unknown author") else label


def wording(subject: Subject, held: Sequence[Position]) -> str:
    """ "On Russia's influence: A says it is declining; B says it persists." """
    words = {p.claim.word for p in held}
    word = next(iter(words)) if len(words) == 1 else _GROUP_WORD.get(subject.aspect, subject.aspect)
    if word == "power" and subject.aspect == "influence" and len(words) > 1:
        word = "influence"
    name = subject_words(subject, word)
    plural = (subject.aspect == "relations" and len(subject.entities) == 2) or word in _PLURAL
    pronoun = "they" if plural else "it"
    said = [
        f"{_who(p.label)} says "
        + (
            p.claim.phrase
            if p.claim.whole
            else f"{pronoun} {_conjugate(p.claim.phrase) if plural else p.claim.phrase}"
        )
        for p in held
    ]
    return f"On {name}: {'; '.join(said)}."


@dataclass(frozen=True)
class _Candidate:
    focus: int  # how many of the subject's names the question asks about
    similarity: float
    point: Point
    divergence: bool


def _candidate(
    subject: Subject, by_author: dict[str, Position], focus: Collection[str], threshold: float
) -> _Candidate | None:
    labels = list(by_author)

    def similarity(a: str, b: str) -> float:
        return float(by_author[a].sentence.vector @ by_author[b].sentence.vector)

    up = [label for label in labels if by_author[label].claim.sign > 0]
    down = [label for label in labels if by_author[label].claim.sign < 0]
    divergence = bool(up and down)
    pairs = [(a, b) for a in up for b in down] if divergence else list(combinations(labels, 2))
    close = [(similarity(a, b), a, b) for a, b in pairs]
    close = [item for item in close if item[0] >= threshold]
    if not close:
        return None
    paired = {label for _, a, b in close for label in (a, b)}
    kept = [label for label in labels if label in paired]  # in the authors' order
    # one side, then the other; each side the most confident first
    first = by_author[max(kept, key=lambda label: by_author[label].sentence.score)].claim.sign
    ordered = sorted(
        kept,
        key=lambda label: (
            by_author[label].claim.sign != first,
            -by_author[label].sentence.score,
        ),
    )
    held = [by_author[label] for label in ordered]
    point = Point(
        wording(subject, held),
        tuple(p.label for p in held),
        tuple(p.sentence.quote for p in held),
    )
    return _Candidate(
        len(set(subject.entities) & set(focus)), max(s for s, _, _ in close), point, divergence
    )


def offline_points(
    authors: Sequence[tuple[str, Sequence[Scored]]],
    focus: Collection[str],
    config: CompareConfig,
) -> tuple[tuple[Point, ...], tuple[Point, ...]]:
    """Points of agreement and of divergence among the authors' sentences (each author's
    most relevant first), at most `max_points` of each. `focus`: the actors the question
    names (canonical names, regions left out); points about more of them come first, then
    the closest in meaning."""
    # a question naming actors wants points about them: about its one actor, or about at
    # least two of its actors ("Azerbaijan's relations with Russia"), not about a third party
    required = min(len(focus), 2)
    found = [
        candidate
        for subject, by_author in positions(authors).items()
        if len(by_author) >= 2
        and len(set(subject.entities) & set(focus)) >= required
        and (candidate := _candidate(subject, by_author, focus, config.same_subject)) is not None
    ]
    found.sort(key=lambda c: (-c.focus, -c.similarity, c.point.point))
    agreements = [c.point for c in found if not c.divergence][: config.max_points]
    divergences = [c.point for c in found if c.divergence][: config.max_points]
    return tuple(agreements), tuple(divergences)

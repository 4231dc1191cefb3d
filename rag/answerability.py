"""Whether the passages answer a question at all: its own decision, made before any answer
is composed, from what runs offline (the packaged MiniLM and the text itself).

Three checks, in order, each with a reason a user can read:

1. Off topic: the closest sentence's raw cosine with the question is below a floor. Nothing
   in the collection is about this ("Which city hosts the 2030 Winter Olympics?").
2. Slot: a question asking for a date, a figure or a name needs a sentence that supplies
   one the question does not already contain, of the right kind ("how many troops" is not
   answered by "for over 20 years").
3. Focus: the answering sentence (with the one before it, or, more weakly, its passage)
   must mention the question's names, rare terms and years, through name variants. A
   sentence about Azerbaijan's population does not answer a question about Armenia's.

Checks 2 and 3 pick the answering sentence: the most confident one that passes. Its
confidence is the scorer's score discounted by the focus it misses; below a threshold the
documents do not answer. For a date, figure or name it must also not be far less
confident than the best sentence overall: passages that discuss exactly what is asked,
without the figure, do not make a figure elsewhere the answer. The thresholds are
calibrated k-fold (eval/calibrate_answerability.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.names import canonical_names
from rag.question import TYPED_KINDS, QuestionAnalysis
from rag.scoring import ScoredSentence


@dataclass(frozen=True)
class AnswerabilityConfig:
    """Calibrated on eval/questions.jsonl, k-fold; see eval/calibrate_answerability.py."""

    min_similarity: float = 0.41  # off-topic floor on the best raw cosine
    focus_weight: float = 0.35  # share of confidence lost by a sentence missing all focus
    min_confidence: float = 0.24  # below this the passages do not answer
    # A question asking for a date, figure or name: the sentence that supplies one must be
    # at least this share as confident as the best sentence overall. When the passages
    # discuss exactly what is asked but without the figure, a much weaker sentence that
    # holds some figure is about something else. 0 turns the check off.
    slot_gap: float = 0.7


@dataclass(frozen=True)
class Decision:
    answerable: bool
    reason: str  # why not, in words a user can read; "" when answerable
    best: int | None  # index of the answering sentence among the scored ones
    confidence: float
    diagnostics: tuple[str, ...] = ()


def confidence(sentence: ScoredSentence, analysis: QuestionAnalysis, focus_weight: float) -> float:
    """The scorer's score discounted by the focus the sentence misses. A figure must sit
    beside its subject, so typed questions count only the focus near the sentence."""
    focus = sentence.near_focus if analysis.slot is not None else sentence.focus
    return sentence.score * (1.0 - focus_weight * (1.0 - focus))


def decide(
    analysis: QuestionAnalysis,
    scored: Sequence[ScoredSentence],
    config: AnswerabilityConfig = AnswerabilityConfig(),
) -> Decision:
    if not scored:
        return Decision(False, "no passage was found", None, 0.0)
    closest = max(s.similarity for s in scored)
    if closest < config.min_similarity:
        return Decision(
            False,
            "nothing in the documents is about this",
            None,
            0.0,
            (f"closest sentence cosine {closest:.3f} < {config.min_similarity}",),
        )
    # A figure or date for another year, or beside another country, is not the one asked
    # for ("in 2022" vs "in 2023"; Armenia's imports when Azerbaijan's were asked).
    pinned = analysis.kind in {"number", "date"}
    eligible = [
        i
        for i, s in enumerate(scored)
        if s.fills_slot is not False and not (pinned and (s.rival or not s.years_near))
    ]
    if not eligible:
        wanted = TYPED_KINDS.get(analysis.kind or "", "answer")
        return Decision(
            False,
            f"no passage gives the {wanted} asked for",
            None,
            0.0,
            (f"closest sentence cosine {closest:.3f}",),
        )
    confidences = {i: confidence(scored[i], analysis, config.focus_weight) for i in eligible}
    best = max(eligible, key=lambda i: (confidences[i], -i))
    if analysis.slot is not None and config.slot_gap:
        closest_overall = max(confidence(s, analysis, config.focus_weight) for s in scored)
        if confidences[best] < config.slot_gap * closest_overall:
            wanted = TYPED_KINDS.get(analysis.kind or "", "answer")
            return Decision(
                False,
                f"the passages discuss this but give no {wanted} for it",
                best,
                confidences[best],
                (
                    f"closest sentence cosine {closest:.3f}",
                    f"the {wanted} is in a sentence {confidences[best]:.3f} confident, "
                    f"< {config.slot_gap} x the best sentence's {closest_overall:.3f}",
                ),
            )
    diagnostics = (
        f"closest sentence cosine {closest:.3f}",
        f"confidence {confidences[best]:.3f} (score {scored[best].score:.3f}, "
        f"focus {scored[best].focus:.2f}, near focus {scored[best].near_focus:.2f})",
    )
    if confidences[best] < config.min_confidence:
        missing = _missing_focus(analysis, scored[best])
        reason = "the passages touch on the topic but do not answer the question" + (
            f" (the closest candidate does not mention {missing})" if missing else ""
        )
        return Decision(
            False,
            reason,
            best,
            confidences[best],
            (*diagnostics, f"< threshold {config.min_confidence}"),
        )
    return Decision(True, "", best, confidences[best], diagnostics)


def _missing_focus(analysis: QuestionAnalysis, sentence: ScoredSentence) -> str:
    """The question's names not found near the best sentence, for the refusal's wording."""
    present = canonical_names(sentence.text)
    missing = [
        n
        for n in sorted(analysis.focus.names)
        if n not in present and n.casefold() not in sentence.text.casefold()
    ]
    return ", ".join(missing[:3])

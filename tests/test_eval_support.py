"""ALCE-style citation recall/precision with the lexical support test, verbatim quotes, and
the calibration of `SUPPORT_THRESHOLD` against the hand-labelled pairs. Offline and fast:
answers are built by hand, no model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evaluation.support import (
    SUPPORT_THRESHOLD,
    THRESHOLDS,
    SupportPair,
    best_row,
    calibrate,
    citation_scores,
    claims,
    load_pairs,
    quote_verbatim,
    support_score,
    supports,
)
from rag.types import Answer, Chunk, DocumentMeta, Passage

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "eval" / "support_pairs.jsonl"

# Verbatim from the demo corpus (RUSI paper and the Askerov article).
RAILWAY = (
    "In May 2023, Russia and Iran agreed to complete, by 2027, the construction of a railway "
    "from the Iran–Azerbaijan border, at Astara, to Rasht in northern Iran, which represents "
    "the last missing rail link to connect St Petersburg to the Gulf."
)
WINE = (
    "For example, in 2023, wine exports to Russia increased 5% on the previous year, with the "
    "Russian market taking 65% of Georgian wine exports, the highest level since 2013."
)
ABU_DHABI = (
    "In July 2025, Azerbaijani President Ilham Aliyev and Armenian Prime Minister Nikol "
    "Pashinyan held a five-hour meeting in Abu Dhabi, reportedly focused on finalizing a "
    "peace deal."
)
RAILWAY_CLAIM = (
    "Russia and Iran agreed in May 2023 to finish a railway from Astara to Rasht by 2027."
)
WINE_CLAIM = "In 2023 the Russian market took 65% of Georgian wine exports."


def passage(n: int, text: str) -> Passage:
    meta = DocumentMeta(doc_id=f"doc{n}", source=f"doc{n}.txt", content_hash="0")
    chunk = Chunk(f"doc{n}#0", f"doc{n}", 0, text, 0, len(text))
    return Passage(chunk=chunk, meta=meta, score=1.0 / n, rank=n)


def answer(text: str, *texts: str) -> Answer:
    passages = tuple(passage(n, t) for n, t in enumerate(texts, 1))
    return Answer(
        question="q",
        standalone_question="q",
        text=text,
        citations=(),
        passages=passages,
        refused=False,
        backend="test",
    )


# --- the support test -----------------------------------------------------------------


def test_a_supported_paraphrase_passes() -> None:
    assert supports(RAILWAY_CLAIM, [RAILWAY])


def test_an_unrelated_claim_fails() -> None:
    assert support_score(WINE_CLAIM, [RAILWAY]) < 0.3
    assert not supports(WINE_CLAIM, [RAILWAY])


def test_support_is_judged_on_the_evidence_taken_together() -> None:
    claim = "Russia and Iran agreed on the Astara railway, and Russia took 65% of Georgian wine."
    assert not supports(claim, [RAILWAY])
    assert not supports(claim, [WINE])
    assert supports(claim, [RAILWAY, WINE])


def test_citation_markers_are_not_claim_terms() -> None:
    assert support_score(RAILWAY_CLAIM + " [3]", [RAILWAY]) == support_score(
        RAILWAY_CLAIM, [RAILWAY]
    )
    assert support_score("It is [2].", []) == 1.0  # nothing checkable: treated as supported


def test_claims_are_sentences_with_their_citations() -> None:
    found = claims(f"{RAILWAY_CLAIM} [1][3] {WINE_CLAIM} [2, 4]\n\nNo source here.\n[5]")
    assert [c.cited for c in found] == [(1, 3), (2, 4), (5,)]
    assert found[0].text == RAILWAY_CLAIM
    assert found[2].text == "No source here."  # a marker alone on a line joins the claim before


# --- ALCE recall and precision --------------------------------------------------------


def test_fully_cited_supported_answer_scores_one() -> None:
    scores = citation_scores(answer(f"{RAILWAY_CLAIM} [1] {WINE_CLAIM} [2]", RAILWAY, WINE))
    assert (scores.recall, scores.precision) == (1.0, 1.0)
    assert (scores.n_claims, scores.n_citations) == (2, 2)


def test_recall_drops_when_a_claim_is_uncited() -> None:
    scores = citation_scores(answer(f"{RAILWAY_CLAIM} [1] {WINE_CLAIM}", RAILWAY, WINE))
    assert scores.recall == 0.5
    assert scores.precision == 1.0  # the one citation given is right
    assert [c.supported for c in scores.claims] == [True, False]


def test_an_uncited_sentence_counts_against_recall_even_without_content_words() -> None:
    scores = citation_scores(answer(f"It is so. {RAILWAY_CLAIM} [1]", RAILWAY))
    assert scores.recall == 0.5


def test_recall_drops_when_the_cited_passage_does_not_support_the_claim() -> None:
    scores = citation_scores(answer(f"{RAILWAY_CLAIM} [1] {WINE_CLAIM} [1]", RAILWAY, WINE))
    assert scores.recall == 0.5
    assert scores.precision == 0.5  # every citation of an unsupported claim is wrong
    assert scores.claims[1].irrelevant == (1,)


def test_precision_drops_when_an_irrelevant_extra_citation_is_added() -> None:
    scores = citation_scores(answer(f"{RAILWAY_CLAIM} [1][2]", RAILWAY, WINE))
    assert scores.recall == 1.0
    assert scores.precision == 0.5
    assert scores.claims[0].irrelevant == (2,)


def test_citations_needed_jointly_are_both_correct() -> None:
    claim = "Russia and Iran agreed on the Astara railway, and Russia took 65% of Georgian wine."
    scores = citation_scores(answer(f"{claim} [1][2]", RAILWAY, WINE))
    assert (scores.recall, scores.precision) == (1.0, 1.0)
    assert scores.claims[0].irrelevant == ()


def test_an_out_of_range_citation_counts_against_recall_and_precision() -> None:
    good = citation_scores(answer(f"{RAILWAY_CLAIM} [1]", RAILWAY, WINE))
    bad = citation_scores(answer(f"{RAILWAY_CLAIM} [1][7]", RAILWAY, WINE))
    assert (good.recall, good.precision) == (1.0, 1.0)
    assert (bad.recall, bad.precision) == (0.0, 0.0)
    assert bad.claims[0].irrelevant == (1, 7)


def test_no_claims_or_no_citations_give_none_not_zero() -> None:
    empty = citation_scores(answer("", RAILWAY))
    assert (empty.recall, empty.precision, empty.n_claims) == (None, None, 0)
    uncited = citation_scores(answer(RAILWAY_CLAIM, RAILWAY))
    assert (uncited.recall, uncited.precision) == (0.0, None)


# --- verbatim quotes ------------------------------------------------------------------


def test_an_exact_quote_is_found_despite_case_spacing_and_curly_quotes() -> None:
    text = "Askerov writes that they met “in   Abu Dhabi, reportedly focused on finalizing” [1]."
    assert quote_verbatim(answer(text, ABU_DHABI)) == 1.0


def test_quote_verbatim_catches_an_altered_quote() -> None:
    text = 'They held "a five-hour meeting in Dubai, reportedly focused on finalizing" talks [1].'
    assert quote_verbatim(answer(text, ABU_DHABI)) == 0.0


def test_a_quote_must_be_in_a_cited_passage() -> None:
    text = 'They held "a five-hour meeting in Abu Dhabi" [2].'
    assert quote_verbatim(answer(text, ABU_DHABI, WINE)) == 0.0
    assert quote_verbatim(answer(text.replace("[2]", "[1]"), ABU_DHABI, WINE)) == 1.0


def test_quotes_are_shares_and_ellipses_stand_for_omitted_words() -> None:
    text = (
        'Aliyev and Pashinyan "held a five-hour meeting ... focused on finalizing a peace deal." '
        'It was "a ten-hour meeting in Abu Dhabi" [1].'
    )
    assert quote_verbatim(answer(text, ABU_DHABI)) == 0.5


def test_no_quotes_or_only_scare_quotes_give_none() -> None:
    assert quote_verbatim(answer(f"{RAILWAY_CLAIM} [1]", RAILWAY)) is None
    assert quote_verbatim(answer('Russia\'s "great power" ambitions [1].', RAILWAY)) is None


# --- pairs file and calibration -------------------------------------------------------


def test_load_pairs_names_the_bad_line(tmp_path: Path) -> None:
    good = '{"id": "a", "claim": "c", "passage": "p", "supported": true, "note": ""}'
    path = tmp_path / "pairs.jsonl"
    path.write_text(good + "\n\n" + good.replace("true", '"yes"') + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"pairs\.jsonl:3: 'supported' must be a bool"):
        load_pairs(path)
    path.write_text(good + "\n" + good + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r":2: duplicate id 'a'"):
        load_pairs(path)
    path.write_text('{"id": "b", "claim": "c"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r":1: missing field\(s\) passage, supported, note"):
        load_pairs(path)


def test_calibrate_counts_against_the_labels() -> None:
    pairs = [
        SupportPair("1", RAILWAY_CLAIM, RAILWAY, True, ""),
        SupportPair("2", WINE_CLAIM, RAILWAY, False, ""),
        SupportPair("3", WINE_CLAIM, WINE, True, ""),
        SupportPair("4", "Russia agreed with Iran in May 2023 on Astara.", RAILWAY, False, ""),
    ]
    (row,) = calibrate(pairs, thresholds=[0.5])
    assert (row.tp, row.fp, row.tn, row.fn) == (2, 1, 1, 0)
    assert row.accuracy == 0.75 and row.recall == 1.0 and row.precision == pytest.approx(2 / 3)


def test_best_row_prefers_the_higher_threshold_on_ties() -> None:
    pairs = [SupportPair("1", RAILWAY_CLAIM, RAILWAY, True, "")]
    assert best_row(calibrate(pairs, thresholds=[0.3, 0.5])).threshold == 0.5


def test_the_pairs_file_is_large_and_balanced() -> None:
    pairs = load_pairs(PAIRS)
    assert len(pairs) >= 80
    share = sum(p.supported for p in pairs) / len(pairs)
    assert 0.4 <= share <= 0.6
    assert all(p.note.strip() for p in pairs), "every label says why"


def test_support_threshold_is_the_calibrated_one() -> None:
    """The constant is the best threshold on the labels (ties to the higher one), so it
    cannot drift from them; the bar is what a lexical test honestly reaches on pairs whose
    negatives are mostly negations, swapped actors and changed numbers (majority: ~0.50)."""
    rows = calibrate(load_pairs(PAIRS))
    best = best_row(rows)
    assert SUPPORT_THRESHOLD in THRESHOLDS
    assert best.threshold == SUPPORT_THRESHOLD
    in_use = next(r for r in rows if r.threshold == SUPPORT_THRESHOLD)
    assert in_use.accuracy == best.accuracy
    assert in_use.accuracy >= 0.65

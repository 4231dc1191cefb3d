"""Answer checks (rag.citations) and the shared sentence splitter (rag.sentences)."""

from __future__ import annotations

import itertools
import time

import pytest

from rag.citations import (
    CitationCheck,
    is_cannot_answer,
    parse_citations,
    strip_unsafe_markup,
    validate_citations,
)
from rag.prompts import CANNOT_ANSWER
from rag.sentences import sentences, split_sentences

# --- parse_citations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pluto is small [1].", [1]),
        ("Pluto is small [1][3].", [1, 3]),
        ("Pluto is small [1] [3].", [1, 3]),
        ("Pluto is small [1, 2].", [1, 2]),
        ("Pluto is small [1,2;4].", [1, 2, 4]),
        ("Pluto is small [2-4].", [2, 3, 4]),
        ("Pluto is small [2–4].", [2, 3, 4]),
        ("Pluto is small [1, 3-4].", [1, 3, 4]),
        ("Pluto is small [Passage 2].", [2]),
        ("Pluto is small [passages 1 and 3].", [1, 3]),
        ("Pluto is small [Source 4] [doc 5].", [4, 5]),
        ("Order of first use [3] then [1] then [3] again [2].", [3, 1, 2]),
        ("Numbers as written [0] [99].", [0, 99]),
        ("Spaces inside [ 2 ].", [2]),
        ("No citations here.", []),
        ("A link [1](https://example.org) is not a citation.", []),
        ("A footnote [^1] is not a citation.", []),
        ("Not numbers [a] [1.5] [] [see 1].", []),
        ("A descending range [3-1] is not a citation.", []),
        ("A huge range [1-500] is not a citation.", []),
        ("Years 2020 and (1) are not citations.", []),
    ],
)
def test_parse_citations(text: str, expected: list[int]) -> None:
    assert parse_citations(text) == expected


# --- validate_citations ---------------------------------------------------------------------


def test_all_valid() -> None:
    text = "Pluto is a dwarf planet [1]. It orbits beyond Neptune [2][1]."
    check = validate_citations(text, 2)
    assert check == CitationCheck(text=text, cited=(1, 2), removed=(), uncited_sentences=())
    assert check.ok


def test_invalid_citations_are_removed() -> None:
    text = "Pluto is a dwarf planet [1][7]. It was reclassified in 2006 [0]. Eris is larger [2]."
    check = validate_citations(text, 5)
    assert check.text == (
        "Pluto is a dwarf planet [1]. It was reclassified in 2006. Eris is larger [2]."
    )
    assert check.removed == (7, 0)
    assert check.cited == (1, 2)
    assert check.uncited_sentences == ("It was reclassified in 2006.",)
    assert not check.ok


def test_citation_forms_are_rewritten_canonically() -> None:
    check = validate_citations("Pluto has five moons [1, 3-4]. Charon is big [Passage 2].", 4)
    assert check.text == "Pluto has five moons [1][3][4]. Charon is big [2]."
    assert check.cited == (1, 3, 4, 2)


def test_partially_invalid_group_and_duplicates() -> None:
    check = validate_citations("Pluto is cold and far away [2, 9, 2].", 3)
    assert check.text == "Pluto is cold and far away [2]."
    assert check.removed == (9,)


def test_citation_after_the_period_counts_for_the_sentence_before() -> None:
    check = validate_citations("Pluto is a dwarf planet.[1] Charon is its moon. [2]", 2)
    assert check.uncited_sentences == ()
    assert check.cited == (1, 2)


def test_removed_citation_at_the_start_of_a_line() -> None:
    check = validate_citations(
        "Pluto is a dwarf planet [1].\n[9] Charon is its largest moon [2].", 2
    )
    assert check.removed == (9,)
    assert "[9]" not in check.text
    assert check.uncited_sentences == ()


def test_things_that_need_no_citation() -> None:
    text = (
        "Is Pluto a planet? "
        "In short: no. "
        "The passages do not say when Pluto was discovered. "
        "Pluto is a dwarf planet [1]."
    )
    assert validate_citations(text, 1).uncited_sentences == ()


def test_cannot_answer_needs_no_citation() -> None:
    check = validate_citations(CANNOT_ANSWER, 3)
    assert check.ok
    assert check.cited == ()


def test_uncited_claims_are_listed_in_order() -> None:
    text = (
        "Pluto was discovered in 1930 by Clyde Tombaugh. "
        "It is smaller than the Moon [1]. "
        "Its surface is mostly nitrogen ice."
    )
    assert validate_citations(text, 1).uncited_sentences == (
        "Pluto was discovered in 1930 by Clyde Tombaugh.",
        "Its surface is mostly nitrogen ice.",
    )


def test_sentence_citing_only_an_invalid_passage_is_uncited() -> None:
    check = validate_citations("Pluto was discovered in 1930 [4].", 3)
    assert check.text == "Pluto was discovered in 1930."
    assert check.uncited_sentences == ("Pluto was discovered in 1930.",)


def test_no_passages_makes_every_citation_invalid() -> None:
    check = validate_citations("Pluto is a dwarf planet [1].", 0)
    assert check.removed == (1,)
    assert check.cited == ()


def test_text_that_only_looks_like_citations_is_left_alone() -> None:
    text = "See the footnote [^1] and the link [1](https://example.org) in the article [1]."
    check = validate_citations(text, 1)
    assert check.text == text
    assert check.cited == (1,)


def test_empty_answer() -> None:
    assert validate_citations("", 3) == CitationCheck("", (), (), ())


# --- is_cannot_answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        CANNOT_ANSWER,
        "The documents do not answer this",
        "  the documents do not answer this.  \n",
        "THE DOCUMENTS DO NOT ANSWER THIS!",
        "The documents do not answer this question.",
        "The documents don't answer this.",
        "The documents don’t answer this question.",
        '"The documents do not answer this."',
        "**The documents do not answer this.**",
        "The passages do not answer this question.",
        "The provided documents do not answer the question.",
        "The documents do not contain the answer to this question.",
        "I'm sorry, but the documents do not answer this.",
        "Answer: The documents do not answer this.",
        "The documents do not answer this [1].",
    ],
)
def test_is_cannot_answer(text: str) -> None:
    assert is_cannot_answer(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Pluto is a dwarf planet [1].",
        "The documents do not answer this. But Pluto is small [1].",
        "The documents answer this [1].",
        "The documents do not mention Charon's mass, but Pluto is small [1].",
    ],
)
def test_is_not_cannot_answer(text: str) -> None:
    assert not is_cannot_answer(text)


# --- strip_unsafe_markup -----------------------------------------------------------------------


SOURCE = "https://www.example.org/pluto"  # the URL of a cited passage


def test_markdown_images_are_removed_whatever_their_url() -> None:
    text, notes = strip_unsafe_markup(
        f'Pluto [1]. ![chart]({SOURCE}) ![x](https://evil.com/t.gif?u=1 "t")', {SOURCE}
    )
    assert text == "Pluto [1]."
    assert notes == ["removed image www.example.org/pluto", "removed image evil.com/t.gif?…"]


def test_html_images_are_removed() -> None:
    text, notes = strip_unsafe_markup(
        'Pluto <IMG SRC="https://evil.com/p.png" onerror="x()"> is small.', set()
    )
    assert text == "Pluto is small."
    assert notes == ["removed image evil.com/p.png"]


def test_only_links_to_a_cited_url_keep_their_target() -> None:
    text, notes = strip_unsafe_markup(
        f"Read [the article]({SOURCE}) or [this](https://evil.com/x?q=1) "
        "or [that](javascript:alert(1)) or [more](https://www.example.org/login).",
        {SOURCE},
    )
    assert text == f"Read [the article]({SOURCE}) or this or that or more."
    assert notes == [
        "removed link to evil.com/x?… (kept its text)",
        "removed link to javascript:alert(1) (kept its text)",
        "removed link to www.example.org/login (kept its text)",
    ]


def test_html_links() -> None:
    text, notes = strip_unsafe_markup(
        f"<a href=\"https://evil.com\">click</a> and <a href='{SOURCE}'>source</a> and "
        "<a href='https://www.example.org/pluto/'>almost</a>",
        {SOURCE},
    )
    assert text == f"click and <a href='{SOURCE}'>source</a> and almost"
    assert notes == [
        "removed link to evil.com (kept its text)",
        "removed link to www.example.org/pluto (kept its text)",
    ]


def test_bare_urls_and_autolinks_are_removed_unless_cited() -> None:
    text, notes = strip_unsafe_markup(
        f"See https://evil.com/steal?d=secret. Also ({SOURCE}), www.evil.net "
        "and <https://evil.org/x> and https://www.example.org/other.",
        {SOURCE},
    )
    assert text == f"See. Also ({SOURCE}), and and."
    assert notes == [
        "removed URL to evil.org/x",
        "removed URL to evil.com/steal?…",
        "removed URL to www.evil.net",
        "removed URL to www.example.org/other",
    ]


def test_url_matching_is_exact() -> None:
    """The cited URL itself, nothing near it: a planted page of the source's own site, a
    subdomain, another scheme or port, a look-alike host all go."""
    for near in (
        "https://www.example.org/pluto/",
        "http://www.example.org/pluto",
        "https://example.org/pluto",
        "https://www.example.org:8443/pluto",
        "https://www.example.org.evil.com/pluto",
        "https://user@evil.com/?www.example.org/pluto",
        "https://www.example.org/pluto?next=https://evil.com",
    ):
        assert strip_unsafe_markup(near, {SOURCE})[1] != [], near
    assert strip_unsafe_markup(SOURCE, {SOURCE}) == (SOURCE, [])
    assert (
        strip_unsafe_markup(
            "https://www.example.org/a?b=1&amp;c=2", {"https://www.example.org/a?b=1&c=2"}
        )[1]
        == []
    )


def test_a_cited_link_whose_text_is_another_url_is_removed() -> None:
    text, notes = strip_unsafe_markup(f"[http://evil.com/login]({SOURCE})", {SOURCE})
    assert "evil.com" not in text
    assert notes[-1] == "removed URL to evil.com/login"


def test_active_html_is_removed() -> None:
    text, notes = strip_unsafe_markup(
        "Pluto<script>fetch('https://evil.com')</script> is <iframe src=x></iframe>small.", set()
    )
    assert text == "Pluto is small."
    assert notes == ["removed HTML <script> element", "removed HTML <iframe> element"]


def test_reference_style_images_and_links() -> None:
    text, notes = strip_unsafe_markup(
        "Pluto ![img][p] is [small][s].\n\n[p]: https://evil.com/p.png\n[s]: https://evil.com/s",
        set(),
    )
    assert "evil.com" not in text
    assert "![" not in text
    assert len(notes) == 3


def test_clean_text_is_unchanged() -> None:
    text = "Pluto is a dwarf planet [1]. It is 2,377 km wide (about 18% of Earth) [2]."
    assert strip_unsafe_markup(text, set()) == (text, [])


# --- split_sentences ---------------------------------------------------------------------------


def test_spans_index_the_original_text() -> None:
    text = "  First one.   Second one!\n\nThird?  "
    spans = split_sentences(text)
    assert spans == [(2, 12), (15, 26), (28, 34)]
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one!", "Third?"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   \n ", []),
        ("No final punctuation", ["No final punctuation"]),
        ("Dr. Smith met Mr. Jones. They talked.", ["Dr. Smith met Mr. Jones.", "They talked."]),
        (
            "Prices rose 3.5 percent in Jan. 2020. Then they fell.",
            ["Prices rose 3.5 percent in Jan. 2020.", "Then they fell."],
        ),
        (
            "He lives in the U.S. The weather is fine.",
            ["He lives in the U.S.", "The weather is fine."],
        ),
        ("The U.S. Senate voted. It passed.", ["The U.S. Senate voted.", "It passed."]),
        (
            "Fruit, e.g. apples, i.e. food. More later.",
            ["Fruit, e.g. apples, i.e. food.", "More later."],
        ),
        (
            "E.g. This is one sentence. See No. 5 and p. 12. Done.",
            ["E.g. This is one sentence.", "See No. 5 and p. 12.", "Done."],
        ),
        (
            "J. K. Rowling wrote it. John F. Kennedy read it.",
            ["J. K. Rowling wrote it.", "John F. Kennedy read it."],
        ),
        (
            "They met at 5 p.m. Eastern time. It rained.",
            ["They met at 5 p.m. Eastern time.", "It rained."],
        ),
        ("Wait... What happened? Nothing!", ["Wait...", "What happened?", "Nothing!"]),
        ("And so on… The end.", ["And so on…", "The end."]),
        ("It trailed off... and then stopped.", ["It trailed off... and then stopped."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("He said “Stop.” Then he left.", ["He said “Stop.”", "Then he left."]),
        ('"Why?" he asked.', ['"Why?" he asked.']),
        ("(It was late.) We left.", ["(It was late.)", "We left."]),
        ("Claim one.[1] Claim two.[2][3] End.", ["Claim one.[1]", "Claim two.[2][3]", "End."]),
        ("Claim one. [1] Claim two [2].", ["Claim one. [1]", "Claim two [2]."]),
        ("Claim one.[1, 2] Claim two.[1-3]", ["Claim one.[1, 2]", "Claim two.[1-3]"]),
        ("Visit example.com today. Thanks.", ["Visit example.com today.", "Thanks."]),
        ("Version 2.0 shipped. It works.", ["Version 2.0 shipped.", "It works."]),
        ("Smith et al. (2020) found it. Good.", ["Smith et al. (2020) found it.", "Good."]),
        ("He has a Ph.D. in physics. Nice.", ["He has a Ph.D. in physics.", "Nice."]),
        ("Apples, pears, etc. are fruit. Yes.", ["Apples, pears, etc. are fruit.", "Yes."]),
        ("He got vitamin C. It helped.", ["He got vitamin C.", "It helped."]),
        ("In 1930. 25 people came.", ["In 1930.", "25 people came."]),
        ("Prof. Ada Lovelace and St. Paul.", ["Prof. Ada Lovelace and St. Paul."]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_line_structure() -> None:
    text = (
        "## Results\n"
        "The first line wraps\n"
        "onto a second line. Then a list:\n"
        "- item one\n"
        "- item two\n"
        "1. Numbered item. Second sentence.\n"
        "2) Another\n"
        "\n"
        "New paragraph without a period\n"
        "\n"
        "Last."
    )
    assert sentences(text) == [
        "## Results",
        "The first line wraps\nonto a second line.",
        "Then a list:",
        "- item one",
        "- item two",
        "1. Numbered item.",
        "Second sentence.",
        "2) Another",
        "New paragraph without a period",
        "Last.",
    ]


def test_realistic_paragraph() -> None:
    text = (
        "Pluto was discovered on Feb. 18, 1930, by Clyde W. Tombaugh at the Lowell "
        "Observatory in Flagstaff, Ariz., U.S. It was long considered the ninth planet. "
        "In 2006, however, the International Astronomical Union (IAU) reclassified it as a "
        "dwarf planet [1]. Its diameter is about 2,377 km, i.e. roughly 18.5% of Earth's. "
        'Dr. Alan Stern, who led NASA\'s New Horizons mission, called the decision "sloppy." '
        "[2] The spacecraft flew past Pluto on July 14, 2015... It sent back images of a "
        "heart-shaped glacier! Was the IAU right? Many scientists, e.g. Stern, say no."
    )
    assert sentences(text) == [
        "Pluto was discovered on Feb. 18, 1930, by Clyde W. Tombaugh at the Lowell "
        "Observatory in Flagstaff, Ariz., U.S.",
        "It was long considered the ninth planet.",
        "In 2006, however, the International Astronomical Union (IAU) reclassified it as a "
        "dwarf planet [1].",
        "Its diameter is about 2,377 km, i.e. roughly 18.5% of Earth's.",
        'Dr. Alan Stern, who led NASA\'s New Horizons mission, called the decision "sloppy." [2]',
        "The spacecraft flew past Pluto on July 14, 2015...",
        "It sent back images of a heart-shaped glacier!",
        "Was the IAU right?",
        "Many scientists, e.g. Stern, say no.",
    ]


def test_realistic_answer_with_citations() -> None:
    text = (
        "According to Jane Doe [1], Pluto is no longer a planet. The IAU voted in Aug. 2006 "
        "[1][2].\nCritics disagreed.[3] The documents do not say why."
    )
    assert sentences(text) == [
        "According to Jane Doe [1], Pluto is no longer a planet.",
        "The IAU voted in Aug. 2006 [1][2].",
        "Critics disagreed.[3]",
        "The documents do not say why.",
    ]


def test_spans_are_ordered_disjoint_and_stripped() -> None:
    text = "A b c. D e f!  G h i?\n\n- J k.\n  L m n.  " * 50
    spans = split_sentences(text)
    assert spans
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
    # Nothing but whitespace lies between the spans.
    gaps = [text[a[1] : b[0]] for a, b in itertools.pairwise(spans)]
    assert all(not gap.strip() for gap in gaps)


def test_split_sentences_is_linear_time() -> None:
    """Long inputs (whole documents when chunking) must not go quadratic."""
    unit = "Dr. Smith paid $3.5 million in the U.S. The deal closed. Was it fair? Yes [1].\n"
    small, large = unit * 500, unit * 5000
    started = time.perf_counter()
    n_small = len(split_sentences(small))
    t_small = time.perf_counter() - started
    started = time.perf_counter()
    n_large = len(split_sentences(large))
    t_large = time.perf_counter() - started
    assert n_large == 10 * n_small == 5000 * 4
    assert t_large < max(0.5, 30 * t_small)
    huge_line = "word " * 200_000 + "."
    started = time.perf_counter()
    assert len(split_sentences(huge_line)) == 1
    assert time.perf_counter() - started < 20.0  # quadratic would take hours, not seconds


@pytest.mark.parametrize(
    "text",
    [
        "[" * 20_000,
        "![" * 10_000,
        "[a](" + "(" * 20_000,
        "<a href=x>" * 5_000,
        "<script>" * 5_000,
        "[1-2, " * 5_000,
        "e.g. " * 20_000,
        "www.a " * 20_000,  # each URL removed leaves a blank: 20,000 in a row
        "ab.cd/ " * 20_000,
        "a." * 50_000,
        ". " * 20_000,
    ],
)
def test_adversarial_inputs_stay_fast(text: str) -> None:
    """Regexes over model output must not backtrack quadratically."""
    started = time.perf_counter()
    strip_unsafe_markup(text, {"example.org"})
    validate_citations(text, 3)
    is_cannot_answer(text)
    split_sentences(text)
    # Not a speed target (that is `make bench`): catastrophic backtracking on these inputs
    # takes minutes, so a bound far above a loaded CI machine's worst case still catches it.
    assert time.perf_counter() - started < 10.0

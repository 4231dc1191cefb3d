"""Name variants: the same actor written several ways is one name."""

from __future__ import annotations

import pytest

from rag.names import canonical, canonical_names, find_names, variants


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Türkiye and Turkey", {"Turkey"}),
        ("the Kremlin said; Moscow replied; Russia’s allies", {"Russia"}),
        ("Baku and the Azerbaijani army", {"Azerbaijan"}),
        ("Armenians left Yerevan", {"Armenia"}),
        ("Brussels and the EU", {"European Union"}),
        ("the Collective Security Treaty Organization (CSTO)", {"CSTO"}),
        ("an American leader in Washington", {"United States"}),  # not a US territory's
        ("Indian arms for Armenia", {"India", "Armenia"}),
    ],
)
def test_variants_of_one_actor_share_a_canonical_name(text: str, expected: set[str]) -> None:
    assert canonical_names(text) == expected


def test_matching_is_case_sensitive_so_common_words_are_not_names() -> None:
    assert canonical_names("a turkey for us in georgia") == frozenset()


def test_mentions_carry_exact_spans() -> None:
    text = "Officials in Tbilisi and Ankara met."
    for mention in find_names(text):
        assert text[mention.start : mention.end] == mention.text
    assert [m.canonical for m in find_names(text)] == ["Georgia", "Turkey"]


def test_longest_variant_wins() -> None:
    assert [m.text for m in find_names("the Soviet Union collapsed")] == ["Soviet Union"]


def test_canonical_and_variants_round_trip() -> None:
    assert canonical("Türkiye") == "Turkey"
    assert canonical("Atlantis") == "Atlantis"
    assert {"Türkiye", "Ankara", "Turkish"} <= variants("Turkey")

"""Names a question uses for what the documents name otherwise."""

from __future__ import annotations

from rag.aliases import expand_query, initialisms, place_names


def known_of(*names: str):  # type: ignore[no-untyped-def]
    lowered = {n.casefold() for n in names}
    return lambda name: name.casefold() in lowered


def test_capitals_and_institutions_name_their_country() -> None:
    assert expand_query("Why did Baku leave?") == "Why did Baku leave? (Azerbaijan)"
    assert expand_query("What does the Kremlin want in Baku?") == (
        "What does the Kremlin want in Baku? (Russia, Azerbaijan)"
    )
    assert expand_query("Why did Azerbaijan leave Baku?") == "Why did Azerbaijan leave Baku?"


def test_demonyms_name_their_place_when_the_collection_uses_it() -> None:
    known = known_of("Asia", "Ukraine", "Azerbaijan", "Türkiye")
    assert place_names("Asian", known) == ["Asia"]
    assert place_names("Ukrainian", known) == ["Ukraine"]
    assert place_names("Azerbaijani", known) == ["Azerbaijan"]
    assert place_names("Turkish", known) == ["Türkiye"]  # irregular: from the table
    assert place_names("Georgian", known) == []  # Georgia is not in this collection
    assert expand_query("Which South Asian state?", known) == "Which South Asian state? (Asia)"
    # Without a vocabulary no rule-derived name is added.
    assert expand_query("Which South Asian state?") == "Which South Asian state?"


def test_a_list_of_names_spells_the_acronym_of_their_group() -> None:
    question = (
        "When did Baku seek entry into the bloc of Brazil, Russia, India, China and South Africa?"
    )
    assert initialisms(question) == ["BRICS", "BRICSA"]
    assert expand_query(question, known_of("Azerbaijan", "BRICS")).endswith("(Azerbaijan, BRICS)")
    assert "BRICS" not in expand_query(question, known_of("Azerbaijan"))


def test_descriptions_of_organisations_name_them_by_one_name_the_collection_uses() -> None:
    known = known_of("CSTO", "EAEU", "Eurasian Economic Union")
    assert expand_query("Why did the Moscow-led military alliance not help?", known).endswith(
        "(Russia, CSTO)"
    )
    assert expand_query("Who joined the Russia-led economic bloc?", known).endswith("(EAEU)")
    # A bare "Moscow-led bloc" may be either.
    assert expand_query("Who left the Moscow-led bloc?", known).endswith("(Russia, CSTO, EAEU)")
    # A name the collection does not use is not appended, nor one the query already has.
    assert expand_query("Why did the Moscow-led military alliance not help?", known_of()).endswith(
        "(Russia)"
    )
    assert expand_query("Is the CSTO a Russia-led military alliance?", known) == (
        "Is the CSTO a Russia-led military alliance?"
    )

from rag.lexical import terms, words


def test_terms_stem_drop_stop_words_and_possessives() -> None:
    assert terms("Azerbaijan’s relations with the Russians") == ["azerbaijan", "relat", "russian"]


def test_terms_keep_numbers_and_match_across_inflections() -> None:
    assert "2008" in terms("In 2008 Russia invaded")
    assert terms("negotiations")[0] == terms("negotiation")[0]


def test_words_normalise_apostrophes() -> None:
    assert words("Russia’s") == ["russia's"]

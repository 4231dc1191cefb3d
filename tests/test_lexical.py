from rag.lexical import table_values, terms, words


def test_terms_stem_drop_stop_words_and_possessives() -> None:
    assert terms("Azerbaijan’s relations with the Russians") == ["azerbaijan", "relat", "russian"]


def test_terms_keep_numbers_and_match_across_inflections() -> None:
    assert "2008" in terms("In 2008 Russia invaded")
    assert terms("negotiations")[0] == terms("negotiation")[0]


def test_words_normalise_apostrophes() -> None:
    assert words("Russia’s") == ["russia's"]


def test_a_term_tables_values_come_as_its_column_without_walking_its_terms() -> None:
    """An IDF of 170k terms (a million chunks) is not walked per question: a TermTable
    hands over its column, NaN (a term no chunk holds) left out; a dict is read as is."""
    import numpy as np

    from rag.store import TermTable

    class Unwalkable(TermTable):
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise AssertionError("walked term by term")

    values = np.array([1.5, np.nan, 0.25, 3.0])
    table = Unwalkable({"a": 0, "": 1, "b": 2, "c": 3}, values)
    assert sorted(table_values(table).tolist()) == [0.25, 1.5, 3.0]
    assert sorted(table_values({"a": 2.0, "b": 1.0}).tolist()) == [1.0, 2.0]
    assert table_values({}).shape == (0,)
    # a question word no chunk holds weighs as the rarest: read from the column
    from rag.question import question_focus

    assert (
        "zanzibar" in question_focus("What did tariffs on zanzibar do?", table, rare_idf=2.0).terms
    )

"""Soft word matching: near-synonyms count, function words and numbers do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.assistant import Assistant
from rag.embeddings import Embedder
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.wordmatch import WordMatcher, content_words, vocabulary


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_content_words_drop_function_words_numbers_and_possessives() -> None:
    assert content_words("What did Russia's army do in 2008 and in 2008?") == ["russia", "army"]
    assert vocabulary(["The army left.", "An army came back"]) == ["army", "back", "came", "left"]


def _matcher() -> WordMatcher:
    words = ["arms", "bread", "sold", "baked", "weapons"]
    vectors = np.stack(
        [
            _unit(1, 0.1, 0),
            _unit(0, 1, 0),
            _unit(0, 0, 1),
            _unit(0.5, -0.5, -0.7),
            _unit(0.9, 0.3, 0),  # cosine 0.95 with "arms", 0.32 with "bread"
        ]
    ).astype(np.float32)
    sentences = ["They sold arms.", "They baked bread.", "They sold bread.", "No weapons."]
    return WordMatcher(words, vectors, sentences)


def test_a_near_synonym_counts_above_the_threshold_only() -> None:
    matcher = _matcher()
    scores = matcher.sentence_scores(["weapons"], threshold=0.5)
    assert scores[0] > 0 and scores[1] == 0 and scores[2] == 0 and scores[3] > 0
    strict = matcher.sentence_scores(["weapons"], threshold=0.99)
    assert strict[3] > 0 and not strict[:3].any()  # only the word itself
    # Words outside the vocabulary take no part, unless given a vector.
    assert matcher.unknown(["cannons", "arms", "cannons"]) == ["cannons"]
    assert not matcher.sentence_scores(["cannons"], threshold=0.0).any()
    cannons = {"cannons": _unit(1, 0.2, 0)}
    assert matcher.sentence_scores(["cannons"], threshold=0.9, extra=cannons)[0] > 0


def test_each_query_word_counts_once_by_its_best_match_weighted_by_idf() -> None:
    matcher = _matcher()
    scores = matcher.sentence_scores(["bread", "sold", "sold"], threshold=0.5)
    # "They sold bread." holds both words; the others one each or none.
    assert scores[2] > max(scores[0], scores[1])
    assert scores[2] == np.float32(
        matcher.idf[matcher.words.index("bread")] + matcher.idf[matcher.words.index("sold")]
    )
    # "arms" occurs in one sentence, "sold" in two: the rarer word weighs more.
    assert matcher.idf[matcher.words.index("arms")] > matcher.idf[matcher.words.index("sold")]


def test_scoring_some_sentences_gives_their_scores_of_all() -> None:
    """The candidate path scores only the pool's sentences: same values, in their order."""
    matcher = _matcher()
    asked = ["weapons", "bread", "sold"]
    every = matcher.sentence_scores(asked, threshold=0.5)
    for rows in ([0, 2], [1, 3], [3], [0, 1, 2, 3]):
        some = matcher.sentence_scores(asked, 0.5, sentences=np.array(rows, dtype=np.int64))
        assert some.tolist() == every[rows].tolist()
    assert matcher.sentence_scores(asked, 0.5, sentences=np.zeros(0, dtype=np.int64)).shape == (0,)


def test_scoring_some_sentences_by_their_own_words_gives_their_scores_from_the_postings() -> None:
    """The large-collection path reads a candidate's own words (the postings turned
    round) instead of the postings; any order, repeats allowed."""
    matcher = _matcher()
    cannons = {"cannons": _unit(1, 0.2, 0)}
    for asked in (["weapons", "bread", "sold"], ["sold", "sold"], ["cannons", "bread"], []):
        every = matcher.sentence_scores(asked, 0.5, extra=cannons)
        for rows in ([0, 2], [3, 1], [0, 1, 2, 3], [2, 2, 0]):
            some = matcher.some_scores(asked, 0.5, cannons, np.array(rows, dtype=np.int64))
            assert np.allclose(some, every[rows]), (asked, rows)
    assert matcher.some_scores(["bread"], 0.5, None, np.zeros(0, dtype=np.int64)).shape == (0,)


def test_knows_names_by_their_content_words() -> None:
    matcher = _matcher()
    assert matcher.knows("Arms")
    assert matcher.knows("the arms of bread")  # function words are not looked up
    assert not matcher.knows("Brazil")


def test_word_matching_finds_a_paraphrase_bm25_cannot(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "army.txt").write_text("The army bought new weapons last spring.", encoding="utf-8")
    (folder / "talks.txt").write_text("Arms control talks stalled in the capital.", "utf-8")
    (folder / "bakery.txt").write_text("The bakery sold fresh bread every morning.", "utf-8")
    settings = Settings(index_dir=tmp_path / "index", collection="t", _env_file=None)  # type: ignore[call-arg]
    assistant = Assistant(settings, embedder_factory=lambda: embedder)
    assistant.ingest([folder])
    retriever = assistant.retriever

    def docs(ranking: list[tuple[int, float]]) -> list[str]:
        return [retriever.index.chunks[row].doc_id for row, _ in ranking]

    question = "Who purchased arms?"  # "purchased" is in no document: it takes no part
    assert docs(retriever.lexical_ranking(question, 5, None)) == ["talks"]
    assert docs(retriever.word_ranking(question, 5, None)) == ["talks", "army"]  # arms ~ weapons
    assert {p.chunk.doc_id for p in assistant.search(question, k=3)[:2]} == {"talks", "army"}
    # Embedding the words the collection does not use lets "purchased" match "bought" too.
    army = [row for row, chunk in enumerate(retriever.index.chunks) if chunk.doc_id == "army"]
    eager = Retriever(
        retriever.index, embedder, settings.model_copy(update={"word_embed_unknown": True})
    )
    assert eager.word_scores(question)[army] > retriever.word_scores(question)[army]

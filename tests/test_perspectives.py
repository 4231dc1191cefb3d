"""Author perspectives (`rag compare`): balanced retrieval, the "does not address" decision,
verbatim quotes with exact spans, agreement and divergence points, the LLM path over a real
HTTP server (with a fabricated quote that must be dropped, and failures that must fall back
to the offline comparison), the CLI contract, and the perspective metrics of `rag eval`.

Offline with the real embedding model; two small collections are built here: one of four
authors (one of them prolific, one writing on something else entirely) and one of a single
author."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_openai_server import FakeOpenAIServer
from typer.testing import CliRunner

import rag.assistant
from rag.assistant import Assistant
from rag.cli import app
from rag.cli_tables import summary_table
from rag.embeddings import Embedder
from rag.errors import RagError
from rag.evaluation.perspectives import score_comparison, summarise_perspectives
from rag.evaluation.records import QuestionResult
from rag.evaluation.runner import run_eval
from rag.evaluation.schema import load_eval_set
from rag.names import canonical_names
from rag.perspectives import (
    CompareConfig,
    Scored,
    author_groups,
    claims,
    compare,
    condense,
    offline_points,
    perspective_label,
)
from rag.perspectives.search import author_query
from rag.retrieval import Retriever
from rag.serialize import comparison_dict, comparison_markdown
from rag.settings import Settings
from rag.types import Comparison, Document, Quote

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "eval" / "questions.jsonl"

# --- a collection of four authors ---------------------------------------------------------

PETROVA, OKAFOR, MENDES = "Anna Petrova", "Ben Okafor", "Carla Mendes"
INFLUENCE = "How do the authors see Russia's influence in the South Caucasus?"
OFF_TOPIC = "What is the recipe for khachapuri?"
FABRICATED = "Russia will annex the whole South Caucasus by 2030, the author insists."

FILES: dict[str, tuple[str, str | None, str]] = {
    "petrova_comeback.txt": (
        "Moscow's quiet comeback",
        PETROVA,
        "Russia's influence in the South Caucasus is growing again, whatever Western capitals "
        "believe. Moscow has used energy deals to bind Yerevan and Baku to its market. The "
        "state nuclear company Rosatom has signed new contracts across the region. Russian "
        "banks have expanded their lending to local firms since 2022. In Georgia, trade with "
        "Russia has risen for three years in a row. The Kremlin's leverage, in short, is "
        "stronger than it looks.\n",
    ),
    "petrova_energy.txt": (
        "Energy as leverage",
        PETROVA,
        "Russian gas remains the backbone of heating in Armenia. Gazprom owns the Armenian gas "
        "distribution network outright. Every winter reminds Yerevan how much its households "
        "depend on Russian supplies. Russia's influence over energy prices gives it a lever "
        "that no Western partner can match. New pipeline projects only deepen this "
        "dependence.\n",
    ),
    "petrova_migrants.txt": (
        "Migrants and money",
        PETROVA,
        "Remittances from workers in Russia still make up a large share of household income "
        "in the region. Hundreds of thousands of Armenians and Azerbaijanis work in Russian "
        "cities. Their transfers keep local economies afloat and tie families to Russia's "
        "labour market. This human link is one more channel of Russian influence in the "
        "South Caucasus.\n",
    ),
    "okafor_retreat.txt": (
        "The long retreat of Moscow",
        OKAFOR,
        "Russia's influence in the South Caucasus is declining, and the war in Ukraine has "
        "only sped up the fall. Armenia froze its participation in the Moscow-led security "
        "alliance after Russian peacekeepers stood aside in Karabakh. Azerbaijan now "
        "negotiates with Moscow as an equal and leans on Turkey instead. Students from the "
        "region increasingly choose Erasmus exchanges in Europe over Russian universities. "
        "Moscow still has energy leverage over the region, but its political authority is "
        "weakening year by year.\n",
    ),
    "mendes_wine.txt": (
        "Georgian wine finds new markets",
        MENDES,
        "Georgian winemakers exported record volumes of qvevri wine to China and Poland last "
        "year. Small family cellars in Kakheti have started selling directly to restaurants "
        "in Warsaw. The harvest in the Alazani valley was unusually early because of a hot "
        "summer. Wine tourism now brings thousands of visitors to Sighnaghi every autumn.\n",
    ),
    "hiking_notes.txt": (
        "Notes on hiking in Svaneti",
        None,
        "The trail from Mestia to Ushguli takes four days on foot. Hikers sleep in family "
        "guesthouses in small villages along the way. The Chalaadi glacier is an easy "
        "half-day walk from Mestia. Weather in the high mountains changes quickly, so pack "
        "warm clothes even in August.\n",
    ),
}


def write_collection(folder: Path, names: Sequence[str]) -> Path:
    folder.mkdir(parents=True)
    catalog = []
    for name in names:
        title, author, text = FILES[name]
        (folder / name).write_text(text, encoding="utf-8")
        catalog += [f'[documents."{name}"]', f'title = "{title}"', f'author = "{author or ""}"']
        catalog.append(f'url = "https://example.org/{name.removesuffix(".txt")}"')
    (folder / "catalog.toml").write_text("\n".join(catalog) + "\n", encoding="utf-8")
    return folder


def settings_for(index_dir: Path, collection: str, **values: Any) -> Settings:
    return Settings(index_dir=index_dir, collection=collection, _env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def authors_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the four-author collection (collection "authors") and of a one-author
    collection ("solo"); returns the index folder."""
    root = tmp_path_factory.mktemp("perspectives")
    index_dir = root / "index"
    for collection, names in (
        ("authors", list(FILES)),
        ("solo", ["petrova_comeback.txt", "petrova_energy.txt"]),
    ):
        folder = write_collection(root / collection, names)
        assistant = Assistant(
            settings_for(index_dir, collection), embedder_factory=lambda: embedder
        )
        assert assistant.ingest([folder]).ok
    return index_dir


@pytest.fixture(scope="module")
def authors(authors_index: Path, embedder: Embedder) -> Assistant:
    return Assistant(settings_for(authors_index, "authors"), embedder_factory=lambda: embedder)


@pytest.fixture(scope="module")
def influence(authors: Assistant) -> Comparison:
    return authors.compare(INFLUENCE)


def by_label(comparison: Comparison) -> dict[str, Any]:
    return {perspective_label(p): p for p in comparison.perspectives}


def author_of(quote: Quote, documents: dict[str, Document]) -> str | None:
    return documents[quote.doc_id].meta.author


def assert_verbatim(comparison: Comparison, documents: dict[str, Document]) -> None:
    """Every quote is the exact span of its document, inside its chunk, by the right author."""
    for p in comparison.perspectives:
        for q in p.quotes:
            assert documents[q.doc_id].text[q.start : q.end] == q.text
            assert author_of(q, documents) == p.author
    for point in (*comparison.agreements, *comparison.divergences):
        assert len(point.authors) >= 2
        for q in point.quotes:
            assert documents[q.doc_id].text[q.start : q.end] == q.text
        quoted = {author_of(q, documents) or "" for q in point.quotes}
        for name in point.authors:
            assert any(name == a or name.startswith("unknown author") for a in quoted), point


# --- balanced retrieval and "does not address" ----------------------------------------------


def test_prolific_author_does_not_crowd_out_the_others(
    authors: Assistant, influence: Comparison, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one search per author, over that author's documents only (Petrova's three together)
    searched: list[tuple[str, ...]] = []
    original = Retriever.search

    def spy(self: Retriever, query: str, **options: Any) -> Any:
        searched.append(options["filters"].doc_ids)
        return original(self, query, **options)

    monkeypatch.setattr(Retriever, "search", spy)
    assert authors.compare(INFLUENCE) == influence
    groups = author_groups(authors.index.documents)
    assert sorted(searched) == sorted(g.doc_ids for g in groups)
    # every author gets a perspective of their own, and Okafor has his say
    perspectives = by_label(influence)
    assert set(perspectives) == {
        PETROVA,
        OKAFOR,
        MENDES,
        "unknown author of “Notes on hiking in Svaneti”",
    }
    okafor = perspectives[OKAFOR]
    assert okafor.addressed and okafor.quotes
    assert all(q.doc_id == okafor.doc_id for q in okafor.quotes)
    assert perspectives[PETROVA].addressed
    assert 1 <= len(perspectives[PETROVA].quotes) <= 3


def test_an_author_writing_on_something_else_does_not_address_it(influence: Comparison) -> None:
    perspectives = by_label(influence)
    for label in (MENDES, "unknown author of “Notes on hiking in Svaneti”"):
        p = perspectives[label]
        assert not p.addressed
        assert p.quotes == ()
        assert "not address" in p.summary
    # addressing authors come first
    assert [p.addressed for p in influence.perspectives] == [True, True, False, False]


def test_every_author_of_the_demo_corpus_answers_a_comparative_question(
    demo_assistant: Assistant,
) -> None:
    question = "How do the authors view Russia's current and future role in the South Caucasus?"
    comparison = demo_assistant.compare(question)
    documents = demo_assistant.index.documents
    assert len(comparison.perspectives) == 5  # four named authors and one unsigned document
    assert all(p.addressed for p in comparison.perspectives)
    assert all(p.stance is None for p in comparison.perspectives)  # offline: no stance
    assert_verbatim(comparison, documents)
    unsigned = [p for p in comparison.perspectives if p.author is None]
    assert len(unsigned) == 1 and unsigned[0].meta.title


@pytest.mark.parametrize(
    "question",
    [
        OFF_TOPIC,
        "Which programming language is best for machine learning?",
        "How many people died in the Azerbaijan Airlines crash of December 2024?",
    ],
)
def test_off_topic_question_nobody_addresses(demo_assistant: Assistant, question: str) -> None:
    comparison = demo_assistant.compare(question)
    addressed = [perspective_label(p) for p in comparison.perspectives if p.addressed]
    if question == OFF_TOPIC or "programming" in question:
        assert addressed == []
        assert comparison.notice == "None of the authors addresses this question."
        assert comparison.agreements == () and comparison.divergences == ()
    else:  # an unanswerable figure question: at most one author near the topic
        assert len(addressed) <= 1, addressed


def test_quotes_are_verbatim_with_exact_spans(demo_assistant: Assistant) -> None:
    documents = demo_assistant.index.documents
    chunks = {c.chunk_id: c for c in demo_assistant.index.chunks}
    comparison = demo_assistant.compare(
        "How do the authors treat the CSTO and Armenia's membership in it?"
    )
    quotes = [q for p in comparison.perspectives for q in p.quotes]
    assert len(quotes) >= 3
    for q in quotes:
        chunk = chunks[q.chunk_id]
        assert chunk.doc_id == q.doc_id and chunk.start <= q.start and q.end <= chunk.end
    assert_verbatim(comparison, documents)


# --- author filter, one author ------------------------------------------------------------


def test_author_filter(authors: Assistant) -> None:
    comparison = authors.compare(INFLUENCE, authors=["okafor", "PETROVA"])
    assert {p.author for p in comparison.perspectives} == {OKAFOR, PETROVA}
    assert all(p.addressed for p in comparison.perspectives)
    with pytest.raises(RagError) as info:
        authors.compare(INFLUENCE, authors=["okafor", "nobody-such"])
    assert "'nobody-such'" in str(info.value) and PETROVA in str(info.value)


def test_author_filter_selects_an_unsigned_document_by_id(demo_assistant: Assistant) -> None:
    comparison = demo_assistant.compare(
        "How do the authors see Turkey's role in the South Caucasus?", authors=["004-013e"]
    )
    [p] = comparison.perspectives
    assert p.author is None and p.doc_id.startswith("004-013e")
    assert comparison.notice and "Only one author" in comparison.notice


def test_one_author_collection_says_so(authors_index: Path, embedder: Embedder) -> None:
    solo = Assistant(settings_for(authors_index, "solo"), embedder_factory=lambda: embedder)
    comparison = solo.compare(INFLUENCE)
    [p] = comparison.perspectives
    assert p.author == PETROVA and p.addressed
    assert comparison.notice == (
        f"Only one author ({PETROVA}) is in this collection: there is nothing to compare."
    )
    assert comparison.agreements == () and comparison.divergences == ()


def test_compare_needs_no_assistant(authors: Assistant, influence: Comparison) -> None:
    # the retriever, the scorer and the settings are all it takes
    direct = compare(
        INFLUENCE,
        retriever=authors.retriever,
        scorer=authors.extractive.scorer,
        settings=authors.settings,
    )
    assert direct == influence
    code = "import sys, rag.perspectives; print('rag.assistant' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


def test_author_groups_merge_an_authors_documents(authors: Assistant) -> None:
    groups = author_groups(authors.index.documents)
    petrova = [g for g in groups if g.author == PETROVA]
    assert len(petrova) == 1 and len(petrova[0].doc_ids) == 3
    assert len(groups) == 4


# --- agreement and divergence -------------------------------------------------------------


def test_points_name_authors_with_a_quote_from_each(
    authors: Assistant, influence: Comparison
) -> None:
    assert_verbatim(influence, authors.index.documents)
    # Petrova says Russia's influence grows, Okafor that it declines: a divergence on one
    # subject, saying what each holds, each quote naming the subject
    [point] = [p for p in influence.divergences if p.point.startswith("On Russia's influence:")]
    assert set(point.authors) == {PETROVA, OKAFOR}
    assert f"{PETROVA} says it is growing" in point.point
    assert f"{OKAFOR} says it is declining" in point.point
    for quote in point.quotes:
        assert "Russia" in canonical_names(quote.text)
    # never a point made of shared keywords
    texts = [p.point for p in (*influence.agreements, *influence.divergences)]
    assert not any(w in t for t in texts for w in ("discuss", "mentions", "writes of"))


def test_demo_points_pair_claims_about_one_subject(demo_assistant: Assistant) -> None:
    comparison = demo_assistant.compare(
        "How do the authors assess Russia's influence in the South Caucasus?"
    )
    points = (*comparison.agreements, *comparison.divergences)
    assert points
    for point in points:
        assert point.point.startswith("On ") and len(point.quotes) == len(point.authors) >= 2
        assert all(f"{name} says " in point.point for name in point.authors)
        subject = point.point.removeprefix("On ").split(":")[0]
        shared = set.intersection(*(set(canonical_names(q.text)) for q in point.quotes))
        assert shared & set(canonical_names(subject)), point
    assert_verbatim(comparison, demo_assistant.index.documents)


def test_an_author_spelling_a_name_differently_addresses_it(demo_assistant: Assistant) -> None:
    # Askerov writes "Türkiye", never "Turkey"
    comparison = demo_assistant.compare(
        "How do the authors see Turkey's role in the South Caucasus?", authors=["askerov"]
    )
    [askerov] = comparison.perspectives
    assert askerov.addressed
    assert any("Türkiye" in q.text for q in askerov.quotes)


def test_author_query_adds_the_authors_spellings(demo_assistant: Assistant) -> None:
    documents = demo_assistant.index.documents
    groups = {g.label: g for g in author_groups(documents)}
    question = "How do the authors see Turkey's role?"
    assert "Türkiye" in author_query(question, {"Turkey"}, groups["Ali Askerov"], documents)
    assert "Türkiye" not in author_query(question, {"Turkey"}, groups["Neil Melvin"], documents)
    assert author_query(question, set(), groups["Ali Askerov"], documents) == question


@pytest.mark.parametrize(
    ("sentence", "subject", "sign", "phrase"),
    [
        (
            "Russia's influence in the South Caucasus is growing again.",
            (("Russia",), "influence"),
            1,
            "is growing",
        ),
        (
            "The Kremlin's leverage is not weakening.",
            (("Russia",), "influence"),
            1,
            "is not weakening",
        ),
        ("Moscow's role in the region may decline.", (("Russia",), "influence"), -1, "may decline"),
        ("Türkiye's presence has strengthened.", (("Turkey",), "influence"), 1, "has strengthened"),
        ("Russia is losing influence in Armenia.", (("Russia",), "influence"), -1, "is being lost"),
        (
            "An opening would see a greater Turkish presence.",
            (("Turkey",), "influence"),
            1,
            "would grow",
        ),
        (
            "The cooling of relations between Baku and Moscow has objective causes.",
            (("Azerbaijan", "Russia"), "relations"),
            -1,
            "is cooling",
        ),
        (
            "Armenia remains heavily reliant on Russia for its energy.",
            (("Armenia", "Russia"), "dependence"),
            1,
            "persists",
        ),
        (
            "Russia remains an indispensable partner for Armenia in many respects.",
            (("Armenia", "Russia"), "dependence"),
            1,
            "Russia remains an indispensable partner for Armenia",
        ),
        (
            "Iran has become a key ally for Russia on the international stage.",
            (("Iran", "Russia"), "relations"),
            1,
            "Iran has become a key ally for Russia",
        ),
        (
            "Moscow, amid its weakening influence in the Caucasus, is losing control.",
            (("Russia",), "influence"),
            -1,
            "is weakening",
        ),
    ],
)
def test_claims_read_subject_and_stance(
    sentence: str, subject: tuple[tuple[str, ...], str], sign: int, phrase: str
) -> None:
    [claim] = [c for c in claims(sentence) if (c.subject.entities, c.subject.aspect) == subject]
    assert (claim.sign, claim.phrase) == (sign, phrase)


@pytest.mark.parametrize(
    "sentence",
    [
        "Some analysts argue that Russia's influence is declining.",  # reported
        "Azerbaijan seeks to weaken Russia's influence in the region.",  # an aim
        "If Russia's influence declines, Armenia will turn west.",  # a condition
        "The West should strengthen its presence in Georgia.",  # a recommendation
        "Tehran fears it would strengthen Turkey's regional position.",  # someone's fear
        "Is Russia's influence declining?",  # a question
        "Russia's influence in the region is a recurring theme of the paper.",  # no stance
        "Azerbaijan is less reliant on Russia than Armenia.",  # a comparison
    ],
)
def test_no_claim_that_is_not_the_authors_own_finding(sentence: str) -> None:
    assert claims(sentence) == ()


def _scored(text: str, vector: Sequence[float], doc_id: str) -> Scored:
    v = np.asarray(vector, dtype=np.float32)
    quote = Quote(text, f"{doc_id}:0", doc_id, 0, len(text))
    return Scored(quote, 0.5, 0.5, v / np.linalg.norm(v))


def test_points_pair_claims_about_the_same_subject_only() -> None:
    down = _scored("Russia's influence in the region is declining.", [1, 0.1, 0], "a")
    up = _scored("The Kremlin's influence in the region is growing.", [1, 0.2, 0], "b")
    other = _scored("Turkey's influence in the region is growing.", [1, 0.15, 0], "c")
    config = CompareConfig(same_subject=0.5)
    authors = [("A", [down]), ("B", [up]), ("C", [other])]
    agreements, divergences = offline_points(authors, {"Russia"}, config)
    # Russia and the Kremlin are one subject; Turkey's influence is another (however close
    # the sentences are in meaning)
    assert agreements == ()
    [point] = divergences
    assert point.point == "On Russia's influence: A says it is declining; B says it is growing."
    assert point.authors == ("A", "B") and point.quotes == (down.quote, up.quote)
    # the same subject, in sentences far apart in meaning: no point
    far = _scored("The Kremlin's influence in the region is growing.", [0, 0, 1], "b")
    assert offline_points([("A", [down]), ("B", [far])], {"Russia"}, config) == ((), ())
    # the same stance: an agreement
    also = _scored("Moscow's influence in the region is waning.", [1, 0.12, 0], "d")
    agreements, divergences = offline_points([("A", [down]), ("D", [also])], set(), config)
    assert divergences == ()
    assert [p.point for p in agreements] == [
        "On Russia's influence: A says it is declining; D says it is waning."
    ]


def test_a_partner_still_needed_is_no_stance_against_souring_relations() -> None:
    # "remains an indispensable partner" says Armenia still needs Russia, not that their
    # relations are not deteriorating: no divergence; it agrees with "remains reliant"
    down = _scored("Russia's relationship with Armenia is deteriorating.", [1, 0.1, 0], "a")
    needed = _scored("Russia remains an indispensable partner for Armenia.", [1, 0.12, 0], "b")
    reliant = _scored("Armenia remains heavily reliant on Russia.", [1, 0.14, 0], "c")
    authors = [("A", [down]), ("B", [needed]), ("C", [reliant])]
    agreements, divergences = offline_points(authors, {"Armenia", "Russia"}, CompareConfig())
    assert divergences == ()
    assert [p.point for p in agreements] == [
        "On Armenia's dependence on Russia: B says Russia remains an indispensable partner for "
        "Armenia; C says it persists."
    ]


def test_no_point_from_shared_keywords_alone() -> None:
    a = _scored("Gazprom controls the pipeline network of Armenia and Russia.", [1, 0.1, 0], "a")
    b = _scored("The pipeline network of Armenia and Russia belongs to Gazprom.", [1, 0.12, 0], "b")
    assert offline_points([("A", [a]), ("B", [b])], {"Armenia"}, CompareConfig()) == ((), ())


def test_condense_shortens_at_a_clause() -> None:
    sentence = (
        "However, Russia (as the RUSI paper notes) remains the leading external actor [3], "
        "although its weight has diminished since 2022 and its partners look elsewhere for "
        "security, trade and investment, which it cannot provide any longer."
    )
    short = condense(sentence, 20)
    assert short.startswith("Russia remains the leading external actor")
    assert "(" not in short and "[3]" not in short and short.endswith("…")
    assert len(short.split()) <= 21


# --- the LLM path -------------------------------------------------------------------------


def llm_assistant(index_dir: Path, embedder: Embedder, base_url: str | None) -> Assistant:
    settings = settings_for(
        index_dir,
        "authors",
        backend="openai",
        llm_base_url=base_url,
        llm_model="fake-model",
        llm_max_retries=0,
        llm_timeout_s=5.0,
    )
    return Assistant(settings, embedder_factory=lambda: embedder)


def test_llm_comparison_keeps_checked_claims_and_drops_fabricated_ones(
    authors_index: Path, embedder: Embedder, fake_openai: FakeOpenAIServer, influence: Comparison
) -> None:
    first, second = [p for p in influence.perspectives if p.addressed]
    a1, a2 = perspective_label(first), perspective_label(second)
    reply = {
        "perspectives": [
            {
                "author": "a1",
                "summary": f"{a1} sees Moscow's hold strengthening [q1].",
                "stance": "supports",
                "quotes": [{"id": "q1", "own_view": True}],
            },
            {
                "author": a2,
                "summary": f"{a2} predicts annexation.",
                "stance": "opposes",
                "quotes": [{"text": FABRICATED, "own_view": True}],
            },
        ],
        "agreements": [
            {
                "point": "Both discuss Russia's energy leverage.",
                "authors": ["a1", a2],
                "quotes": [{"text": first.quotes[0].text}, {"text": second.quotes[0].text}],
            }
        ],
        "divergences": [
            {  # the words are not in q1: dropped
                "point": "They disagree about Russia's future.",
                "authors": ["a1", "a2"],
                "quotes": [{"id": "q1", "text": "Russia has already lost everything"}, "q2"],
            },
            {  # quotes only one side: dropped
                "point": f"{a2} alone speaks of a decline.",
                "authors": [a1, a2],
                "quotes": [{"text": second.quotes[0].text}],
            },
        ],
    }
    fake_openai.reply("```json\n" + json.dumps(reply) + "\n```")
    assistant = llm_assistant(authors_index, embedder, fake_openai.base_url)
    comparison = assistant.compare(INFLUENCE)

    assert comparison.backend == "openai"
    perspectives = by_label(comparison)
    assert perspectives[a1].summary == f"{a1} sees Moscow's hold strengthening."
    assert perspectives[a1].stance == "supports"
    assert perspectives[a1].quotes == (first.quotes[0],)
    # the fabricated claim is gone: the offline summary and no stance stand in its place
    assert perspectives[a2].summary == second.summary
    assert perspectives[a2].stance is None
    assert all(FABRICATED not in q.text for p in comparison.perspectives for q in p.quotes)
    [agreement] = comparison.agreements
    assert agreement.authors == (a1, a2)
    assert comparison.divergences == ()
    assert comparison.notice and "3 claims of the language model dropped" in comparison.notice
    assert_verbatim(comparison, assistant.index.documents)

    [request] = fake_openai.chat_requests
    system, user = request.messages
    assert "own view" in system["content"] and "rebut" in system["content"]
    assert "supports, opposes, mixed, describes" in system["content"]
    assert INFLUENCE in user["content"]
    assert f'<quote id="q1">{first.quotes[0].text}</quote>' in user["content"]
    assert MENDES not in user["content"]  # authors who do not address it are not sent


@pytest.mark.parametrize(
    ("script", "says"),
    [
        (lambda s: s.reply("I would rather not compare these authors."), "holds no JSON"),
        (lambda s: s.reply('{"perspectives": [{"author": "a1", "summary": "x"}'), "not valid JSON"),
        (lambda s: s.reply('{"perspectives": [{"author": "a9", "summary": "x"}]}'), "no claim"),
        (lambda s: s.status(500, "the GPU caught fire"), "HTTP 500"),
    ],
)
def test_llm_failure_gives_the_offline_comparison_with_a_notice(
    authors_index: Path,
    embedder: Embedder,
    fake_openai: FakeOpenAIServer,
    influence: Comparison,
    script: Callable[[FakeOpenAIServer], object],
    says: str,
) -> None:
    script(fake_openai)
    comparison = llm_assistant(authors_index, embedder, fake_openai.base_url).compare(INFLUENCE)
    assert comparison.backend == "extractive"
    assert comparison.notice and comparison.notice.startswith("The language model was not used (")
    assert says in comparison.notice
    assert comparison.notice.endswith("this is the offline comparison.")
    assert comparison.perspectives == influence.perspectives
    assert comparison.agreements == influence.agreements


def test_llm_not_configured_gives_the_offline_comparison(
    authors_index: Path, embedder: Embedder
) -> None:
    comparison = llm_assistant(authors_index, embedder, None).compare(INFLUENCE)
    assert comparison.backend == "extractive"
    assert comparison.notice and "RAG_LLM_BASE_URL" in comparison.notice


# --- serialisation and the CLI ------------------------------------------------------------

PERSPECTIVE_KEYS = {"doc_id", "author", "title", "outlet", "date", "url", "addressed"}
PERSPECTIVE_KEYS |= {"stance", "summary", "quotes"}
QUOTE_KEYS = {"text", "chunk_id", "start", "end"}
POINT_KEYS = {"point", "authors", "quotes"}


@pytest.fixture
def cli(
    authors_index: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Any]:
    """`cli("compare", ...)` over a collection ("authors" unless `collection=` says)."""
    monkeypatch.setattr(rag.assistant, "load_embedder", lambda *args, **kwargs: embedder)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer .env is read

    def run(*args: str, index: Path = authors_index, collection: str = "authors") -> Any:
        argv = ["--index", str(index), "--collection", collection, *args]
        return CliRunner().invoke(app, argv)

    return run


def check_contract(payload: dict[str, Any], documents: dict[str, Document]) -> None:
    assert {"question", "perspectives", "agreements", "divergences"} <= set(payload)
    for p in payload["perspectives"]:
        assert set(p) >= PERSPECTIVE_KEYS
        assert p["title"] == documents[p["doc_id"]].meta.title
        for q in p["quotes"]:
            assert set(q) >= QUOTE_KEYS
            assert documents[q["doc_id"]].text[q["start"] : q["end"]] == q["text"]
    for point in payload["agreements"] + payload["divergences"]:
        assert set(point) >= POINT_KEYS
        assert all(set(q) >= QUOTE_KEYS for q in point["quotes"])


def test_cli_compare_json_shape(cli: Callable[..., Any], authors: Assistant) -> None:
    result = cli("compare", INFLUENCE, "--json")
    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()
    payload = json.loads(line)
    assert payload["question"] == INFLUENCE
    check_contract(payload, authors.index.documents)
    rows = {p["author"]: p for p in payload["perspectives"]}
    assert rows[OKAFOR]["addressed"] is True and rows[OKAFOR]["quotes"]
    assert rows[OKAFOR]["url"] == "https://example.org/okafor_retreat"
    assert rows[MENDES]["addressed"] is False and rows[MENDES]["quotes"] == []
    assert payload["divergences"] and payload["divergences"][0]["authors"]


def test_cli_compare_batch_json_lines(
    cli: Callable[..., Any], authors: Assistant, tmp_path: Path
) -> None:
    batch = tmp_path / "questions.jsonl"
    lines = [{"question": INFLUENCE}, {"question": OFF_TOPIC, "id": "x"}]
    batch.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    result = cli("compare", "--batch", str(batch), "--json", "--authors", "petrova,okafor")
    assert result.exit_code == 0, result.output
    payloads = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["question"] for p in payloads] == [INFLUENCE, OFF_TOPIC]
    for payload in payloads:
        check_contract(payload, authors.index.documents)
        assert {p["author"] for p in payload["perspectives"]} == {PETROVA, OKAFOR}
    assert not any(p["addressed"] for p in payloads[1]["perspectives"])
    assert payloads[1]["notice"] == "None of the authors addresses this question."


def test_cli_compare_table(cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line per cell line, so phrases stay whole
    result = cli("compare", INFLUENCE)
    assert result.exit_code == 0, result.output
    assert "Anna Petrova" in result.stdout and "Ben Okafor" in result.stdout
    assert "does not address this question" in result.stdout
    assert "Points of agreement" in result.stdout and "Points of divergence" in result.stdout


def test_cli_compare_markdown(cli: Callable[..., Any], influence: Comparison) -> None:
    result = cli("compare", INFLUENCE, "--markdown")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("## How the authors answer: ")
    assert f"### {PETROVA}" in text and f"### {OKAFOR}" in text
    assert "[The long retreat of Moscow](https://example.org/okafor_retreat)" in text
    okafor = by_label(influence)[OKAFOR]
    assert f"> “{okafor.quotes[0].text}”" in text
    assert "*Does not address this question.*" in text
    assert "### Points of divergence" in text and f"  - {OKAFOR}: “" in text


def test_cli_compare_errors_are_one_line(cli: Callable[..., Any]) -> None:
    result = cli("compare", INFLUENCE, "--json", "--markdown")
    assert result.exit_code != 0 and isinstance(result.exception, RagError)
    result = cli("compare", INFLUENCE, "--authors", "nobody-such")
    assert result.exit_code != 0 and "nobody-such" in str(result.exception)


def test_markdown_escapes_markup(influence: Comparison) -> None:
    p = influence.perspectives[0]
    meta = dataclasses.replace(p.meta, title="A *bold* [claim]")
    changed = dataclasses.replace(
        influence, perspectives=(dataclasses.replace(p, meta=meta), *influence.perspectives[1:])
    )
    assert "A \\*bold\\* \\[claim\\]" in comparison_markdown(changed)
    assert comparison_dict(changed)["perspectives"][0]["title"] == "A *bold* [claim]"


# --- evaluation ---------------------------------------------------------------------------


def no_similarity(texts: Sequence[str]) -> list[float]:
    return [0.0 for _ in texts]


def doc_of(assistant: Assistant, author: str) -> str:
    return next(d for d, doc in assistant.index.documents.items() if doc.meta.author == author)


def test_eval_scores_a_correct_comparison(authors: Assistant, influence: Comparison) -> None:
    documents = authors.index.documents
    gold = {doc_of(authors, OKAFOR), doc_of(authors, PETROVA)}
    scores = score_comparison(influence, documents, gold, no_similarity).to_json()
    assert scores["coverage"] == 1.0
    assert scores["attribution"] == 1.0 and scores["n_checks"] > 4
    assert scores["false_addresses"] == []


def test_eval_attribution_drops_when_quotes_are_swapped(
    authors: Assistant, influence: Comparison
) -> None:
    perspectives = by_label(influence)
    petrova, okafor = perspectives[PETROVA], perspectives[OKAFOR]
    swapped = dataclasses.replace(
        influence,
        perspectives=(
            dataclasses.replace(petrova, quotes=okafor.quotes),
            dataclasses.replace(okafor, quotes=petrova.quotes),
            *[p for p in influence.perspectives if p.author not in (PETROVA, OKAFOR)],
        ),
    )
    scores = score_comparison(swapped, authors.index.documents, set(), no_similarity).to_json()
    assert scores["attribution"] < 1.0
    assert scores["n_attributed"] <= scores["n_checks"] - len(petrova.quotes + okafor.quotes)
    # a quote whose span does not hold its text fails too
    bad = dataclasses.replace(okafor.quotes[0], start=okafor.quotes[0].start + 1)
    shifted = dataclasses.replace(
        influence,
        perspectives=(dataclasses.replace(okafor, quotes=(bad,)),),
        agreements=(),
        divergences=(),
    )
    assert (
        score_comparison(shifted, authors.index.documents, set(), no_similarity).attribution == 0.0
    )


def test_eval_counts_false_addresses_and_lost_coverage(
    authors: Assistant, influence: Comparison
) -> None:
    documents = authors.index.documents
    mendes_doc = doc_of(authors, MENDES)
    text = documents[mendes_doc].text
    start = text.index("The harvest")
    end = text.index(".", start) + 1
    wine = Quote(text[start:end], f"{mendes_doc}:0", mendes_doc, start, end)
    perspectives = by_label(influence)
    wrong = dataclasses.replace(
        influence,
        perspectives=(
            perspectives[PETROVA],
            dataclasses.replace(perspectives[OKAFOR], addressed=False, quotes=()),
            dataclasses.replace(perspectives[MENDES], addressed=True, quotes=(wine,)),
        ),
    )
    gold = {doc_of(authors, OKAFOR), doc_of(authors, PETROVA)}
    similarities = lambda texts: [0.1 for _ in texts]  # noqa: E731
    scores = score_comparison(wrong, documents, gold, similarities).to_json()
    assert scores["false_addresses"] == [MENDES]
    assert scores["coverage"] == 0.5
    assert scores["attribution"] == 1.0  # the quote is Mendes's own, only irrelevant
    # the same quote counts as relevant when it is close to the question in meaning
    assert score_comparison(wrong, documents, gold, lambda t: [0.9] * len(t)).false_addresses == ()


def test_summary_totals() -> None:
    row = {
        "n_gold": 2,
        "n_covered": 1,
        "n_checks": 4,
        "n_attributed": 3,
        "addressed": ["A", "B"],
        "false_addresses": ["B"],
        "n_authors": 3,
        "agreements": 1,
        "divergences": 0,
        "ms": 10.0,
    }
    unanswerable = {**row, "n_gold": 0, "n_covered": 0, "addressed": ["A"], "false_addresses": []}
    summary = summarise_perspectives(
        [
            QuestionResult.from_json({"id": qid, "type": kind, "scores": {}, "perspectives": p})
            for qid, kind, p in (
                ("c", "comparative", row),
                ("u", "unanswerable", unanswerable),
                ("f", "factual", None),
            )
        ]
    )
    assert summary is not None
    assert summary.author_coverage == 0.5
    assert summary.attribution == 0.75
    assert summary.false_addresses == 1 and summary.false_address_rate == 0.5
    assert summary.addressed_rate_unanswerable == round(1 / 3, 4)


def test_run_eval_reports_perspectives(demo_assistant: Assistant, tmp_path: Path) -> None:
    lines = [
        line
        for line in EVAL_SET.read_text(encoding="utf-8").splitlines()
        if any(f'"id": "{qid}"' in line for qid in ("f03", "c08", "u04"))
    ]
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run_eval(demo_assistant, small, k=5).summary
    figures = summary.perspectives  # the factual question is not compared
    assert figures is not None
    assert figures.n_comparative == 1 and figures.n_unanswerable == 1
    assert figures.author_coverage == 1.0
    assert figures.attribution == 1.0
    assert figures.false_addresses == 0
    caption = str(summary_table(summary).caption)
    assert "perspectives (extractive): author coverage 1.000" in caption


def test_eval_set_has_enough_comparative_questions() -> None:
    comparative = [q for q in load_eval_set(EVAL_SET) if q.type == "comparative"]
    assert len(comparative) >= 8


def test_an_authors_claims_come_from_the_sentence_index_in_a_large_collection(
    demo_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EXACT_SENTENCE_ROWS the nearest sentences of the whole collection are asked for
    and the author's kept: the same claims as comparing every one of their sentences, when
    the nearest reach past the author's best."""
    import rag.perspectives.search as search

    index = demo_assistant.index
    vector = demo_assistant.embedder.embed(["Russia's influence in the South Caucasus"])[0]
    wanted = {next(iter(index.documents))}
    exact = search._author_sentence_rows(index, wanted, vector)
    monkeypatch.setattr(search, "EXACT_SENTENCE_ROWS", 0)
    monkeypatch.setattr(search, "NEAREST_SENTENCES", len(index.sentences))
    assert search._author_sentence_rows(index, wanted, vector) == exact
    monkeypatch.setattr(search, "NEAREST_SENTENCES", 20)
    nearest = search._author_sentence_rows(index, wanted, vector)
    assert set(nearest) <= set(exact) and len(nearest) < len(exact)

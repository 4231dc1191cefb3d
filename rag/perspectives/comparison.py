"""`compare`: how each author in the collection answers one question.

Each author gets a search of their own (`search`), their sentences are scored by the one
sentence scorer and the "addresses" decision is answerability's (`quotes`); the points of
agreement and divergence pair claims about the same subject (`points`). With the openai
backend the model writes summaries, stances and points from numbered quotes, every claim
checked (`llm`); a failure of the model gives the offline comparison with a notice.

It depends on the retriever, the scorer and the settings (and a model factory for the LLM
path), not on the Assistant: `Assistant.compare` hands them in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from rag import answerers
from rag.aliases import expand_query
from rag.embeddings import Vectors
from rag.errors import ConfigError, LLMError
from rag.llm import LLM
from rag.perspectives.authors import AuthorGroup, author_groups, author_names
from rag.perspectives.config import CompareConfig
from rag.perspectives.llm import ReplyError, Side, with_model
from rag.perspectives.points import offline_points
from rag.perspectives.quotes import (
    Evidence,
    Scored,
    evidence_of,
    for_comparison,
    offline_summary,
    pool,
    select_quotes,
)
from rag.perspectives.search import actors, claim_sentences, search_author
from rag.question import QuestionAnalysis, analyse
from rag.retrieval import Retriever
from rag.scoring import SentenceScorer
from rag.settings import Settings
from rag.types import Comparison, Document, Perspective


def compare(
    question: str,
    *,
    retriever: Retriever,
    scorer: SentenceScorer,
    settings: Settings,
    llm: Callable[[], LLM] | None = None,
    authors: Sequence[str] | None = None,
    backend: str | None = None,
    config: CompareConfig = CompareConfig(),
) -> Comparison:
    """A perspective per author (or per document where the author is unknown), and points
    of agreement and divergence between them. `llm` is called only for the openai backend."""
    documents = retriever.index.documents
    metas = retriever.index.metas
    groups = author_groups(metas, authors)  # a bad name fails before the model loads
    chosen = backend or settings.backend
    answerers.kind(chosen)  # an unknown backend is an error, before any work
    analysis = for_comparison(analyse(question, scorer.idf, authors=author_names(metas)))
    query_vector = retriever.embed_query(question)
    expanded = settings.expand_place_names and expand_query(question) != question
    question_vector = scorer.embed_question(question) if expanded else query_vector
    evidence = _evidence(
        question, analysis, groups, retriever, scorer, query_vector, question_vector, config
    )
    quotes = {
        e.group.label: select_quotes(e.sentences, config) if e.addressed else [] for e in evidence
    }
    perspectives = [_perspective(e, quotes[e.group.label], documents, config) for e in evidence]
    addressing = [e for e in evidence if e.addressed]
    floor = config.addresses.min_confidence
    sides = [
        Side(
            e.group.label,
            tuple(pool(e, quotes[e.group.label], config.pool_size, floor)),
            tuple(quotes[e.group.label]),
        )
        for e in addressing
    ]
    agreements, divergences = offline_points(
        [
            (
                e.group.label,
                _claim_pool(
                    pool(e, quotes[e.group.label], config.claim_pool, config.claim_floor),
                    claim_sentences(
                        analysis.focus.names, e.group, retriever.index, question_vector, config
                    ),
                ),
            )
            for e in addressing
        ],
        actors(analysis.focus.names),
        config,
    )
    notices = _coverage_notices(groups, addressing, authors)
    comparison = Comparison(
        question=question,
        perspectives=tuple(perspectives),
        agreements=agreements,
        divergences=divergences,
        backend="extractive",
    )
    if answerers.uses_llm(chosen) and addressing:
        try:
            if llm is None:
                raise ConfigError("no language model is configured")
            comparison, model_notice = with_model(
                comparison, llm(), sides, groups, retriever.index, settings.prompts_dir, config
            )
            if model_notice:
                notices.append(model_notice)
        except (LLMError, ConfigError, ReplyError) as error:
            reason = error.reason if isinstance(error, LLMError) else str(error)
            notices.append(
                f"The language model was not used ({reason}); this is the offline comparison."
            )
    return replace(comparison, notice=" ".join(notices) or None)


def _evidence(
    question: str,
    analysis: QuestionAnalysis,
    groups: Sequence[AuthorGroup],
    retriever: Retriever,
    scorer: SentenceScorer,
    query_vector: Vectors,
    question_vector: Vectors,
    config: CompareConfig,
) -> list[Evidence]:
    """Each author's own search, scored; the authors who address the question first."""
    documents = retriever.index.documents
    evidence: list[Evidence] = []
    for group in groups:
        passages = search_author(
            question, analysis.focus.names, group, retriever, query_vector, config
        )
        scored, vectors = scorer.score(analysis, passages, question_vector)
        evidence.append(evidence_of(group, analysis, passages, scored, vectors, documents, config))
    evidence.sort(key=lambda e: (not e.addressed, -e.best))
    return evidence


def _claim_pool(*sources: Sequence[Scored]) -> list[Scored]:
    """The sentences an author's claims are read from, closest to the question first."""
    found: dict[tuple[str, int], Scored] = {}
    for source in sources:
        for s in source:
            found.setdefault((s.quote.doc_id, s.quote.start), s)
    return sorted(found.values(), key=lambda s: -s.similarity)


def _perspective(
    evidence: Evidence,
    quotes: Sequence[Scored],
    documents: Mapping[str, Document],
    config: CompareConfig,
) -> Perspective:
    group = evidence.group
    doc_id = quotes[0].quote.doc_id if evidence.addressed and quotes else group.doc_ids[0]
    return Perspective(
        doc_id=doc_id,
        author=group.author,
        meta=documents[doc_id].meta,
        addressed=evidence.addressed,
        summary=offline_summary(quotes, config)
        if evidence.addressed
        else "Does not address this question.",
        quotes=tuple(s.quote for s in quotes),
        relevance=round(max(evidence.best, 0.0), 4),
    )


def _coverage_notices(
    groups: Sequence[AuthorGroup], addressing: Sequence[Evidence], wanted: Sequence[str] | None
) -> list[str]:
    if len(groups) == 1:
        where = "selected" if wanted else "in this collection"
        return [f"Only one author ({groups[0].label}) is {where}: there is nothing to compare."]
    if not addressing:
        return ["None of the authors addresses this question."]
    if len(addressing) == 1:
        return [f"Only {addressing[0].group.label} addresses this question."]
    return []

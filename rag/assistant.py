"""The facade the CLI, the UI and the evaluation call: one place that wires settings, the
index, the embedder and the retriever, loading each only when first needed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rag.answer import answer_stream
from rag.answerers import build_answerer, build_condenser
from rag.chunking import context_header, indexed_text
from rag.conversation import Conversation
from rag.embeddings import Embedder, Vectors, load_embedder
from rag.extractive import ExtractiveAnswerer, idf_table
from rag.indexing import IngestReport, Progress, ingest
from rag.lexical import terms
from rag.llm import LLM
from rag.rerank import load_reranker
from rag.retrieval import Filters, Retriever, filter_rows
from rag.settings import Settings
from rag.slots import lowercase_words
from rag.store import LoadedIndex, load_index
from rag.types import Answer, Comparison, Passage

Backend = str


def index_sentence_source(
    index: LoadedIndex,
) -> Callable[[Passage], tuple[list[str], Vectors] | None]:
    """Sentences of an indexed chunk with the vectors computed at ingest time."""
    rows_of_chunk: dict[str, list[int]] = {}
    for sentence_row, owners in enumerate(index.sentence_chunks()):
        for chunk_row in owners:
            rows_of_chunk.setdefault(index.chunks[chunk_row].chunk_id, []).append(sentence_row)

    def lookup(passage: Passage) -> tuple[list[str], Vectors] | None:
        rows = rows_of_chunk.get(passage.chunk.chunk_id)
        document = index.documents.get(passage.chunk.doc_id)
        if not rows or document is None:
            return None
        texts = [document.text[index.sentences[r][1] : index.sentences[r][2]] for r in rows]
        return texts, index.sentence_embeddings[rows]

    return lookup


class Assistant:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder_factory: Callable[[], Embedder] | None = None,
        llm_factory: Callable[[], LLM] | None = None,
    ) -> None:
        self.settings = settings
        self._embedder_factory = embedder_factory or (
            lambda: load_embedder(settings.embedding_model, settings.embedding_batch_size)
        )
        self._llm_factory = llm_factory or self._default_llm
        self._llm: LLM | None = None
        self._extractive: ExtractiveAnswerer | None = None
        self._embedder: Embedder | None = None
        self._index: LoadedIndex | None = None
        self._retriever: Retriever | None = None
        self.reranker = load_reranker(settings.reranker, settings.reranker_kind)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    @property
    def index(self) -> LoadedIndex:
        if self._index is None:
            self._index = load_index(self.settings.collection_dir)
        return self._index

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.index, self.embedder, self.settings)
        return self._retriever

    def reload(self) -> None:
        """Pick up a new index generation (after an ingest)."""
        self._index = None
        self._retriever = None
        self._extractive = None

    # ------------------------------------------------------------ answerers

    def _default_llm(self) -> LLM:
        from rag.llm import OpenAICompatibleLLM

        return OpenAICompatibleLLM(self.settings)

    @property
    def llm(self) -> LLM:
        """The configured model client; ConfigError when no endpoint is set."""
        if self._llm is None:
            self._llm = self._llm_factory()
        return self._llm

    @property
    def extractive(self) -> ExtractiveAnswerer:
        if self._extractive is None:
            index = self.index
            headers = {d: context_header(doc.meta) for d, doc in index.documents.items()}
            idf = idf_table([terms(indexed_text(c.text, headers[c.doc_id])) for c in index.chunks])
            self._extractive = ExtractiveAnswerer(
                self.embedder,
                idf,
                sentence_source=index_sentence_source(index),
                authors=self.authors(),
                common_words=lowercase_words(d.text for d in index.documents.values()),
            )
        return self._extractive

    def authors(self) -> list[str]:
        """The collection's named authors, sorted."""
        return sorted({d.meta.author for d in self.index.documents.values() if d.meta.author})

    def condense(
        self, question: str, conversation: Conversation | None, backend: Backend | None = None
    ) -> str:
        """Rewrite a follow-up into a standalone question (the answerer's choice of rewriter:
        see rag.answerers.build_condenser)."""
        if conversation is None:
            return question.strip()
        condenser = build_condenser(backend or self.settings.backend, self)
        return condenser.condense(conversation, question)

    def ask(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        backend: Backend | None = None,
        k: int | None = None,
        filters: Filters = Filters(),
    ) -> Answer:
        """Answer a question (a follow-up when a conversation is given) with citations."""
        answer: Answer | None = None
        for item in self.ask_stream(
            question, conversation=conversation, backend=backend, k=k, filters=filters, stream=False
        ):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        backend: Backend | None = None,
        k: int | None = None,
        filters: Filters = Filters(),
        stream: bool = True,
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is generated (LLM backend), then the final Answer.

        When the model fails, the final Answer is the extractive one with a notice saying
        why; text already streamed is then superseded by it."""
        chosen = backend or self.settings.backend
        standalone = self.condense(question, conversation, chosen)
        passages = self.search(standalone, k=k, filters=filters)
        answer: Answer | None = None
        for item in self.answer_stream(standalone, passages, backend=chosen, stream=stream):
            if isinstance(item, Answer):
                answer = item
            else:
                yield item
        assert answer is not None
        answer = dataclasses.replace(answer, question=question, standalone_question=standalone)
        if conversation is not None:
            conversation.add(standalone, answer.text)
        yield answer

    def answer(
        self, question: str, passages: Sequence[Passage], *, backend: Backend | None = None
    ) -> Answer:
        """Answer from given passages (the evaluation calls this after its own retrieval)."""
        *_, last = self.answer_stream(question, passages, backend=backend, stream=False)
        assert isinstance(last, Answer)
        return last

    def answer_stream(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        backend: Backend | None = None,
        stream: bool = True,
    ) -> Iterator[str | Answer]:
        """The chosen answerer over the passages (a model answerer falls back to the
        extractive one when the model fails: rag.answerers.WithFallback)."""
        answerer = build_answerer(backend or self.settings.backend, self)
        yield from answer_stream(answerer, question, passages, stream=stream)

    def ingest(
        self, paths: Sequence[Path], *, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        report = ingest(
            paths, self.settings, lambda: self.embedder, rebuild=rebuild, progress=progress
        )
        self.reload()
        return report

    def search(
        self, query: str, *, k: int | None = None, filters: Filters = Filters()
    ) -> list[Passage]:
        filter_rows(self.index, filters)  # bad filters fail fast, before the model loads
        if self.reranker is None:
            return self.retriever.search(query, k=k, filters=filters)
        top_k = k or self.settings.top_k
        wide = self.retriever.search(
            query, k=max(top_k, self.settings.rerank_candidates), filters=filters
        )
        return self.reranker.rerank(query, wide)[:top_k]

    def compare(
        self,
        question: str,
        authors: Sequence[str] | None = None,
        backend: Backend | None = None,
    ) -> Comparison:
        """How each author answers a question, with agreements and divergences
        (see rag.perspectives; imported here so plain answering never loads it)."""
        from rag.perspectives import compare

        return compare(self, question, authors=authors, backend=backend)

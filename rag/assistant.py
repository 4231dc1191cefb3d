"""The facade the CLI, the UI and the evaluation call: one place that wires settings, the
index, the embedder, the retriever and the answerers, loading each only when first needed,
and that owns every use case they offer: ask (and stream), search, compare the authors,
list, add and remove documents, run an evaluation and save it, list, load and compare
saved runs, sweep settings. Callers hold an `Assistant` and nothing else of `rag`'s
machinery (records and errors aside)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer import Rewrite, answer_stream
from rag.answerers import build_answerer, build_condenser
from rag.conversation import Conversation
from rag.embeddings import Embedder, QueryMemo, Vectors, load_embedder
from rag.errors import RagError
from rag.extractive import ExtractiveAnswerer
from rag.index_files import DocumentEntry, current_generation, read_documents
from rag.indexing import IngestReport, Progress, ingest
from rag.injection import passage_diagnostics
from rag.library import AddReport, Removal, add_files, document_file, remove_file
from rag.llm import LLM
from rag.rerank import load_reranker
from rag.retrieval import Filters, Retriever, filter_rows
from rag.settings import Settings
from rag.store import LoadedIndex, load_index
from rag.threads import limit_blas_threads
from rag.types import Answer, Comparison, DocumentMeta, Passage

if TYPE_CHECKING:  # the evaluation is imported when used: answering never loads it
    from rag.evaluation.compare import RunComparison
    from rag.evaluation.records import EvalRun
    from rag.evaluation.runs import Run
    from rag.evaluation.sweep import Config, SweepResult
    from rag.integrations.langchain import RagLangChainRetriever

log = logging.getLogger(__name__)

Backend = str
LoadProgress = Callable[[float, str], None]  # (fraction done, what is loading)
RunProgress = Callable[[int, int], None]  # (questions done, total)


def index_sentence_source(
    index: LoadedIndex,
) -> Callable[[Passage], tuple[list[str], Vectors] | None]:
    """Sentences of an indexed chunk with the vectors computed at ingest time."""

    def lookup(passage: Passage) -> tuple[list[str], Vectors] | None:
        row = index.chunk_row(passage.chunk.chunk_id)
        rows = [] if row is None else index.sentence_rows_of_chunk(row).tolist()
        if not rows:
            return None
        texts = [index.sentence_text(r) for r in rows]
        vectors: Vectors = index.sentence_embeddings[rows]
        return texts, vectors

    return lookup


class Generation:
    """One index generation as served, with the retriever and the extractive answerer built
    from it (each once, on first use). A request takes the live one at its start and reads
    only it: a newer generation swapped in meanwhile changes nothing it sees, and the old
    one is freed when the last such request ends."""

    def __init__(
        self,
        index: LoadedIndex,
        settings: Settings,
        embedder: Callable[[], Embedder],
        llm: Callable[[], LLM],
    ) -> None:
        self.index = index
        self.settings = settings
        self._embedder = embedder
        self._llm = llm
        self._retriever: Retriever | None = None
        self._extractive: ExtractiveAnswerer | None = None
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        return self.index.path.name

    @property
    def built(self) -> bool:
        return self._retriever is not None and self._extractive is not None

    @property
    def llm(self) -> LLM:
        return self._llm()

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(self.index, self._embedder(), self.settings)
            return self._retriever

    @property
    def extractive(self) -> ExtractiveAnswerer:
        with self._lock:
            if self._extractive is None:
                index = self.index
                self._extractive = ExtractiveAnswerer(
                    self._embedder(),
                    index.idf,
                    sentence_source=index_sentence_source(index),
                    authors=self.authors(),
                    common_words=index.lowercase_words,
                    document_text=index.document_text,
                )
            return self._extractive

    def authors(self) -> list[str]:
        """The collection's named authors, sorted."""
        return sorted({m.author for m in self.index.metas.values() if m.author})


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
            lambda: load_embedder(  # by this name: tests point it at their loaded model
                settings.embedding_model,
                settings.embedding_batch_size,
                backend=settings.embedding_backend,
                cache_dir=settings.models_dir,
            )
        )
        self._llm_factory = llm_factory or self._default_llm
        self._llm: LLM | None = None
        self._embedder: Embedder | None = None
        self._generation: Generation | None = None
        self._documents: tuple[Path, list[DocumentEntry]] | None = None  # by generation
        self._checked_at = 0.0  # when the live generation was last compared with CURRENT
        self._unloadable: str | None = None  # a newer generation that failed to load
        self.reranker = load_reranker(settings.reranker, settings.reranker_kind)
        self._embedder_lock = threading.Lock()
        self._embedder_loading = False
        self._load_lock = threading.Lock()  # the first requests of the app arrive together
        self._swap_lock = threading.Lock()  # one request loads a newer generation
        self._write_lock = threading.Lock()  # one change of the index at a time

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use and once per assistant: the app's
        warm-up thread and a first request can ask at the same time; one loads it."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder_loading = True
                    try:
                        self._embedder = QueryMemo(self._embedder_factory())
                    finally:
                        self._embedder_loading = False
        return self._embedder

    @property
    def embedder_loading(self) -> bool:
        """Whether the model is loading now (the app says so while it warms up)."""
        return self._embedder_loading

    def generation(self) -> Generation:
        """The live generation. A newer one committed since (by this process or another,
        e.g. `rag ingest` beside a running app) is loaded and swapped in whole; the check
        reads the CURRENT pointer, at most every RAG_RELOAD_CHECK_S."""
        live = self._generation
        if live is None:
            with self._swap_lock:
                if self._generation is None:
                    self._generation = self._open(
                        load_index(self.settings.collection_dir, settings=self.settings)
                    )
                    self._checked_at = time.monotonic()
                return self._generation
        now = time.monotonic()
        if now - self._checked_at < self.settings.reload_check_s:
            return live
        if not self._swap_lock.acquire(blocking=False):
            return live  # another request is loading the newer one: this one reads the old
        try:
            self._checked_at = now
            return self._newer(live) or live
        finally:
            self._swap_lock.release()

    def _open(self, index: LoadedIndex) -> Generation:
        index.open_all()  # answers on after a later ingest prunes its folder
        limit_blas_threads(self.settings.query_blas_threads)
        return Generation(index, self.settings, lambda: self.embedder, lambda: self.llm)

    def _newer(self, live: Generation) -> Generation | None:
        """The generation CURRENT names when it is not the live one and loads (a failure is
        logged and that generation not tried again; the live one keeps serving)."""
        collection = self.settings.collection_dir
        try:
            name = current_generation(collection).name
        except RagError as error:
            log.warning("keeping index generation %s: %s", live.name, error)
            return None
        if name in (live.name, self._unloadable):
            return None
        try:
            fresh = self._open(load_index(collection, settings=self.settings))
        except RagError as error:
            log.error("keeping index generation %s: the newer %s: %s", live.name, name, error)
            self._unloadable = name
            return None
        if live.built:  # warm it before requests use it, as the live one was
            fresh.retriever  # noqa: B018
            fresh.extractive  # noqa: B018
        log.info("index generation %s replaces %s", fresh.name, live.name)
        self._generation = fresh
        return fresh

    @property
    def index(self) -> LoadedIndex:
        return self.generation().index

    @property
    def retriever(self) -> Retriever:
        return self.generation().retriever

    @property
    def extractive(self) -> ExtractiveAnswerer:
        return self.generation().extractive

    def reload(self) -> None:
        """Pick up a new index generation (after an ingest)."""
        self._generation = None

    def load(self, progress: LoadProgress | None = None) -> None:
        """Load the embedding model, the index and the answerer now, saying so (once:
        later calls return at once, concurrent ones wait for the first), and swap in a
        newer index generation if one was committed since."""
        with self._load_lock:
            live = self._generation
            if live is not None and live.built:
                self.generation()
                return
            if progress is not None:
                progress(0.05, "Loading the embedding model (first request)…")
            self.embedder  # noqa: B018 - loads it
            if progress is not None:
                progress(0.6, "Loading the index…")
            generation = self.generation()
            generation.retriever  # noqa: B018
            generation.extractive  # noqa: B018

    # ------------------------------------------------------------ answerers

    def _default_llm(self) -> LLM:
        from rag.openai_llm import OpenAICompatibleLLM

        return OpenAICompatibleLLM(self.settings)

    @property
    def llm(self) -> LLM:
        """The configured model client; ConfigError when no endpoint is set."""
        if self._llm is None:
            self._llm = self._llm_factory()
        return self._llm

    def authors(self) -> list[str]:
        """The collection's named authors, sorted."""
        return self.generation().authors()

    def condense(
        self, question: str, conversation: Conversation | None, backend: Backend | None = None
    ) -> str:
        """Rewrite a follow-up into a standalone question (the answerer's choice of rewriter:
        see rag.answerers.build_condenser)."""
        return self.rewrite(question, conversation, backend).question

    def rewrite(
        self, question: str, conversation: Conversation | None, backend: Backend | None = None
    ) -> Rewrite:
        """As `condense`, with what happened on the way (a model's rewrite rejected)."""
        return self._rewrite(self.generation(), question, conversation, backend)

    def _rewrite(
        self,
        generation: Generation,
        question: str,
        conversation: Conversation | None,
        backend: Backend | None,
    ) -> Rewrite:
        if conversation is None:
            return Rewrite(question.strip())
        condenser = build_condenser(backend or self.settings.backend, generation)
        return condenser.rewrite(conversation, question)

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
        why; text already streamed is then superseded by it. The whole answer reads the
        generation live when it starts."""
        chosen = backend or self.settings.backend
        generation = self.generation()
        rewrite = self._rewrite(generation, question, conversation, chosen)
        standalone = rewrite.question
        passages = self._search(generation, standalone, k=k, filters=filters)
        answer: Answer | None = None
        for item in self._answer_stream(generation, standalone, passages, chosen, stream):
            if isinstance(item, Answer):
                answer = item
            else:
                yield item
        assert answer is not None
        answer = dataclasses.replace(
            answer,
            question=question,
            standalone_question=standalone,
            diagnostics=rewrite.diagnostics + answer.diagnostics,
        )
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
        extractive one when the model fails: rag.answerers.WithFallback); passages that
        hold a planted instruction are named in the answer's diagnostics."""
        yield from self._answer_stream(self.generation(), question, passages, backend, stream)

    def _answer_stream(
        self,
        generation: Generation,
        question: str,
        passages: Sequence[Passage],
        backend: Backend | None,
        stream: bool,
    ) -> Iterator[str | Answer]:
        answerer = build_answerer(backend or self.settings.backend, generation)
        for item in answer_stream(answerer, question, passages, stream=stream):
            if isinstance(item, Answer) and (flags := passage_diagnostics(item.passages)):
                item = dataclasses.replace(item, diagnostics=(*item.diagnostics, *flags))
            yield item

    def search(
        self, query: str, *, k: int | None = None, filters: Filters = Filters()
    ) -> list[Passage]:
        return self._search(self.generation(), query, k=k, filters=filters)

    def _search(
        self, generation: Generation, query: str, *, k: int | None, filters: Filters
    ) -> list[Passage]:
        filter_rows(generation.index, filters)  # bad filters fail fast, before the model loads
        retriever = generation.retriever
        if self.reranker is None:
            return retriever.search(query, k=k, filters=filters)
        top_k = k or self.settings.top_k
        wide = retriever.search(
            query, k=max(top_k, self.settings.rerank_candidates), filters=filters
        )
        return self.reranker.rerank(query, wide)[:top_k]

    def as_langchain_retriever(
        self, *, k: int | None = None, filters: Filters = Filters()
    ) -> RagLangChainRetriever:
        """Search as a LangChain `BaseRetriever` (rag.integrations.langchain), for use in any
        LCEL chain; LangChain is imported only here."""
        from rag.integrations.langchain import as_langchain_retriever

        return as_langchain_retriever(self.retriever, k=k or self.settings.top_k, filters=filters)

    def compare(
        self,
        question: str,
        authors: Sequence[str] | None = None,
        backend: Backend | None = None,
    ) -> Comparison:
        """How each author answers a question, with agreements and divergences
        (see rag.perspectives; imported here so plain answering never loads it)."""
        from rag.perspectives import compare

        generation = self.generation()
        return compare(
            question,
            retriever=generation.retriever,
            scorer=generation.extractive.scorer,
            settings=self.settings,
            llm=lambda: self.llm,
            authors=authors,
            backend=backend,
        )

    # ------------------------------------------------------------ documents

    def documents(self) -> list[DocumentEntry]:
        """The indexed documents in index order, with their chunk counts: those of the
        generation being served once one is loaded (a broken newer one is not listed), else
        read from the live generation's document table alone, so listing never loads the
        index (`rag docs`, the app's header while the model warms up)."""
        if self._generation is not None:
            folder = self.generation().index.path
        else:
            folder = current_generation(self.settings.collection_dir)
        listed = self._documents
        if listed is None or listed[0] != folder:  # one read of its table per generation
            listed = self._documents = (folder, read_documents(folder, self.settings.corpus_dir))
        return list(listed[1])

    def ingest(
        self, paths: Sequence[Path], *, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Add, update and remove documents so the index matches these files (incremental)."""
        with self._write_lock:
            report = ingest(
                paths, self.settings, lambda: self.embedder, rebuild=rebuild, progress=progress
            )
            self.reload()
        return report

    def add_documents(
        self, files: Sequence[str | Path], *, progress: Progress | None = None
    ) -> AddReport:
        """Copy files into the corpus folder (supported types, under RAG_MAX_FILE_BYTES) and
        index it; a file that does not ingest is taken out again, so the folder matches the
        index."""
        with self._write_lock:
            s = self.settings
            return add_files(files, s.corpus_dir, s.max_file_bytes, self._ingest_corpus(progress))

    def removal_target(self, doc_id: str) -> tuple[DocumentMeta, Path]:
        """The document and the corpus file that `remove_document` would delete;
        LibraryError when it is not in the index or not a file of the corpus folder."""
        return document_file(self.index, doc_id, self.settings.corpus_dir)

    def remove_document(self, doc_id: str, *, progress: Progress | None = None) -> Removal:
        """Delete a document's file from the corpus folder (only there: see
        `removal_target`) and re-index the folder."""
        with self._write_lock:
            ingest_corpus = self._ingest_corpus(progress)
            return remove_file(self.index, doc_id, self.settings.corpus_dir, ingest_corpus)

    def _ingest_corpus(self, progress: Progress | None) -> Callable[[], IngestReport]:
        def run() -> IngestReport:  # the caller holds the write lock
            paths = [self.settings.corpus_dir]
            try:
                return ingest(paths, self.settings, lambda: self.embedder, progress=progress)
            finally:
                self.reload()

        return run

    # ------------------------------------------------------------ evaluation

    def evaluate(
        self,
        eval_set: Path,
        *,
        k: int,
        backend: Backend | None = None,
        answers: bool = True,
        judge: bool = False,
        conversations: Path | None = None,
        progress: RunProgress | None = None,
        strict: bool = False,
    ) -> EvalRun:
        """Score an eval set (see rag.evaluation.runner); `judge` also asks the LLM judge
        (RAG_JUDGE_* settings, ConfigError when none is set)."""
        from rag.evaluation.runner import run_eval

        answer_judge = None
        if judge:
            from rag.evaluation.judge import build_judge

            answer_judge = build_judge(self.settings, self.embedder)
        return run_eval(
            self,
            eval_set,
            k=k,
            backend=backend,
            answers=answers,
            judge=answer_judge,
            judge_model=answer_judge.model if answer_judge else None,
            progress=progress,
            conversations=conversations,
            strict=strict,
        )

    def run_folder(self, target: Path | None = None, *, runs_dir: Path | None = None) -> Path:
        """Where a run will be saved: `target` (RunError unless new or empty: checked before
        a run, not after it) or a fresh timestamped folder under the runs folder."""
        from rag.evaluation.runs import check_free, new_run_dir

        if target is None:
            return new_run_dir(runs_dir or self.settings.runs_dir)
        check_free(target)
        return target

    def save_run(
        self, run: EvalRun, target: Path | None = None, *, runs_dir: Path | None = None
    ) -> Path:
        """Write a run folder (summary.json, results.jsonl, report.html); its path."""
        from rag.evaluation.runs import save_run

        return save_run(run, target or self.run_folder(runs_dir=runs_dir))

    def saved_runs(self, runs_dir: Path | None = None) -> list[tuple[str, str]]:
        """(label, name) of the readable saved runs, newest first."""
        from rag.evaluation.runs import list_runs

        return list_runs(runs_dir or self.settings.runs_dir)

    def load_run(self, run: str | Path, *, runs_dir: Path | None = None) -> Run:
        """A saved run: a run folder given as a Path, or a run *name* (a str, as
        `saved_runs` lists them: never a path, so the app cannot be sent elsewhere)."""
        from rag.evaluation.runs import load_run, run_name

        if isinstance(run, Path):
            return load_run(run)
        return load_run((runs_dir or self.settings.runs_dir) / run_name(run))

    def compare_runs(
        self,
        a: str | Path,
        b: str | Path,
        *,
        runs_dir: Path | None = None,
        metrics: Sequence[str] | None = None,
        by_type: bool = False,
        n_resamples: int = 2000,
        seed: int = 0,
    ) -> RunComparison:
        """Per-metric deltas B − A of two saved runs (as `load_run` takes them), with
        paired bootstrap intervals."""
        from rag.evaluation.compare import compare_runs

        first, second = self.load_run(a, runs_dir=runs_dir), self.load_run(b, runs_dir=runs_dir)
        return compare_runs(
            first, second, metrics=metrics, by_type=by_type, n_resamples=n_resamples, seed=seed
        )

    def sweep(
        self,
        eval_set: Path,
        grid: Mapping[str, Sequence[object]],
        *,
        metric: str,
        k: int,
        answers: bool,
        progress: Callable[[int, int, Config], None] | None = None,
    ) -> SweepResult:
        """Score the eval set over a grid of settings, ranked by `metric` (index settings
        are built as variants in a temporary folder; this index is only read)."""
        from rag.evaluation.sweep import run_sweep

        return run_sweep(
            self.settings,
            eval_set,
            grid,
            metric_name=metric,
            embedder=self.embedder,
            k=k,
            answers=answers,
            make_assistant=lambda s, e: Assistant(s, embedder_factory=lambda: e),
            progress=progress,
        )

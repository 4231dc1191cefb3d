"""The Gradio app: a thin layer over `rag.Assistant` (retrieval, answers, comparison,
evaluation and indexing all happen in `rag/`; this module lays them out).

`build_app(assistant)` returns the Blocks; `launch(assistant, ...)` checks the exposure
(a non-loopback host needs a password), loads the model and index with progress on the
console, and serves the app with the settings in `launch_kwargs`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import pandas as pd
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag import answerers, serialize
from rag.assistant import Assistant
from rag.conversation import Conversation
from rag.errors import RagError, RunError
from rag.evaluation.compare import compare_runs as compare_eval_runs
from rag.evaluation.perspectives import perspectives_line
from rag.evaluation.records import EvalRun, QuestionResult
from rag.evaluation.runner import answers_line, run_eval
from rag.evaluation.runs import list_runs, load_run, new_run_dir, run_name, save_run
from rag.indexing import IngestReport, Skipped
from rag.retrieval import Filters
from rag.serialize import document_dict
from rag.types import Answer
from ui import library, runs
from ui.render import (
    COMPARE_PLACEHOLDER,
    SOURCES_PLACEHOLDER,
    ChatSession,
    Turn,
    chat_messages,
    comparison_html,
    drilldown_html,
    esc,
    library_html,
    messages_html,
    question_mark,
    settings_html,
    sources_html,
)

HERE = Path(__file__).resolve().parent
BACKENDS = answerers.choices()
DEFAULT_EXAMPLES = (
    "Why has Russia lost influence in the South Caucasus?",
    "Where did Aliyev and Pashinyan meet in July 2025?",
    "What role does Turkey play in the region?",
    "How do the authors see the future of regional cooperation?",
)
COMPARE_EXAMPLES = (
    "How has Russia's position in the South Caucasus changed?",
    "What do the authors expect from the Armenia–Azerbaijan peace process?",
)
QUEUE_MAX_SIZE = 32  # waiting requests beyond this get "This application is currently busy"
CONCURRENCY = 2  # requests answered at once (the embedder is CPU-bound)
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
# The reader's own system fonts: nothing fetched, nothing bundled.
FONT = (
    "-apple-system",
    "BlinkMacSystemFont",
    "Segoe UI",
    "Roboto",
    "Helvetica Neue",
    "Arial",
    "Noto Sans",
    "Liberation Sans",
    "sans-serif",
)
FONT_MONO = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")


# ---------------------------------------------------------------- exposure and serving


class ExposureError(RagError):
    """Serving beyond this machine without a password."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(auth: str | None = None, auth_file: Path | None = None) -> list[tuple[str, str]]:
    """`user:password` (from the option, or one per line of the file) as Gradio's auth list."""
    entries: list[str] = []
    if auth:
        entries.append(auth)
    if auth_file is not None:
        try:
            text = auth_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ExposureError(f"cannot read auth file {auth_file}: {exc.strerror}") from exc
        entries += [
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
        ]
    pairs = []
    for entry in entries:
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            raise ExposureError("credentials must be given as user:password")
        pairs.append((user, password))
    return pairs


def check_exposure(host: str, auth: Sequence[tuple[str, str]]) -> None:
    if not is_loopback(host) and not auth:
        raise ExposureError(
            f"refusing to serve on {host} without a password: anyone who can reach this "
            "machine could read the documents and change the index. Pass --auth user:password "
            "or --auth-file FILE, or serve on 127.0.0.1 (the default)."
        )


class SecurityHeaders:
    """Headers on every response: no remote images or plugins, no referrer leaks."""

    HEADERS: ClassVar[dict[str, str]] = {
        "Content-Security-Policy": (
            "img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def theme() -> gr.themes.Base:
    return gr.themes.Base(
        primary_hue="indigo",
        secondary_hue="slate",
        neutral_hue="slate",
        radius_size="md",
        font=FONT,
        font_mono=FONT_MONO,
    ).set(
        body_text_color="#1f2937",
        button_cancel_background_fill="#dc2626",
        button_cancel_background_fill_hover="#b91c1c",
        button_cancel_text_color="white",
        button_cancel_border_color="#dc2626",
        block_border_width="1px",
        block_shadow="none",
        button_primary_shadow="none",
    )


def launch_kwargs(
    assistant: Assistant,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """What `Blocks.launch` is given: no share link, no SSR, upload limits, the index and
    corpus folders blocked from the file routes, security headers, the look."""
    settings = assistant.settings
    return {
        "server_name": host,
        "server_port": port,
        "auth": list(auth) or None,
        "auth_message": "This library is private: sign in to continue." if auth else None,
        "share": False,
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "show_error": False,
        "max_file_size": settings.max_file_bytes,
        "allowed_paths": [],
        "blocked_paths": [
            str(settings.index_dir.resolve()),
            str(settings.corpus_dir.resolve()),
            str(Path(".env").resolve()),
        ],
        "app_kwargs": {"middleware": [Middleware(SecurityHeaders)]},
        "footer_links": ["api", "settings"],
        "theme": theme(),
        "css": (HERE / "style.css").read_text(encoding="utf-8"),
        "js": (HERE / "app.js").read_text(encoding="utf-8"),
    }


def configure_queue(demo: gr.Blocks) -> gr.Blocks:
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY)
    return demo


def warm_up(assistant: Assistant, log: Callable[[str], None] = print) -> bool:
    """Load the embedding model and the index now, saying so, so the first page view does
    not wait on them. False (with the reason logged) when there is no usable index yet."""
    started = time.perf_counter()
    log(f"Loading the embedding model ({assistant.settings.embedding_model})…")
    assistant.embedder  # noqa: B018 - loads it
    log(f"  ready in {time.perf_counter() - started:.1f} s")
    log(f"Loading the index ({assistant.settings.collection_dir})…")
    try:
        index = assistant.index
        assistant.retriever  # noqa: B018
        assistant.extractive  # noqa: B018
    except RagError as error:
        log(f"  no usable index: {error}")
        log("  The app starts anyway: add documents in its Library tab, or run `make index`.")
        return False
    log(
        f"  {len(index.documents)} documents, {len(index.chunks)} chunks; "
        f"ready in {time.perf_counter() - started:.1f} s"
    )
    return True


def launch(
    assistant: Assistant,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: Sequence[tuple[str, str]] = (),
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    warm: bool = True,
    **build: Any,
) -> gr.Blocks:
    """Serve the app (blocks until stopped unless `prevent_thread_lock`)."""
    check_exposure(host, auth)
    if warm:
        warm_up(assistant, log=(lambda _: None) if quiet else print)
    demo = configure_queue(build_app(assistant, **build))
    demo.launch(
        prevent_thread_lock=True,
        quiet=True,  # Gradio's banner suggests share=True, which this app never uses
        **launch_kwargs(assistant, host=host, port=port, auth=auth),
    )
    if not quiet:
        print(f"Serving on {demo.local_url} (Ctrl-C to stop)", flush=True)
    if not prevent_thread_lock:
        demo.block_thread()
    return demo


# ---------------------------------------------------------------- the app


class _Loader:
    """Loads model and index once, on the first request that needs them, with progress."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.lock = threading.Lock()
        self.ready = False

    def ensure(self, progress: Any = None) -> None:
        if self.ready:
            return
        with self.lock:
            if self.ready:
                return
            if progress is not None:
                progress(0.05, desc="Loading the embedding model (first request)…")
            self.assistant.embedder  # noqa: B018
            if progress is not None:
                progress(0.6, desc="Loading the index…")
            self.assistant.retriever  # noqa: B018
            self.ready = True


def _choices_of(assistant: Assistant) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(authors, documents) dropdown choices from the index ([] when there is none)."""
    try:
        documents = assistant.index.documents
    except RagError:
        return [], []
    authors = sorted({d.meta.author for d in documents.values() if d.meta.author})
    docs = sorted(documents.values(), key=lambda d: ((d.meta.title or d.doc_id).lower(), d.doc_id))
    doc_choices = [
        (
            f"{d.meta.title or d.doc_id} — {d.meta.author or 'unknown author'}"
            if len(d.meta.title or d.doc_id) < 90
            else f"{(d.meta.title or d.doc_id)[:87]}… — {d.meta.author or 'unknown author'}",
            d.doc_id,
        )
        for d in docs
    ]
    return [(a, a) for a in authors], doc_choices


def _library_rows(assistant: Assistant) -> list[dict[str, Any]]:
    index = assistant.index
    counts: dict[str, int] = {}
    for chunk in index.chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    rows = []
    for doc_id, document in index.documents.items():
        row = document_dict(document, counts.get(doc_id, 0))
        row["file"] = library.display_file(document.meta.source, assistant.settings.corpus_dir)
        rows.append(row)
    rows.sort(key=lambda r: (str(r.get("author") or "~"), str(r.get("title") or "")))
    return rows


def _header_html(assistant: Assistant) -> str:
    try:
        index = assistant.index
        stats = (
            f"{len(index.documents)} documents · {len(index.chunks)} passages · "
            f"answers by the {assistant.settings.backend} answerer"
        )
    except RagError as error:
        stats = f"No index yet ({error}). Add documents in the Library tab."
    return (
        '<div class="brand">Ask the documents</div>'
        '<div class="tagline">Answers with checkable citations, and what each author says.</div>'
        f'<div class="stats">{esc(stats)}</div>'
    )


def _settings_items(assistant: Assistant) -> list[tuple[str, object]]:
    s = assistant.settings
    return [
        ("Embedding model", s.embedding_model),
        ("Answerer (default)", s.backend),
        ("LLM model", s.llm_model or "— (not configured)"),
        ("LLM endpoint", s.llm_base_url or "— (not configured)"),
        ("Index", s.collection_dir),
        ("Corpus folder", s.corpus_dir),
        ("Passages per answer (k)", s.top_k),
        ("Chunk size / overlap (word pieces)", f"{s.chunk_tokens} / {s.chunk_overlap_tokens}"),
        ("Fusion", s.fusion),
        ("Largest upload", f"{s.max_file_bytes / 1e6:.0f} MB"),
    ]


def html(value: str = "", **options: Any) -> gr.HTML:
    """A display-only HTML block: no click events, no default styling (style.css has it)."""
    return gr.HTML(value, js_on_load=None, apply_default_css=False, **options)


def _shown(path: Path) -> str:
    """A path relative to the working folder when inside it (shorter, no home folders)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "comparison"


def build_app(
    assistant: Assistant,
    *,
    runs_dir: Path | None = None,
    eval_set: Path = Path("eval/questions.jsonl"),
    examples: Sequence[str] = DEFAULT_EXAMPLES,
    compare_examples: Sequence[str] = COMPARE_EXAMPLES,
) -> gr.Blocks:
    settings = assistant.settings
    runs_dir = runs_dir or settings.runs_dir
    loader = _Loader(assistant)
    export_dir = Path(tempfile.mkdtemp(prefix="rag-ui-exports-"))
    write_lock = threading.Lock()  # one ingest at a time from this app

    def index_views() -> tuple[Any, ...]:
        """Everything that shows the index: refreshed after an upload or a removal."""
        authors, docs = _choices_of(assistant)
        try:
            table = library_html(_library_rows(assistant))
        except RagError as error:
            table = messages_html([("warn", str(error))])
        return (
            _header_html(assistant),
            table,
            gr.Dropdown(choices=[("All authors", ""), *authors]),
            gr.Dropdown(choices=[("All documents", ""), *docs]),
            gr.Dropdown(choices=authors),
            gr.Dropdown(choices=docs, value=None),
        )

    first_authors, first_docs = _choices_of(assistant)
    first_runs = list_runs(runs_dir)

    demo = gr.Blocks(title="Ask the documents", analytics_enabled=False)
    with demo:
        header = html(_header_html(assistant), elem_id="app-header")
        session_state = gr.State(None)
        eval_state = gr.State(None)

        with gr.Tabs(elem_id="tabs"):
            # ------------------------------------------------------------ Ask
            with gr.Tab("Ask", id="ask", elem_id="tab-ask"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=340):
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        show_label=False,
                        height=540,
                        examples=[{"text": q} for q in examples],
                        placeholder=(
                            "**Ask a question about the documents.**\n\n"
                            "Every claim in an answer carries a citation you can click."
                        ),
                        sanitize_html=True,
                        allow_tags=False,
                        latex_delimiters=[],
                        feedback_options=None,
                        buttons=["copy"],
                        group_consecutive_messages=False,
                        allow_file_downloads=False,
                    )
                    question = gr.Textbox(
                        elem_id="question",
                        show_label=False,
                        placeholder="Ask a question… (follow-ups are understood in context)",
                        lines=1,
                        max_lines=5,
                        submit_btn="Ask",
                        autofocus=True,
                    )
                    with gr.Accordion("Options", open=False, elem_id="ask-options"):
                        with gr.Row():
                            author_filter = gr.Dropdown(
                                choices=[("All authors", ""), *first_authors],
                                value="",
                                label="Author",
                                elem_id="author-filter",
                            )
                            doc_filter = gr.Dropdown(
                                choices=[("All documents", ""), *first_docs],
                                value="",
                                label="Document",
                                elem_id="doc-filter",
                            )
                        with gr.Row():
                            backend = gr.Radio(BACKENDS, value=settings.backend, label="Answerer")
                            k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages (k)")
                    with gr.Row():
                        new_chat = gr.Button(
                            "New conversation", size="sm", variant="secondary", scale=0
                        )
                with gr.Column(scale=2, min_width=300):
                    sources = html(
                        SOURCES_PLACEHOLDER,
                        elem_id="sources",
                        max_height=760,
                    )

            # ------------------------------------------------------------ Compare
            with gr.Tab("Compare", id="compare", elem_id="tab-compare"):
                html(
                    '<p class="muted intro">One row per author: what each says about the '
                    "question, with quotes; then where they agree and where they diverge.</p>"
                )
                compare_q = gr.Textbox(
                    label="Question",
                    placeholder="e.g. How has Russia's position in the region changed?",
                    elem_id="compare-question",
                    submit_btn="Compare",
                    lines=1,
                    max_lines=3,
                )
                with gr.Row(equal_height=True):
                    compare_authors = gr.Dropdown(
                        choices=first_authors,
                        multiselect=True,
                        label="Authors (all when empty)",
                        scale=3,
                        min_width=240,
                    )
                    compare_backend = gr.Radio(
                        BACKENDS, value=settings.backend, label="Summaries by", scale=2
                    )
                gr.Examples([[q] for q in compare_examples], inputs=[compare_q], label="Try")
                compare_out = html(COMPARE_PLACEHOLDER, elem_id="comparison")
                with gr.Row():
                    export = gr.DownloadButton(
                        "Export as Markdown",
                        visible=False,
                        size="sm",
                        variant="secondary",
                        elem_id="export-md",
                        scale=0,
                        min_width=200,
                    )

            # ------------------------------------------------------------ Evaluate
            with gr.Tab("Evaluate", id="evaluate", elem_id="tab-evaluate"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        eval_choice = gr.Radio(
                            [
                                (f"Project set ({eval_set.name})", "project"),
                                ("An uploaded JSONL file", "upload"),
                            ],
                            value="project",
                            label="Eval set",
                        )
                        eval_file = gr.File(
                            label="Eval set (JSON lines)",
                            file_types=[".jsonl"],
                            file_count="single",
                            height=120,
                        )
                    with gr.Column(scale=2):
                        eval_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="k")
                        eval_backend = gr.Radio(BACKENDS, value=settings.backend, label="Answerer")
                        eval_answers = gr.Checkbox(value=True, label="Also score the answers")
                        eval_btn = gr.Button("Run evaluation", variant="primary")
                eval_status = html("", elem_id="eval-status")
                with gr.Row(equal_height=False, elem_id="eval-figures"):
                    metrics_table = gr.Dataframe(
                        headers=runs.metric_headers(settings.top_k),
                        label="Retrieval by question type",
                        elem_id="metrics",
                        interactive=False,
                        wrap=True,
                        scale=3,
                        min_width=320,
                    )
                    recall_plot = gr.BarPlot(
                        x="type",
                        y="recall",
                        title="Recall by question type",
                        y_lim=[0, 1],
                        y_title="recall@k",
                        x_title="",
                        sort="x",
                        height=260,
                        scale=2,
                        min_width=280,
                    )
                question_pick = gr.Dropdown(
                    choices=[], label="Per question: pick one to see its answer and passages"
                )
                drilldown = html("", elem_id="drilldown")
                with gr.Accordion("Compare two saved runs", open=False):
                    with gr.Row():
                        run_a = gr.Dropdown(choices=first_runs, label="Run A (baseline)")
                        run_b = gr.Dropdown(choices=first_runs, label="Run B")
                        delta_btn = gr.Button("Compare runs", scale=0, min_width=140)
                    deltas = gr.Dataframe(
                        headers=runs.DELTA_HEADERS,
                        interactive=False,
                        label="Metric deltas (B − A)",
                        elem_id="deltas",
                    )

            # ------------------------------------------------------------ Library
            with gr.Tab("Library", id="library", elem_id="tab-library"):
                library_view = html("", elem_id="library")
                with gr.Accordion("Add documents", open=True):
                    uploads = gr.File(
                        label=(
                            f"Upload {', '.join(library.UPLOAD_SUFFIXES)} files "
                            f"(up to {settings.max_file_bytes / 1e6:.0f} MB each)"
                        ),
                        file_count="multiple",
                        file_types=list(library.UPLOAD_SUFFIXES),
                        height=140,
                    )
                    add_btn = gr.Button("Add to the library", variant="primary")
                    add_report = html("", elem_id="add-report")
                with gr.Accordion("Remove a document", open=False):
                    with gr.Row():
                        remove_pick = gr.Dropdown(
                            choices=first_docs, value=None, label="Document", scale=4
                        )
                        remove_btn = gr.Button(
                            "Remove…", variant="secondary", scale=1, min_width=120
                        )
                    with gr.Column(visible=False, elem_id="confirm-remove") as confirm_box:
                        confirm_text = html("")
                        with gr.Row():
                            confirm_yes = gr.Button("Yes, remove it", variant="stop")
                            confirm_no = gr.Button("Cancel")
                    remove_report = html("", elem_id="remove-report")
                with gr.Accordion("Settings in force (read-only)", open=False):
                    html(settings_html(_settings_items(assistant)))

        index_outputs = [
            header,
            library_view,
            author_filter,
            doc_filter,
            compare_authors,
            remove_pick,
        ]

        # ------------------------------------------------------------ handlers: Ask

        def ask(
            message: str,
            session: ChatSession | None,
            backend_name: str,
            k_value: float,
            author: str | None,
            doc: str | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's injection idiom
        ) -> Iterator[tuple[Any, ...]]:
            """Answer a question (a follow-up in this session's conversation), streaming."""
            session = session or ChatSession(conversation=Conversation())
            text = (message or "").strip()
            if not text:
                yield chat_messages(session), gr.skip(), session, gr.skip()
                return
            turn = Turn(text)
            session.turns.append(turn)
            yield chat_messages(session), gr.skip(), session, ""
            filters = Filters(authors=(author,) if author else (), doc_ids=(doc,) if doc else ())
            streamed = ""
            try:
                loader.ensure(progress)
                for item in assistant.ask_stream(
                    text,
                    conversation=session.conversation,
                    backend=backend_name or None,
                    k=int(k_value) if k_value else None,
                    filters=filters,
                ):
                    if isinstance(item, Answer):
                        turn.answer = item
                    else:
                        streamed += item
                        yield chat_messages(session, streaming=streamed), gr.skip(), session, ""
            except RagError as error:
                turn.error = f"Could not answer: {error}"
            yield chat_messages(session), sources_html(session), session, ""

        def reset() -> tuple[Any, ...]:
            return [], SOURCES_PLACEHOLDER, ChatSession(conversation=Conversation()), ""

        def pick_example(evt: gr.SelectData) -> str:
            value = evt.value
            return str(value.get("text", "")) if isinstance(value, dict) else str(value)

        ask_inputs = [question, session_state, backend, k, author_filter, doc_filter]
        ask_outputs = [chatbot, sources, session_state, question]
        question.submit(ask, ask_inputs, ask_outputs, api_name="ask", show_progress="minimal")
        chatbot.example_select(pick_example, None, question, api_visibility="private").then(
            ask, ask_inputs, ask_outputs, api_visibility="private", show_progress="minimal"
        )
        new_chat.click(reset, None, ask_outputs, api_name="new_conversation")
        chatbot.clear(reset, None, ask_outputs, api_visibility="private")

        # ------------------------------------------------------------ handlers: Compare

        def compare(text: str, authors: list[str] | None, backend_name: str) -> tuple[str, Any]:
            """Each author's perspective on a question, and the Markdown export."""
            text = (text or "").strip()
            if not text:
                raise gr.Error("Type a question to compare the authors on.")
            compare_fn = getattr(assistant, "compare", None)
            if compare_fn is None:
                raise gr.Error("Comparison is not available: Assistant.compare is missing.")
            loader.ensure()
            try:
                comparison = compare_fn(
                    text, authors=tuple(authors) if authors else None, backend=backend_name
                )
            except RagError as error:
                raise gr.Error(str(error)) from error
            download: Any = gr.DownloadButton(visible=False)
            to_markdown = getattr(serialize, "comparison_markdown", None)
            if to_markdown is not None:
                target = export_dir / f"{_slug(text)}-{int(time.time())}.md"
                target.write_text(to_markdown(comparison), encoding="utf-8")
                download = gr.DownloadButton(value=str(target), visible=True)
            return comparison_html(comparison), download

        compare_q.submit(
            compare,
            [compare_q, compare_authors, compare_backend],
            [compare_out, export],
            api_name="compare",
        )

        # ------------------------------------------------------------ handlers: Evaluate

        def question_choices(rows: Sequence[QuestionResult]) -> list[tuple[str, str]]:
            choices = []
            for row in rows:
                label = f"{question_mark(row)} {row.id} · {row.type} · {row.question}"
                choices.append((label if len(label) < 110 else label[:107] + "…", row.id))
            return choices

        def evaluate(
            choice: str,
            uploaded: str | None,
            k_value: float,
            backend_name: str,
            score_answers: bool,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            """Run an eval set; save it under eval/runs/<timestamp>/; show the figures."""
            if choice == "upload":
                if not uploaded:
                    raise gr.Error("Upload a JSONL eval set first, or pick the project set.")
                path = Path(uploaded)
                if path.suffix.lower() != ".jsonl":
                    raise gr.Error("The eval set must be a .jsonl file (one question per line).")
            else:
                path = eval_set
            progress(0, desc="Loading…")
            loader.ensure(progress)

            def report(done: int, total: int) -> None:
                progress((done, total), desc=f"Question {done} of {total}", unit="questions")

            try:
                run = run_eval(
                    assistant,
                    path,
                    k=int(k_value),
                    backend=backend_name,
                    answers=bool(score_answers),
                    progress=report,
                )
            except RagError as error:
                raise gr.Error(str(error)) from error
            saved = save_run(run, new_run_dir(runs_dir))
            rows, summary = run.rows, run.summary
            lines = [("ok", f"{len(rows)} questions from {path.name}; saved in {_shown(saved)}")]
            lines += [
                ("info", line)
                for line in (answers_line(summary), perspectives_line(summary))
                if line
            ]
            table = gr.Dataframe(
                value=runs.metric_rows(summary), headers=runs.metric_headers(int(k_value))
            )
            plot = runs.recall_rows(summary)
            run_choices = list_runs(runs_dir)
            previous = run_choices[1][1] if len(run_choices) > 1 else None
            return (
                messages_html(lines),
                table,
                pd.DataFrame(plot, columns=["type", "recall"]),
                gr.Dropdown(choices=question_choices(rows), value=None),
                "",
                run,
                gr.Dropdown(choices=run_choices, value=previous),
                gr.Dropdown(choices=run_choices, value=saved.name),
            )

        def drill(question_id: str | None, run: EvalRun | None) -> str:
            """One question of the last run: answer, retrieved passages, pass/fail."""
            if run is None:
                return ""
            for row in run.rows:
                if row.id == question_id:
                    return drilldown_html(row, run.summary.k)
            return ""

        def compare_runs(a: str | None, b: str | None) -> Any:
            """Metric deltas B − A between two saved runs, with paired bootstrap intervals."""
            if not a or not b:
                raise gr.Error("Pick two saved runs.")
            try:
                comparison = compare_eval_runs(
                    load_run(runs_dir / run_name(a)), load_run(runs_dir / run_name(b)), by_type=True
                )
            except RunError as error:
                raise gr.Error(f"Cannot read the run: {error}") from error
            return gr.Dataframe(value=runs.delta_rows(comparison), headers=runs.DELTA_HEADERS)

        def refresh_runs() -> tuple[Any, Any]:
            choices = list_runs(runs_dir)
            return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices)

        eval_btn.click(
            evaluate,
            [eval_choice, eval_file, eval_k, eval_backend, eval_answers],
            [
                eval_status,
                metrics_table,
                recall_plot,
                question_pick,
                drilldown,
                eval_state,
                run_a,
                run_b,
            ],
            api_name="evaluate",
            concurrency_id="heavy",
            concurrency_limit=1,
        )
        eval_file.upload(lambda _: "upload", eval_file, eval_choice, api_visibility="private")
        question_pick.change(drill, [question_pick, eval_state], drilldown, api_name="drilldown")
        delta_btn.click(compare_runs, [run_a, run_b], deltas, api_name="compare_runs")

        # ------------------------------------------------------------ handlers: Library

        def ingest_corpus(progress: Any) -> Any:
            def report(stage: str, done: int, total: int) -> None:
                progress((done, total) if total else None, desc=f"{stage}")

            with write_lock:
                return assistant.ingest([settings.corpus_dir], progress=report)

        def add_documents(
            files: list[str] | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            """Copy uploads into the corpus folder and index them (incremental)."""
            if not files:
                raise gr.Error("Choose one or more files to add.")
            staged = library.stage_uploads(files, settings.corpus_dir, settings.max_file_bytes)
            if not staged.placed:
                lines = library.settle(staged, _empty_report())
                return (messages_html(lines), *index_views(), None)
            progress(0, desc="Indexing…")
            try:
                report = ingest_corpus(progress)
            except RagError as error:
                library.settle(staged, _skip_all(staged, str(error)))
                failed = messages_html([("error", f"Indexing failed: {error}")])
                return (failed, *index_views(), None)
            loader.ready = False
            lines = library.settle(staged, report)
            lines.append(
                (
                    "info",
                    f"Index: {report.documents} documents, {report.chunks} passages "
                    f"({report.seconds:.1f} s).",
                )
            )
            return (messages_html(lines), *index_views(), None)

        def ask_removal(doc_id: str | None) -> tuple[Any, Any]:
            if not doc_id:
                raise gr.Error("Pick the document to remove.")
            try:
                path = library.document_file(assistant.index, doc_id, settings.corpus_dir)
            except (ValueError, RagError) as error:
                raise gr.Error(str(error)) from error
            meta = assistant.index.documents[doc_id].meta
            text = (
                f"<p>Remove <b>{esc(meta.title or doc_id)}</b>"
                f"{' by ' + esc(meta.author) if meta.author else ''}? This deletes "
                f"<code>{esc(path.name)}</code> from the corpus folder and updates the index. "
                "It cannot be undone here.</p>"
            )
            return gr.Column(visible=True), text

        def remove_document(
            doc_id: str | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            """Delete a document's file from the corpus folder and re-ingest the folder."""
            if not doc_id:
                raise gr.Error("Pick the document to remove.")
            try:
                path = library.document_file(assistant.index, doc_id, settings.corpus_dir)
            except (ValueError, RagError) as error:
                raise gr.Error(str(error)) from error
            path.unlink()
            progress(0, desc="Updating the index…")
            try:
                report = ingest_corpus(progress)
            except RagError as error:
                lines = [("error", f"{path.name} was deleted but re-indexing failed: {error}")]
            else:
                loader.ready = False
                gone = doc_id in report.removed
                lines = [
                    ("ok", f"Removed {path.name} ({doc_id}).")
                    if gone
                    else ("warn", f"{path.name} was deleted but {doc_id} is still indexed.")
                ]
            return (messages_html(lines), gr.Column(visible=False), *index_views())

        add_btn.click(
            add_documents,
            [uploads],
            [add_report, *index_outputs, uploads],
            api_name="add_documents",
            concurrency_id="heavy",
            concurrency_limit=1,
        )
        remove_btn.click(
            ask_removal, [remove_pick], [confirm_box, confirm_text], api_visibility="private"
        )
        confirm_no.click(
            lambda: gr.Column(visible=False), None, confirm_box, api_visibility="private"
        )
        confirm_yes.click(
            remove_document,
            [remove_pick],
            [remove_report, confirm_box, *index_outputs],
            api_name="remove_document",
            concurrency_id="heavy",
            concurrency_limit=1,
        )

        demo.load(index_views, None, index_outputs, api_name="library")
        demo.load(refresh_runs, None, [run_a, run_b], api_visibility="private")

    return demo


def _empty_report() -> IngestReport:
    return IngestReport((), (), (), (), (), 0, 0, 0.0, False)


def _skip_all(staged: library.Staged, reason: str) -> IngestReport:
    skipped = tuple(Skipped(str(p), reason) for p in staged.placed)
    return IngestReport((), (), (), (), skipped, 0, 0, 0.0, False)

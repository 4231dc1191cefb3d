"""The Gradio app: the layout of its tabs and the wiring of their events to
`ui.handlers`, which do everything through the facade (`rag.assistant.Assistant`).

`build_app(assistant)` returns the Blocks; `launch(assistant, ...)` checks the exposure
(a non-loopback host needs a password), starts loading the model and index in the
background (the header says so until they are ready; a question asked meanwhile waits for
them), and serves the app with the settings in `launch_kwargs`; `serve` is what
`rag serve` runs (the entry point `web` of the group `rag.apps`).
"""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
import threading
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from gradio.utils import get_upload_folder as gradio_upload_folder
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag import answerers
from rag.assistant import Assistant
from rag.errors import RagError
from rag.library import UPLOAD_SUFFIXES
from rag.settings import Settings
from ui import api, handlers, history, runs
from ui.guards import (
    BusyAnswer,
    OriginGuard,
    ServiceTimes,
    UploadLedger,
    UploadQuota,
    is_loopback,
)
from ui.handlers import Context, UserError
from ui.render import (
    COMPARE_PLACEHOLDER,
    EVAL_PLACEHOLDER,
    SOURCES_PLACEHOLDER,
    settings_html,
)
from ui.reports import report_route

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
# Sized from `eval/bench.py` (the app in its own process, extractive answers, 2 shared
# CPUs under other load): 20 clients x 10 questions gave 4.3 answers/s, p50 3.8 s, p95 9.1 s,
# i.e. about 0.46 s per question with 2 at once; a burst of 100 with the queue at 32 had 132
# of 200 refused. The queue holds what is answered within about 15 s at that rate (Gradio
# shows each waiting reader their place and estimate); beyond it a request is told to retry
# in N s (ui.guards.BusyAnswer), N from the rate answers recently finished at (under that
# burst the answer said 8 s from the handlers' own durations, while the queue took 19 s to
# drain: Gradio's own work per answer and the machine's other load count too).
QUEUE_MAX_SIZE = 64  # waiting requests beyond this get "The app is busy... retry in N s"
CONCURRENCY = 2  # requests answered at once (the embedder is CPU-bound: one per core)
SERVICE_S = 0.5  # the retry estimate's time per question until the app has measured its own
SWEEP_EVERY_S = 300  # how often uploads older than RAG_UPLOAD_MAX_AGE_S are looked for
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


log = logging.getLogger(__name__)

# ---------------------------------------------------------------- exposure and serving


class ExposureError(RagError):
    """Serving beyond this machine without a password."""


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
        # WCAG AA (4.5:1) for every text, checked by tests/test_ui_browser.py: Gradio's
        # slate-400 meta text (2.6:1) and indigo-500 accent (4.5:1 less a hair) go darker
        # in the light theme and lighter in the dark one.
        body_text_color="#1f2937",
        body_text_color_subdued="#475569",
        body_text_color_subdued_dark="#cbd5e1",
        color_accent="#4338ca",
        color_accent_soft="#eef2ff",
        color_accent_soft_dark="#1e1b4b",
        link_text_color="#4338ca",
        link_text_color_dark="#a5b4fc",
        button_primary_background_fill="#4f46e5",
        button_primary_background_fill_dark="#4f46e5",
        button_primary_background_fill_hover="#4338ca",
        button_primary_background_fill_hover_dark="#4338ca",
        button_primary_text_color="white",
        button_cancel_background_fill="#dc2626",
        button_cancel_background_fill_hover="#b91c1c",
        button_cancel_text_color="white",
        button_cancel_border_color="#dc2626",
        block_border_width="1px",
        block_shadow="none",
        button_primary_shadow="none",
    )


def middleware(settings: Settings, host: str, times: ServiceTimes) -> list[Middleware]:
    """Outermost first: security headers on every answer, then the guards of ui.guards."""
    return [
        Middleware(SecurityHeaders),
        Middleware(OriginGuard, loopback_only=is_loopback(host)),
        Middleware(UploadQuota, ledger=UploadLedger(settings.upload_quota_bytes)),
        Middleware(
            BusyAnswer,
            waiting=QUEUE_MAX_SIZE,
            seconds_per_answer=lambda: times.seconds_per_answer(CONCURRENCY),
        ),
    ]


def launch_kwargs(
    assistant: Assistant,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: Sequence[tuple[str, str]] = (),
    times: ServiceTimes | None = None,
    runs_dir: Path | None = None,
) -> dict[str, Any]:
    """What `Blocks.launch` is given: no share link, no SSR, upload limits, the index and
    corpus folders blocked from the file routes, the guards, the route to the runs' reports
    (ui.reports), a bound on the sessions kept in memory, the look."""
    settings = assistant.settings
    times = times or ServiceTimes(SERVICE_S)
    reports = report_route(runs_dir or settings.runs_dir)
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
        "app_kwargs": {"middleware": middleware(settings, host, times), "routes": [reports]},
        "state_session_capacity": settings.max_sessions,
        "footer_links": ["api", "settings"],
        "theme": theme(),
        "css": _asset("style.css"),
        "js": _asset("app.js"),
    }


def _asset(name: str) -> str:
    """A file shipped inside the `ui` package (package data), wherever it is installed."""
    return resources.files("ui").joinpath(name).read_text(encoding="utf-8")


def configure_queue(demo: gr.Blocks) -> gr.Blocks:
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY)
    return demo


def warm_up(assistant: Assistant, log: Callable[[str], None] = print) -> bool:
    """Load the embedding model and the index now, saying so, so the first question does
    not wait on them. False (with the reason logged) when that fails, e.g. no usable index
    yet: the app keeps serving, and a question loads them itself."""
    started = time.perf_counter()
    log(f"Loading the embedding model ({assistant.settings.embedding_model})…")
    try:
        assistant.embedder  # noqa: B018 - loads it
        log(f"  ready in {time.perf_counter() - started:.1f} s")
        log(f"Loading the index ({assistant.settings.collection_dir})…")
        assistant.load()
        entries = assistant.documents()
    except RagError as error:
        log(f"  not ready: {error}")
        log("  The app serves anyway: add documents in its Library tab, or run `make index`.")
        return False
    except Exception:  # a thread's exception would otherwise go unseen in the log file
        logging.getLogger(__name__).exception("warming up the assistant failed")
        log("  warming up failed (see the log); a question will try again")
        return False
    log(
        f"  {len(entries)} documents, {sum(e.chunks for e in entries)} chunks; "
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
    if warm:  # in the background: the app serves at once, its header saying it is loading
        threading.Thread(
            target=warm_up,
            args=(assistant, (lambda _: None) if quiet else print),
            name="warm-up",
            daemon=True,
        ).start()
    times = ServiceTimes(SERVICE_S)
    demo = configure_queue(build_app(assistant, times=times, **build))
    demo.launch(
        prevent_thread_lock=True,
        quiet=True,  # Gradio's banner suggests share=True, which this app never uses
        **launch_kwargs(
            assistant, host=host, port=port, auth=auth, times=times, runs_dir=build.get("runs_dir")
        ),
    )
    if not quiet:
        warming = " while the model loads" if assistant.embedder_loading else ""
        print(f"Serving on {demo.local_url}{warming} (Ctrl-C to stop)", flush=True)
    if not prevent_thread_lock:
        demo.block_thread()
    return demo


def serve(
    assistant: Assistant,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    auth_file: Path | None = None,
) -> None:
    """`rag serve`: the entry point `web` of the group `rag.apps` (pyproject.toml), so the
    command line finds the app without importing it."""
    credentials = parse_auth(auth, auth_file)
    check_exposure(host, credentials)  # refuses a public host without a password
    launch(assistant, host=host, port=port, auth=credentials)


# ---------------------------------------------------------------- events


def user_error(handler: Callable[..., Any], error: Exception) -> gr.Error:
    """A user's mistake (or a domain error) as the one-line message the page shows: logged
    as one line, without the traceback Gradio would print for any other exception."""
    log.info("%s: %s", handler.__name__, error)
    return gr.Error(str(error), print_exception=False)


def event(
    handler: Callable[..., Any], ctx: Context | None = None, times: ServiceTimes | None = None
) -> Callable[..., Any]:
    """A handler of ui.handlers as Gradio calls it: `ctx` bound when it takes one, Gradio's
    progress tracker given to its `progress` parameter (Gradio finds it by its default),
    a UserError or RagError shown to the user as gr.Error (`user_error`: one line, no
    traceback, in the page and in the log), and
    its duration added to `times` (what the busy answer's retry estimate is made of)."""
    signature = inspect.signature(handler)
    params = list(signature.parameters.values())
    bound: tuple[Any, ...] = ()
    if params and params[0].name == "ctx":
        bound, params = (ctx,), params[1:]
    params = [p.replace(default=gr.Progress()) if p.name == "progress" else p for p in params]

    if inspect.isgeneratorfunction(handler):

        def run(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                yield from handler(*bound, *args)
            except (UserError, RagError) as error:
                raise user_error(handler, error) from error
            finally:
                if times is not None:
                    times.add(time.perf_counter() - started)

    else:

        def run(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(*bound, *args)
            except (UserError, RagError) as error:
                raise user_error(handler, error) from error
            finally:
                if times is not None:
                    times.add(time.perf_counter() - started)

    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    run.__name__ = run.__qualname__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def endpoint(
    handler: Callable[..., Any], ctx: Context, times: ServiceTimes | None = None
) -> Callable[..., Any]:
    """A function of ui.api as `gr.api` registers it: `event`'s wrapper, with the handler's
    type hints resolved (gr.api derives the endpoint's JSON schema from them)."""
    run = event(handler, ctx, times)
    hints = typing.get_type_hints(handler)
    signature = inspect.signature(run)
    params = [p.replace(annotation=hints[p.name]) for p in signature.parameters.values()]
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=hints["return"]
    )
    run.__annotations__ = {p.name: p.annotation for p in params} | {"return": hints["return"]}
    return run


# The JSON API (ui.api): the endpoints the API page lists. Every other event is the UI's
# own (HTML for its components): callable, named `ui_*`, but left off the API page.
API_ENDPOINTS = ("ask", "compare", "search", "documents", "evaluate")
HIDDEN: dict[str, Any] = {"api_visibility": "undocumented"}
PRIVATE: dict[str, Any] = {"api_visibility": "private"}


def wire_api(ctx: Context, times: ServiceTimes) -> None:
    for name in API_ENDPOINTS:
        heavy = {"concurrency_id": "heavy", "concurrency_limit": 1} if name == "evaluate" else {}
        gr.api(endpoint(getattr(api, name), ctx, times), api_name=name, **heavy)


def pick_example(evt: gr.SelectData) -> str:
    """The text of the example question clicked in the empty chat."""
    value = evt.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value)


def uploaded_set(_file: Any) -> str:
    return "upload"


# ---------------------------------------------------------------- layout


def html(value: str = "", **options: Any) -> gr.HTML:
    """A display-only HTML block: no click events, no default styling (style.css has it)."""
    return gr.HTML(value, js_on_load=None, apply_default_css=False, **options)


@dataclass
class Shared:
    """Components more than one tab reads or updates."""

    header: gr.HTML
    session: gr.State
    run: gr.State
    store: gr.BrowserState  # past conversations, in the browser's localStorage (ui.history)


@dataclass
class AskTab:
    chatbot: gr.Chatbot
    question: gr.Textbox
    author: gr.Dropdown
    doc: gr.Dropdown
    backend: gr.Radio
    k: gr.Slider
    new_chat: gr.Button
    past: gr.Dropdown
    delete_chat: gr.Button
    sources: gr.HTML


@dataclass
class CompareTab:
    question: gr.Textbox
    authors: gr.Dropdown
    backend: gr.Radio
    result: gr.HTML
    export: gr.DownloadButton


@dataclass
class EvaluateTab:
    choice: gr.Radio
    file: gr.File
    k: gr.Slider
    backend: gr.Radio
    answers: gr.Checkbox
    run_btn: gr.Button
    status: gr.HTML
    metrics: gr.Dataframe
    recall: gr.BarPlot
    question: gr.Dropdown
    drilldown: gr.HTML
    run_a: gr.Dropdown
    run_b: gr.Dropdown
    delta_btn: gr.Button
    deltas: gr.Dataframe


@dataclass
class LibraryTab:
    table: gr.HTML
    uploads: gr.File
    add_btn: gr.Button
    add_report: gr.HTML
    remove_pick: gr.Dropdown
    remove_btn: gr.Button
    confirm: gr.Column
    confirm_text: gr.HTML
    confirm_yes: gr.Button
    confirm_no: gr.Button
    remove_report: gr.HTML


Choices = list[tuple[str, str]]


def ask_tab(settings: Settings, authors: Choices, docs: Choices, examples: Sequence[str]) -> AskTab:
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
                label="Question",
                show_label=False,
                placeholder="Ask a question… (follow-ups are understood in context)",
                lines=1,
                max_lines=5,
                submit_btn="Ask",
                autofocus=True,
            )
            with gr.Accordion("Options", open=False, elem_id="ask-options"):
                with gr.Row():
                    author = gr.Dropdown(
                        choices=[("All authors", ""), *authors],
                        value="",
                        label="Author",
                        elem_id="author-filter",
                    )
                    doc = gr.Dropdown(
                        choices=[("All documents", ""), *docs],
                        value="",
                        label="Document",
                        elem_id="doc-filter",
                    )
                with gr.Row():
                    backend = gr.Radio(BACKENDS, value=settings.backend, label="Answerer")
                    k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages (k)")
            with gr.Row(equal_height=False, elem_id="conversations"):
                new_chat = gr.Button(
                    "New conversation", size="sm", variant="secondary", scale=0, min_width=160
                )
                past = gr.Dropdown(
                    choices=[],
                    value=None,
                    label="Past conversations (kept in this browser only)",
                    elem_id="past-conversations",
                    scale=3,
                    min_width=200,
                )
                delete_chat = gr.Button(
                    "Delete",
                    size="sm",
                    variant="secondary",
                    scale=0,
                    min_width=90,
                    elem_id="delete-conversation",
                )
        with gr.Column(scale=2, min_width=300):
            sources = html(SOURCES_PLACEHOLDER, elem_id="sources", max_height=760)
    return AskTab(chatbot, question, author, doc, backend, k, new_chat, past, delete_chat, sources)


def compare_tab(settings: Settings, authors: Choices, examples: Sequence[str]) -> CompareTab:
    with gr.Tab("Compare", id="compare", elem_id="tab-compare"):
        html(
            '<p class="muted intro">One row per author: what each says about the '
            "question, with quotes; then where they agree and where they diverge.</p>"
        )
        question = gr.Textbox(
            label="Question",
            placeholder="e.g. How has Russia's position in the region changed?",
            elem_id="compare-question",
            submit_btn="Compare",
            lines=1,
            max_lines=3,
        )
        with gr.Row(equal_height=True):
            chosen = gr.Dropdown(
                choices=authors,
                multiselect=True,
                label="Authors (all when empty)",
                scale=3,
                min_width=240,
            )
            backend = gr.Radio(BACKENDS, value=settings.backend, label="Summaries by", scale=2)
        gr.Examples([[q] for q in examples], inputs=[question], label="Try")
        result = html(COMPARE_PLACEHOLDER, elem_id="comparison")
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
    return CompareTab(question, chosen, backend, result, export)


def evaluate_tab(settings: Settings, eval_set: Path, saved_runs: Choices) -> EvaluateTab:
    with gr.Tab("Evaluate", id="evaluate", elem_id="tab-evaluate"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                choice = gr.Radio(
                    [
                        (f"Project set ({eval_set.name})", "project"),
                        ("An uploaded JSONL file", "upload"),
                    ],
                    value="project",
                    label="Eval set",
                )
                file = gr.File(
                    label="Eval set (JSON lines)",
                    file_types=[".jsonl"],
                    file_count="single",
                    height=120,
                )
            with gr.Column(scale=2):
                k = gr.Slider(
                    1, 20, value=settings.top_k, step=1, label="Passages per question (k)"
                )
                backend = gr.Radio(BACKENDS, value=settings.backend, label="Answerer")
                answers = gr.Checkbox(value=True, label="Also score the answers")
                run_btn = gr.Button("Run evaluation", variant="primary")
        status = html(EVAL_PLACEHOLDER, elem_id="eval-status", min_height=64)
        metrics, recall = _eval_figures(settings)
        question = gr.Dropdown(
            choices=[], label="Per question: pick one to see its answer and passages"
        )
        drilldown = html("", elem_id="drilldown")
        with gr.Accordion("Compare two saved runs", open=False):
            with gr.Row():
                run_a = gr.Dropdown(choices=saved_runs, label="Run A (baseline)")
                run_b = gr.Dropdown(choices=saved_runs, label="Run B")
                delta_btn = gr.Button("Compare runs", scale=0, min_width=140)
            deltas = gr.Dataframe(
                headers=runs.DELTA_HEADERS,
                interactive=False,
                label="Metric deltas (B − A)",
                elem_id="deltas",
            )
    return EvaluateTab(
        choice,
        file,
        k,
        backend,
        answers,
        run_btn,
        status,
        metrics,
        recall,
        question,
        drilldown,
        run_a,
        run_b,
        delta_btn,
        deltas,
    )


def _eval_figures(settings: Settings) -> tuple[gr.Dataframe, gr.BarPlot]:
    with gr.Row(equal_height=False, elem_id="eval-figures"):
        metrics = gr.Dataframe(
            headers=runs.metric_headers(settings.top_k),
            label="Retrieval by question type",
            elem_id="metrics",
            interactive=False,
            wrap=True,
            scale=3,
            min_width=320,
        )
        recall = gr.BarPlot(
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
    return metrics, recall


def library_tab(assistant: Assistant, docs: Choices) -> LibraryTab:
    settings = assistant.settings
    with gr.Tab("Library", id="library", elem_id="tab-library"):
        table = html("", elem_id="library")
        with gr.Accordion("Add documents", open=True):
            # The accepted kinds are said above the box: as its label they would cover
            # its upload icon on a phone.
            html(
                f'<p class="muted small upload-note">{", ".join(UPLOAD_SUFFIXES)} files, '
                f"up to {settings.max_file_bytes / 1e6:.0f} MB each.</p>"
            )
            uploads = gr.File(
                label="Files to add",
                file_count="multiple",
                file_types=list(UPLOAD_SUFFIXES),
                height=140,
            )
            add_btn = gr.Button("Add to the library", variant="primary")
            add_report = html("", elem_id="add-report")
        with gr.Accordion("Remove a document", open=False):
            with gr.Row():
                remove_pick = gr.Dropdown(choices=docs, value=None, label="Document", scale=4)
                remove_btn = gr.Button("Remove…", variant="secondary", scale=1, min_width=120)
            with gr.Column(visible=False, elem_id="confirm-remove") as confirm:
                confirm_text = html("")
                with gr.Row():
                    confirm_yes = gr.Button("Yes, remove it", variant="stop")
                    confirm_no = gr.Button("Cancel")
            remove_report = html("", elem_id="remove-report")
        with gr.Accordion("Settings in force (read-only)", open=False):
            html(settings_html(handlers.settings_items(assistant)))
    return LibraryTab(
        table,
        uploads,
        add_btn,
        add_report,
        remove_pick,
        remove_btn,
        confirm,
        confirm_text,
        confirm_yes,
        confirm_no,
        remove_report,
    )


# ---------------------------------------------------------------- wiring


def user_of(request: gr.Request | None) -> str:
    """Who signed in ("" without sign-in): whose saved conversations to use."""
    return str(getattr(request, "username", None) or "")


def shielded(handler: Callable[..., Any], *args: Any) -> Any:
    """A handler's UserError shown as gr.Error (what `event` does for handlers that need
    no gr.Request; these need one, so Gradio must see their own signature)."""
    try:
        return handler(*args)
    except UserError as error:
        raise gr.Error(str(error)) from error


def remember(session: Any, store: Any, request: gr.Request) -> Any:
    return shielded(handlers.remember, session, store, user_of(request))


def reopen_latest(store: Any, request: gr.Request) -> Any:
    return shielded(handlers.reopen_latest, store, user_of(request))


def open_conversation(conversation_id: str | None, store: Any, request: gr.Request) -> Any:
    return shielded(handlers.open_conversation, conversation_id, store, user_of(request))


def delete_conversation(
    conversation_id: str | None, store: Any, session: Any, request: gr.Request
) -> Any:
    return shielded(handlers.delete_conversation, conversation_id, store, session, user_of(request))


def wire_ask(ctx: Context, tab: AskTab, shared: Shared, times: ServiceTimes) -> None:
    inputs = [tab.question, shared.session, tab.backend, tab.k, tab.author, tab.doc]
    outputs = [tab.chatbot, tab.sources, shared.session, tab.question]
    shown = [tab.chatbot, tab.sources, shared.session]
    private: dict[str, Any] = {"api_visibility": "private"}
    quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
    ask = event(handlers.ask, ctx, times)
    save = remember
    tab.question.submit(
        ask, inputs, outputs, api_name="ui_ask", show_progress="minimal", **HIDDEN
    ).then(save, [shared.session, shared.store], [shared.store, tab.past], **quiet)
    tab.chatbot.example_select(pick_example, None, tab.question, **private).then(
        ask, inputs, outputs, show_progress="minimal", **private
    ).then(save, [shared.session, shared.store], [shared.store, tab.past], **quiet)
    reset = event(handlers.new_conversation)
    unpick = event(handlers.hide_choice)
    tab.new_chat.click(reset, None, outputs, api_name="ui_new_conversation", **HIDDEN).then(
        unpick, None, tab.past, **quiet
    )
    tab.chatbot.clear(reset, None, outputs, **private).then(unpick, None, tab.past, **quiet)
    tab.past.input(open_conversation, [tab.past, shared.store], [*shown, tab.question], **private)
    tab.delete_chat.click(
        delete_conversation,
        [tab.past, shared.store, shared.session],
        [shared.store, tab.past, *shown],
        **private,
    )


def wire_compare(ctx: Context, tab: CompareTab, times: ServiceTimes) -> None:
    tab.question.submit(
        event(handlers.compare, ctx, times),
        [tab.question, tab.authors, tab.backend],
        [tab.result, tab.export],
        api_name="ui_compare",
        **HIDDEN,
    )


def wire_evaluate(ctx: Context, tab: EvaluateTab, shared: Shared) -> None:
    tab.run_btn.click(
        event(handlers.evaluate, ctx),
        [tab.choice, tab.file, tab.k, tab.backend, tab.answers],
        [
            tab.status,
            tab.metrics,
            tab.recall,
            tab.question,
            tab.drilldown,
            shared.run,
            tab.run_a,
            tab.run_b,
        ],
        api_name="ui_evaluate",
        show_progress_on=tab.status,  # one indicator, under the form (not one per output)
        **HIDDEN,
        concurrency_id="heavy",
        concurrency_limit=1,
    )
    tab.file.upload(uploaded_set, tab.file, tab.choice, api_visibility="private")
    tab.question.change(
        event(handlers.drill),
        [tab.question, shared.run],
        tab.drilldown,
        api_name="ui_drilldown",
        **HIDDEN,
    )
    tab.delta_btn.click(
        event(handlers.compare_runs, ctx),
        [tab.run_a, tab.run_b],
        tab.deltas,
        api_name="ui_compare_runs",
        **HIDDEN,
    )


def wire_library(ctx: Context, tab: LibraryTab, index_outputs: list[Any]) -> None:
    tab.add_btn.click(
        event(handlers.add_documents, ctx),
        [tab.uploads],
        [tab.add_report, *index_outputs, tab.uploads],
        api_name="ui_add_documents",
        **HIDDEN,
        concurrency_id="heavy",
        concurrency_limit=1,
    )
    tab.remove_btn.click(
        event(handlers.ask_removal, ctx),
        [tab.remove_pick],
        [tab.confirm, tab.confirm_text],
        api_visibility="private",
    )
    tab.confirm_no.click(event(handlers.hide), None, tab.confirm, api_visibility="private")
    tab.confirm_yes.click(
        event(handlers.remove_document, ctx),
        [tab.remove_pick],
        [tab.remove_report, tab.confirm, *index_outputs],
        api_name="ui_remove_document",
        **HIDDEN,
        concurrency_id="heavy",
        concurrency_limit=1,
    )


def shared_state(header: gr.HTML, ttl: float) -> Shared:
    """State every tab reads: the session (server side, expiring) and the conversations
    (in the reader's browser only)."""
    return Shared(
        header,
        session=gr.State(None, time_to_live=ttl),
        run=gr.State(None, time_to_live=ttl),
        store=gr.BrowserState(
            history.empty_store(), storage_key=history.STORAGE_KEY, secret=history.STORAGE_SECRET
        ),
    )


def build_app(
    assistant: Assistant,
    *,
    runs_dir: Path | None = None,
    eval_set: Path = Path("eval/questions.jsonl"),
    examples: Sequence[str] = DEFAULT_EXAMPLES,
    compare_examples: Sequence[str] = COMPARE_EXAMPLES,
    times: ServiceTimes | None = None,
) -> gr.Blocks:
    """The app's tabs laid out and their events wired to ui.handlers. Sessions expire
    (RAG_SESSION_TTL_S) and uploads left in Gradio's temporary folder are swept
    (RAG_UPLOAD_MAX_AGE_S)."""
    settings = assistant.settings
    times = times or ServiceTimes(SERVICE_S)
    ctx = Context(
        assistant=assistant,
        runs_dir=runs_dir or settings.runs_dir,
        eval_set=eval_set,
        export_dir=Path(tempfile.mkdtemp(prefix="rag-ui-exports-")),
        upload_dir=Path(gradio_upload_folder()),
    )
    authors, docs = handlers.choices(assistant)
    age = settings.upload_max_age_s
    demo = gr.Blocks(
        title="Ask the documents",
        analytics_enabled=False,
        delete_cache=(min(SWEEP_EVERY_S, age), age),
    )
    with demo:
        header = html(handlers.header_html(assistant), elem_id="app-header")
        answerer = html(handlers.answerer_html(ctx), elem_id="answerer")
        shared = shared_state(header, settings.session_ttl_s)
        with gr.Tabs(elem_id="tabs"):
            ask = ask_tab(settings, authors, docs, examples)
            compare = compare_tab(settings, authors, compare_examples)
            evaluate = evaluate_tab(settings, eval_set, assistant.saved_runs(ctx.runs_dir))
            library = library_tab(assistant, docs)
        index_outputs = [
            header,
            library.table,
            ask.author,
            ask.doc,
            compare.authors,
            library.remove_pick,
        ]
        wire_api(ctx, times)  # first: the JSON endpoints keep their names whatever comes after
        wire_ask(ctx, ask, shared, times)
        wire_compare(ctx, compare, times)
        wire_evaluate(ctx, evaluate, shared)
        wire_library(ctx, library, index_outputs)
        for radio in (ask.backend, compare.backend):  # the header names the one in use
            radio.change(event(handlers.answerer_html, ctx), radio, answerer, **PRIVATE)
        # While the model warms up the header says so; this refreshes it until it is ready.
        warming = gr.Timer(1.0, active=assistant.embedder_loading)
        warming.tick(event(handlers.header_while_loading, ctx), None, [header, warming], **PRIVATE)
        demo.load(
            event(handlers.index_views, ctx), None, index_outputs, api_name="ui_library", **HIDDEN
        )
        demo.load(
            reopen_latest,
            [shared.store],
            [ask.chatbot, ask.sources, shared.session, ask.past],
            api_visibility="private",
        )
        demo.load(
            event(handlers.refresh_runs, ctx),
            None,
            [evaluate.run_a, evaluate.run_b],
            api_visibility="private",
        )
    return demo

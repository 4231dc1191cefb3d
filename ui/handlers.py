"""What the app does when a user acts: one top-level function per event, over the facade
(`rag.assistant.Assistant`) and the renderers of `ui.render`.

No Gradio here, so each handler can be called and tested as a plain function:
- the first parameter, `ctx`, is the `Context` that `ui.app` binds once per app;
- a `progress` parameter receives Gradio's progress tracker when served (`no_progress`
  otherwise);
- a `UserError` is a message for the user (`ui.app` shows it as `gr.Error`), as is a
  `RagError` that a handler lets through;
- outputs are values for the components, or `update(...)` for a change of a component's
  properties (choices, visibility): the plain dict that `gr.update` builds.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from rag import answerers, serialize
from rag.assistant import Assistant
from rag.conversation import Conversation
from rag.errors import RagError, RunError
from rag.evaluation.perspectives import perspectives_line
from rag.evaluation.records import EvalRun, QuestionResult
from rag.evaluation.runner import answers_line
from rag.index_files import DocumentEntry
from rag.library import AddReport, FileOutcome, Removal
from rag.retrieval import Filters
from rag.settings import Settings
from rag.types import Answer
from ui import history, runs
from ui.render import (
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
    sources_html,
)
from ui.reports import report_href

log = logging.getLogger(__name__)

Update = dict[str, Any]
Line = tuple[str, str]  # (ok | warn | error | info, text), as messages_html shows it


class UserError(Exception):
    """A message for the user: what to do differently."""


class Progress(Protocol):
    """Gradio's progress tracker, as the handlers call it."""

    def __call__(
        self,
        progress: float | tuple[int, int | None] | None,
        desc: str | None = None,
        total: int | None = None,
        unit: str = "steps",
    ) -> Any: ...


def no_progress(
    progress: float | tuple[int, int | None] | None,
    desc: str | None = None,
    total: int | None = None,
    unit: str = "steps",
) -> None:
    """The tracker of a handler called outside the app."""


def update(**properties: Any) -> Update:
    """A change of a component's properties (`update()` alone changes nothing)."""
    return {"__type__": "update", **properties}


@dataclass(frozen=True)
class Context:
    """What every handler of one app shares."""

    assistant: Assistant
    runs_dir: Path  # where the Evaluate tab saves runs and finds them
    eval_set: Path  # the project eval set the Evaluate tab offers
    export_dir: Path  # where the Compare tab writes its Markdown exports
    upload_dir: Path | None = None  # Gradio's temporary folder of uploads


def loading(progress: Progress) -> Any:
    """The facade's load reports as Gradio's progress."""
    return lambda fraction, what: progress(fraction, desc=what)


# ---------------------------------------------------------------- views of the index


def _doc_label(entry: DocumentEntry) -> str:
    title = entry.meta.title or entry.document.doc_id
    author = entry.meta.author or "unknown author"
    return f"{title} — {author}" if len(title) < 90 else f"{title[:87]}… — {author}"


def choices(assistant: Assistant) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(authors, documents) dropdown choices from the index ([] when there is none)."""
    try:
        entries, authors = assistant.documents(), assistant.authors()
    except RagError:
        return [], []
    entries.sort(key=lambda e: ((e.meta.title or e.document.doc_id).lower(), e.document.doc_id))
    return [(a, a) for a in authors], [(_doc_label(e), e.document.doc_id) for e in entries]


def library_rows(entries: Sequence[DocumentEntry]) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        row = serialize.document_dict(entry.document, entry.chunks)
        row["file"] = entry.file
        rows.append(row)
    rows.sort(key=lambda r: (str(r.get("author") or "~"), str(r.get("title") or "")))
    return rows


def answerer_text(settings: Settings, backend: str | None = None) -> str:
    """Who writes the answers with `backend` selected (the default when None): the
    extractive answerer, or the language model by name; an LLM chosen without an endpoint
    configured says that the extractive answerer stands in for it, as it will."""
    kind = answerers.kind(backend or settings.backend)
    if not kind.uses_llm:
        return f"answers by the {kind.name} answerer (offline)"
    if settings.llm_base_url and settings.llm_model:
        return f"answers by {settings.llm_model.strip()} ({kind.label})"
    return (
        f"answers by the {answerers.FALLBACK} answerer: {kind.label} selected, but no model "
        "is configured (RAG_LLM_BASE_URL, RAG_LLM_MODEL)"
    )


def answerer_html(ctx: Context, backend: str | None = None) -> str:
    """The header's line naming the answerer in use (refreshed when the choice changes)."""
    return (
        f'<div class="stats answerer">{esc(answerer_text(ctx.assistant.settings, backend))}</div>'
    )


def header_html(assistant: Assistant) -> str:
    try:
        entries = assistant.documents()
        stats = f"{len(entries)} documents · {sum(e.chunks for e in entries)} passages"
    except RagError as error:
        stats = f"No index yet ({hide_paths(str(error), assistant)}). Add documents in the "
        stats += "Library tab."
    if assistant.embedder_loading:
        stats += " · loading the embedding model… (a question asked now waits for it)"
    return (
        '<div class="brand">Ask the documents</div>'
        '<div class="tagline">Answers with checkable citations, and what each author says.</div>'
        f'<div class="stats">{esc(stats)}</div>'
    )


def header_while_loading(ctx: Context) -> tuple[str, Any]:
    """The header, and whether to keep refreshing it: until the model has loaded."""
    loading = ctx.assistant.embedder_loading
    return header_html(ctx.assistant), update(active=loading)


def shown_path(path: Path) -> str:
    """A server path as the page may show it: relative to the working folder when inside
    it, else from the home folder (~/…), else only its last two parts (…/a/b)."""
    resolved = path.resolve()
    for base, prefix in ((Path.cwd().resolve(), "."), (Path.home().resolve(), "~")):
        if resolved.is_relative_to(base):
            inside = resolved.relative_to(base)
            return str(inside) if prefix == "." else str(prefix / inside)
    return str(Path("…", *resolved.parts[-2:]))


def hide_paths(text: str, assistant: Assistant) -> str:
    """A message with the server's folders (index, corpus, working and home folders)
    written as `shown_path` writes them."""
    s = assistant.settings
    folders = {s.collection_dir, s.index_dir, s.corpus_dir, s.runs_dir, Path.cwd(), Path.home()}
    spelled = {}
    for folder in folders:
        for form in {str(folder), str(folder.resolve())}:
            if Path(form).is_absolute() and form != "/":
                spelled[form] = shown_path(folder)
    for form in sorted(spelled, key=len, reverse=True):
        text = re.sub(re.escape(form) + r"(?![\w.-])", spelled[form].replace("\\", "\\\\"), text)
    return text


def settings_items(assistant: Assistant) -> list[tuple[str, object]]:
    s = assistant.settings
    return [
        ("Embedding model", s.embedding_model),
        ("Answerer (default)", s.backend),
        ("LLM model", s.llm_model or "— (not configured)"),
        ("LLM endpoint", s.llm_base_url or "— (not configured)"),
        ("Index", shown_path(s.collection_dir)),
        ("Corpus folder", shown_path(s.corpus_dir)),
        ("Passages per answer (k)", s.top_k),
        ("Chunk size / overlap (word pieces)", f"{s.chunk_tokens} / {s.chunk_overlap_tokens}"),
        ("Fusion", s.fusion),
        ("Largest upload", f"{s.max_file_bytes / 1e6:.0f} MB"),
    ]


def index_views(ctx: Context) -> tuple[Any, ...]:
    """Everything that shows the index (refreshed after an upload or a removal): header,
    library table, the Ask tab's author and document filters, the Compare tab's authors,
    the document to remove."""
    authors, docs = choices(ctx.assistant)
    try:
        table = library_html(library_rows(ctx.assistant.documents()))
    except RagError as error:
        table = messages_html([("warn", hide_paths(str(error), ctx.assistant))])
    return (
        header_html(ctx.assistant),
        table,
        update(choices=[("All authors", ""), *authors]),
        update(choices=[("All documents", ""), *docs]),
        update(choices=authors),
        update(choices=docs, value=None),
    )


# ---------------------------------------------------------------- Ask


def ask(
    ctx: Context,
    message: str,
    session: ChatSession | None,
    backend: str,
    k: float,
    author: str | None,
    doc: str | None,
    progress: Progress = no_progress,
) -> Iterator[tuple[Any, ...]]:
    """Answer a question (a follow-up in this session's conversation), streaming:
    (chat messages, sources panel, session, question box)."""
    session = session or ChatSession(conversation=Conversation())
    text = (message or "").strip()
    if not text:
        yield chat_messages(session), update(), session, update()
        return
    turn = Turn(text)
    session.turns.append(turn)
    limits = ctx.assistant.settings
    del session.turns[: -limits.chat_turns_kept]  # the oldest turns go
    yield chat_messages(session), update(), session, ""
    filters = Filters(authors=(author,) if author else (), doc_ids=(doc,) if doc else ())
    streamed = ""
    try:
        ctx.assistant.load(loading(progress))
        for item in ctx.assistant.ask_stream(
            text,
            conversation=session.conversation,
            backend=backend or None,
            k=int(k) if k else None,
            filters=filters,
        ):
            if isinstance(item, Answer):
                turn.answer = item
            else:
                streamed += item
                yield chat_messages(session, streaming=streamed), update(), session, ""
    except RagError as error:
        turn.error = f"Could not answer: {error}"
    del session.conversation.turns[: -limits.context_turns_kept]
    yield chat_messages(session), sources_html(session), session, ""


def new_conversation() -> tuple[Any, ...]:
    return [], SOURCES_PLACEHOLDER, ChatSession(conversation=Conversation()), ""


# ---------------------------------------------------------------- saved conversations
# The store lives in the browser (ui.history); `user` is who signed in ("" without sign-in).


def _shown(session: ChatSession) -> tuple[Any, Any, ChatSession]:
    return chat_messages(session), sources_html(session), session


def remember(session: ChatSession | None, store: Any, user: str) -> tuple[Any, Update]:
    """Save the session in the browser's store after an answer: (store, the picker)."""
    if session is None or not session.turns:
        return store, update()
    store = history.saved(store, user, session)
    return store, update(choices=history.choices(store, user), value=session.id)


def reopen_latest(store: Any, user: str) -> tuple[Any, ...]:
    """On page load: the newest saved conversation shown again, and the picker filled:
    (chat, sources, session, picker)."""
    session = history.latest(store, user) or ChatSession(conversation=Conversation())
    picker = update(
        choices=history.choices(store, user), value=session.id if session.turns else None
    )
    return (*_shown(session), picker)


def open_conversation(conversation_id: str | None, store: Any, user: str) -> tuple[Any, ...]:
    """A conversation picked in the list: (chat, sources, session, question box)."""
    session = history.find(store, user, conversation_id)
    if session is None:
        raise UserError("That conversation can no longer be read; pick another or delete it.")
    return (*_shown(session), "")


def delete_conversation(
    conversation_id: str | None, store: Any, session: ChatSession | None, user: str
) -> tuple[Any, ...]:
    """Delete the picked conversation from the browser's store (a new one starts when it
    was the one open): (store, picker, chat, sources, session)."""
    if not conversation_id:
        raise UserError("Pick the conversation to delete in the list.")
    store = history.removed(store, user, conversation_id)
    if session is None or session.id == conversation_id:
        session = ChatSession(conversation=Conversation())
    open_id = session.id if session.turns else None
    picker = update(choices=history.choices(store, user), value=open_id)
    return (store, picker, *_shown(session))


# ---------------------------------------------------------------- Compare


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "comparison"


def compare(
    ctx: Context, question: str, authors: list[str] | None, backend: str
) -> tuple[str, Update]:
    """Each author's perspective on a question, and the Markdown export to download."""
    text = (question or "").strip()
    if not text:
        raise UserError("Type a question to compare the authors on.")
    ctx.assistant.load()
    comparison = ctx.assistant.compare(
        text, authors=tuple(authors) if authors else None, backend=backend
    )
    target = ctx.export_dir / f"{_slug(text)}-{int(time.time())}.md"
    target.write_text(serialize.comparison_markdown(comparison), encoding="utf-8")
    return comparison_html(comparison), update(value=str(target), visible=True)


# ---------------------------------------------------------------- Evaluate


def question_choices(rows: Sequence[QuestionResult]) -> list[tuple[str, str]]:
    labels = [(f"{question_mark(r)} {r.id} · {r.type} · {r.question}", r.id) for r in rows]
    return [(label if len(label) < 110 else label[:107] + "…", i) for label, i in labels]


def _eval_set(ctx: Context, choice: str, uploaded: str | None) -> Path:
    if choice != "upload":
        return ctx.eval_set
    if not uploaded:
        raise UserError("Upload a JSONL eval set first, or pick the project set.")
    path = Path(uploaded)
    if path.suffix.lower() != ".jsonl":
        raise UserError("The eval set must be a .jsonl file (one question per line).")
    return path


def evaluate(
    ctx: Context,
    choice: str,
    uploaded: str | None,
    k: float,
    backend: str,
    score_answers: bool,
    progress: Progress = no_progress,
) -> tuple[Any, ...]:
    """Run an eval set, save it in the runs folder and show its figures: (status, metrics
    table, recall plot, question picker, drill-down, the run, run A, run B)."""
    path = _eval_set(ctx, choice, uploaded)
    progress(0, desc="Loading…")
    ctx.assistant.load(loading(progress))

    def report(done: int, total: int) -> None:
        progress((done, total), desc=f"Question {done} of {total}", unit="questions")

    run = ctx.assistant.evaluate(
        path, k=int(k), backend=backend, answers=bool(score_answers), progress=report
    )
    saved = ctx.assistant.save_run(run, runs_dir=ctx.runs_dir)
    saved_in = shown_path(saved)
    lines = [("ok", f"{len(run.rows)} questions from {path.name}; saved in {saved_in}")]
    missing = [row.id for row in run.rows if row.evidence_missing]
    if missing:
        lines.append(
            (
                "warn",
                f"Evidence not found in the index for {len(missing)} question(s), run but "
                f"left out of recall: {', '.join(missing)} (report.html lists why)",
            )
        )
    lines += [
        ("info", line)
        for line in (answers_line(run.summary), perspectives_line(run.summary))
        if line
    ]
    saved_runs = ctx.assistant.saved_runs(ctx.runs_dir)
    previous = saved_runs[1][1] if len(saved_runs) > 1 else None
    link = (
        f'<p class="report-link"><a href="{esc(report_href(saved.name))}" target="_blank" '
        'rel="noopener">Open the full report (report.html) ↗</a></p>'
    )
    return (
        messages_html(lines) + link,
        update(value=runs.metric_rows(run.summary), headers=runs.metric_headers(int(k))),
        pd.DataFrame(runs.recall_rows(run.summary), columns=["type", "recall"]),
        update(choices=question_choices(run.rows), value=None),
        "",
        run,
        update(choices=saved_runs, value=previous),
        update(choices=saved_runs, value=saved.name),
    )


def drill(question_id: str | None, run: EvalRun | None) -> str:
    """One question of the last run: answer, retrieved passages, pass/fail."""
    if run is None:
        return ""
    for row in run.rows:
        if row.id == question_id:
            return drilldown_html(row, run.summary.k)
    return ""


def compare_runs(ctx: Context, a: str | None, b: str | None) -> Update:
    """Metric deltas B − A between two saved runs, with paired bootstrap intervals."""
    if not a or not b:
        raise UserError("Pick two saved runs.")
    try:
        comparison = ctx.assistant.compare_runs(a, b, runs_dir=ctx.runs_dir, by_type=True)
    except RunError as error:
        raise UserError(f"Cannot read the run: {error}") from error
    return update(value=runs.delta_rows(comparison), headers=runs.DELTA_HEADERS)


def refresh_runs(ctx: Context) -> tuple[Update, Update]:
    saved = ctx.assistant.saved_runs(ctx.runs_dir)
    return update(choices=saved), update(choices=saved)


# ---------------------------------------------------------------- Library


def indexing(progress: Progress) -> Any:
    """The ingest's stage reports as Gradio's progress."""
    return lambda stage, done, total: progress((done, total) if total else None, desc=stage)


def outcome_line(outcome: FileOutcome) -> Line:
    name, what, detail = outcome.name, outcome.outcome, outcome.detail
    if what in ("added", "updated"):
        return "ok", f"{name}: {what} as {detail}"
    if what == "skipped":
        return "warn", f"{name} (already in the corpus folder): skipped — {detail}"
    return "error", f"{name}: {what} — {detail}"


def add_report_lines(report: AddReport) -> list[Line]:
    if report.error is not None:
        return [("error", f"Indexing failed: {report.error}")]
    lines = [outcome_line(o) for o in report.files]
    if report.ingest is not None:
        done = report.ingest
        summary = f"Index: {done.documents} documents, {done.chunks} passages"
        lines.append(("info", f"{summary} ({done.seconds:.1f} s)."))
    return lines


def add_documents(
    ctx: Context, files: list[str] | None, progress: Progress = no_progress
) -> tuple[Any, ...]:
    """Copy uploads into the corpus folder and index them (incremental): (report, the
    index views, the emptied upload box)."""
    if not files:
        raise UserError("Choose one or more files to add.")
    progress(0, desc="Indexing…")
    try:
        report = ctx.assistant.add_documents(files, progress=indexing(progress))
    finally:
        discard_uploads(files, ctx.upload_dir)
    return (messages_html(add_report_lines(report)), *index_views(ctx), None)


def discard_uploads(files: Sequence[str], upload_dir: Path | None) -> None:
    """Delete uploads from Gradio's temporary folder once added (or refused): the corpus
    folder has its copy, and they count against the upload quota until gone. Files
    anywhere else are never touched."""
    if upload_dir is None:
        return
    root = upload_dir.resolve()
    for name in files:
        path = Path(name).resolve()
        if not path.is_relative_to(root) or path == root:
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            log.warning("could not delete the upload %s: %s", path, error)
            continue
        if path.parent != root:
            with contextlib.suppress(OSError):  # Gradio's per-upload folder, when empty
                path.parent.rmdir()


def ask_removal(ctx: Context, doc_id: str | None) -> tuple[Update, str]:
    """The confirmation box, naming the document and the file that would be deleted."""
    if not doc_id:
        raise UserError("Pick the document to remove.")
    meta, path = ctx.assistant.removal_target(doc_id)
    by = f" by {esc(meta.author)}" if meta.author else ""
    text = (
        f"<p>Remove <b>{esc(meta.title or doc_id)}</b>{by}? This deletes "
        f"<code>{esc(path.name)}</code> from the corpus folder and updates the index. "
        "It cannot be undone here.</p>"
    )
    return update(visible=True), text


def removal_line(removal: Removal) -> Line:
    name, doc_id = removal.file.name, removal.doc_id
    if removal.error is not None:
        return "error", f"{name} was deleted but re-indexing failed: {removal.error}"
    if removal.removed:
        return "ok", f"Removed {name} ({doc_id})."
    return "warn", f"{name} was deleted but {doc_id} is still indexed."


def remove_document(
    ctx: Context, doc_id: str | None, progress: Progress = no_progress
) -> tuple[Any, ...]:
    """Delete a document's file from the corpus folder and re-index the folder: (report,
    the hidden confirmation box, the index views)."""
    if not doc_id:
        raise UserError("Pick the document to remove.")
    progress(0, desc="Updating the index…")
    removal = ctx.assistant.remove_document(doc_id, progress=indexing(progress))
    return (messages_html([removal_line(removal)]), update(visible=False), *index_views(ctx))


def hide() -> Update:
    return update(visible=False)


def hide_choice() -> Update:
    """A picker with nothing picked (e.g. the past conversation once a new one starts)."""
    return update(value=None)

"""The `rag` command line: argument parsing and printing only. Domain errors become one
line on stderr and a non-zero exit here, at the edge, and nowhere else."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from typer.core import TyperGroup

from rag.errors import ConfigError, RagError
from rag.logs import configure_logging
from rag.settings import Settings
from rag.terminal import printable

# The retrieval stack (FAISS, numpy, the model) is imported by the commands that use it:
# `rag --help` and `rag docs` start without it (tests/test_cold_start.py).
if TYPE_CHECKING:
    from rag.assistant import Assistant
    from rag.retrieval import Filters
    from rag.types import Answer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Ask questions of a document collection and get answers you can check.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # one message, one line: never wrap at 80


class _State:
    settings: Settings | None = None


def _settings() -> Settings:
    if _State.settings is None:
        _State.settings = Settings()
    return _State.settings


def _assistant(settings: Settings) -> Assistant:
    from rag.assistant import Assistant

    return Assistant(settings)


Part = str | tuple[str, str]  # literal text, or (literal text, style)


def _text(*parts: Part, multiline: bool = False) -> Text:
    """Literal text for the terminal: no rich markup is parsed from any part (a file named
    `[/].txt` is a name, not a closing tag) and control characters show as escapes."""
    return Text.assemble(
        *(
            (printable(p, multiline=multiline), "")
            if isinstance(p, str)
            else (printable(p[0], multiline=multiline), p[1])
            for p in parts
        )
    )


def _note(notice: str) -> Text:
    return _text(("note:", "yellow"), f" {notice}")


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.callback()
def _configure(
    index: Annotated[
        Path | None,
        typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or index/)."),
    ] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", help="Collection name (default: RAG_COLLECTION).")
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log INFO to stderr too."),
    ] = False,
) -> None:
    overrides: dict[str, Any] = {}
    if index is not None:
        overrides["index_dir"] = index
    if collection is not None:
        overrides["collection"] = collection
    _State.settings = Settings(**overrides)
    configure_logging(_State.settings, verbose=verbose)


class RateColumn(ProgressColumn):
    """Items per second (texts while embedding), for stages of more than one item."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed or (task.total or 0) <= 1:
            return Text("")
        return Text(f"{speed:,.1f}/s", style="progress.data.speed")


def _progress_columns() -> tuple[ProgressColumn, ...]:
    return (
        TextColumn("{task.description:<24}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
    )


def _rate(done: int, total: int, seconds: float) -> str:
    """' (12.5/s)' once a stage of several items has made progress, else ''."""
    if total <= 1 or done <= 0 or seconds <= 0:
        return ""
    return f" ({done / seconds:,.1f}/s)"


class _ProgressLines:
    """Ingest progress as plain lines on stderr: each stage's start and end, and between
    them a line at most every `every_s` seconds, so a log shows the ingest is alive."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self._last: tuple[str, bool] | None = None  # (stage, finished) last printed
        self._printed = 0.0
        self._started: dict[str, float] = {}  # stage -> when it was first reported

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        started = self._started.setdefault(stage, now)
        finished = done >= total
        if self._last == (stage, True):
            return  # its end is printed already
        if self._last == (stage, False) and not finished and now - self._printed < self.every_s:
            return
        self._last, self._printed = (stage, finished), now
        rate = _rate(done, total, now - started)
        err.print(f"{stage}: {done}/{total}{rate}", markup=False, highlight=False)


@app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: the corpus folder).")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-chunk and re-embed everything.")
    ] = False,
    follow_external_links: Annotated[
        bool,
        typer.Option(
            "--follow-external-links",
            help="Also read files that links in the folders point to outside them "
            "(RAG_FOLLOW_EXTERNAL_LINKS; off: such links are refused).",
        ),
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="What embeds the texts: local (this process) or ray (Ray Data workers; "
            "the `ray` extra). Default RAG_INGEST_ENGINE (local).",
        ),
    ] = None,
) -> None:
    """Add, update and remove documents so the index matches the given files."""
    settings = _settings()
    if follow_external_links:
        settings = settings.model_copy(update={"follow_external_links": True})
    if engine is not None:
        if engine not in ("local", "ray"):
            raise typer.BadParameter(f"{engine!r}; choose local or ray", param_hint="--engine")
        settings = settings.model_copy(update={"ingest_engine": engine})
    targets = paths or [settings.corpus_dir]
    assistant = _assistant(settings)
    if not err.is_terminal:  # a log or a pipe: lines, not a bar redrawn in place
        report = assistant.ingest(targets, rebuild=rebuild, progress=_ProgressLines())
    else:
        with Progress(*_progress_columns(), console=err, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            report = assistant.ingest(targets, rebuild=rebuild, progress=progress)
    for skipped in report.skipped:
        err.print(_text(("skipped", "yellow"), f" {skipped.path}: {skipped.reason}"))
    parts = [
        f"{report.documents} documents",
        f"{report.chunks} chunks",
        f"added {len(report.added)}",
        f"updated {len(report.updated)}",
        f"unchanged {len(report.unchanged)}",
        f"removed {len(report.removed)}",
        f"skipped {len(report.skipped)}",
        f"{report.seconds:.1f} s",
    ]
    if report.rebuilt_because:
        parts.append(f"rebuilt: {report.rebuilt_because}")
    if not report.wrote:
        parts.append("index unchanged")
    err.print(_text("ingest: " + ", ".join(parts)), highlight=False)
    if not report.ok:
        raise typer.Exit(code=1)


@app.command("docs")
def docs_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the documents in the index with their metadata."""
    from rag.index_files import current_generation, read_documents
    from rag.serialize import documents_dict

    settings = _settings()
    entries = read_documents(current_generation(settings.collection_dir), settings.corpus_dir)
    payload = documents_dict(entries)
    if as_json:
        _print_json(payload)
        return
    from rich.table import Table

    table = Table("doc_id", "title", "author", "outlet", "date", "chunks", show_lines=False)
    for row in payload["documents"]:
        table.add_row(
            _text(row["doc_id"]),
            _text(row["title"] or "–"),
            _text(row["author"] or "unknown"),
            _text(row["outlet"] or "–"),
            _text(row["date"] or "–"),
            str(row["chunks"]),
        )
    out.print(table)


@app.command("verify")
def verify_command() -> None:
    """Check every file of the live index against its checksum (loading does that only for
    small indexes; large ones are checked by size and shape, see the README)."""
    from rag.store import verify_index

    settings = _settings()
    started = time.perf_counter()
    index = verify_index(settings.collection_dir, settings)
    counts = index.manifest["counts"]
    files = index.manifest["files"]
    size = sum(int(f["bytes"]) for f in files.values()) / 1e6
    out.print(
        _text(
            f"ok: {index.path.name}: {len(files)} files ({size:.1f} MB) match their checksums; "
            f"{counts['documents']} documents, {counts['chunks']} chunks, "
            f"{counts['sentences']} sentences ({time.perf_counter() - started:.1f} s)"
        ),
        highlight=False,
    )


def read_batch(path: Path) -> Iterator[str]:
    """Queries from a text file (one per line) or JSON lines with a `question` field."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"cannot read batch file {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RagError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            question = record.get("question") if isinstance(record, dict) else None
            if not isinstance(question, str) or not question.strip():
                raise RagError(f'{path}:{number}: a JSON line needs a non-empty "question" string')
            yield question
        else:
            yield line


def _check_backend(backend: str | None) -> None:
    """A bad --backend fails before any model or index loads."""
    if backend is not None:
        from rag import answerers

        answerers.kind(backend, what="--backend")


def _filters(author: str | None, doc: list[str] | None) -> Filters:
    from rag.retrieval import Filters

    return Filters(authors=(author,) if author else (), doc_ids=tuple(doc or ()))


@app.command("search")
def search_command(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    k: Annotated[
        int | None, typer.Option("-k", "--k", min=1, max=100, help="Passages to return.")
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", help="Only this author (substring).")
    ] = None,
    doc: Annotated[
        list[str] | None, typer.Option("--doc", help="Only this document id (repeatable).")
    ] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="File of queries: text lines or JSON lines.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find the passages that best match a query (hybrid dense + BM25)."""
    if (query is None) == (batch is None):
        raise RagError("give either a QUERY or --batch FILE")
    from rag.serialize import search_dict

    assistant = _assistant(_settings())
    filters = _filters(author, doc)
    queries = list(read_batch(batch)) if batch else [query or ""]
    for text in queries:
        passages = assistant.search(text, k=k, filters=filters)
        if as_json:
            _print_json(search_dict(text, passages))
            continue
        out.print(_text((text, "bold")), highlight=False)
        if not passages:
            out.print("  no matching passages")
        for p in passages:
            meta = p.meta
            out.print()
            out.print(
                _text(
                    (f"[{p.rank}]", "bold cyan"),
                    f" {meta.author or 'unknown author'} — ",
                    (meta.title or p.chunk.doc_id, "italic"),
                    f"  (score {p.score:.4f})",
                ),
                highlight=False,
            )
            if meta.url:
                out.print(_text((f"    {meta.url}", "blue")), highlight=False)
            out.print(_text(f"    {p.chunk.text}", multiline=True), highlight=False)


def _print_answer(answer: Answer) -> None:
    from rag.serialize import citation_dicts

    if answer.standalone_question != answer.question:
        out.print(_text((f"(understood as: {answer.standalone_question})", "dim")))
    if answer.notice:
        err.print(_note(answer.notice), highlight=False)
    out.print(_text(answer.text, multiline=True), highlight=False)
    if answer.refused:
        if answer.refusal_reason:
            out.print(_text((f"Why: {answer.refusal_reason}.", "dim")))
        if answer.related:
            out.print()
            out.print(_text(("Related passages", "bold"), " (not an answer):"))
            for p in answer.related:
                out.print(
                    _text(
                        f"  - {p.meta.author or 'unknown author'}, "
                        f"{p.meta.title or p.chunk.doc_id}: {p.chunk.text[:160]}…"
                    ),
                    highlight=False,
                )
        return
    citations = citation_dicts(answer)
    if citations:
        out.print()
        out.print(_text(("Sources", "bold")))
    for c in citations:
        out.print(
            _text(
                (f"[{c['n']}]", "bold cyan"),
                f" {c['author'] or 'unknown author'} — ",
                (c["title"] or c["doc_id"], "italic"),
            ),
            highlight=False,
        )
        if c["url"]:
            out.print(_text((f"    {c['url']}", "blue")), highlight=False)
        for quote in c["quotes"] or [c["text"]]:
            out.print(_text(f"    “{quote}”", multiline=True), highlight=False)


Backend = typer.Option("--backend", help="extractive (offline) or openai (RAG_LLM_* settings).")


@app.command("ask")
def ask_command(
    question: Annotated[str | None, typer.Argument(help="Your question.")] = None,
    backend: Annotated[str | None, Backend] = None,
    k: Annotated[
        int | None, typer.Option("-k", "--k", min=1, max=50, help="Passages to use.")
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", help="Only this author (substring).")
    ] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="File of questions: text lines or JSON lines.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Answer a question with numbered citations to the passages used."""
    if (question is None) == (batch is None):
        raise RagError("give either a QUESTION or --batch FILE")
    _check_backend(backend)
    from rag.serialize import answer_dict

    assistant = _assistant(_settings())
    questions = list(read_batch(batch)) if batch else [question or ""]
    for text in questions:
        answer = assistant.ask(text, backend=backend, k=k, filters=_filters(author, None))
        if as_json:
            _print_json(answer_dict(answer))
        else:
            _print_answer(answer)


@app.command("chat")
def chat_command(
    backend: Annotated[str | None, Backend] = None,
    k: Annotated[
        int | None, typer.Option("-k", "--k", min=1, max=50, help="Passages to use.")
    ] = None,
) -> None:
    """An interactive conversation; follow-up questions are understood in context."""
    _check_backend(backend)
    from rag.conversation import Conversation

    assistant = _assistant(_settings())
    conversation = Conversation()
    err.print("Ask a question (empty line or Ctrl-D to quit).", highlight=False)
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            _print_answer(assistant.ask(question, conversation=conversation, backend=backend, k=k))
        except RagError as error:
            err.print(_text(f"error: {error}"), highlight=False)


def _print_comparison(comparison: Any) -> None:
    """One table row per author, then the points of agreement and divergence with quotes."""
    from rich.table import Table

    from rag.perspectives import perspective_label

    if comparison.notice:
        err.print(_note(comparison.notice), highlight=False)
    table = Table(title=_text(comparison.question), caption=f"backend: {comparison.backend}")
    table.show_lines = True
    table.add_column("author", ratio=2)
    table.add_column("source", ratio=2, overflow="fold")  # URLs whole, not cut off
    table.add_column("position", ratio=4)
    table.add_column("quotes", ratio=5)
    for p in comparison.perspectives:
        meta = p.meta
        source = "\n".join(
            v for v in (meta.title or p.doc_id, meta.outlet, meta.date, meta.url) if v
        )
        if p.addressed:
            position = (f"[{p.stance}] " if p.stance else "") + p.summary
            quotes = "\n".join(f"“{q.text}”" for q in p.quotes)
        else:
            position, quotes = "does not address this question", "–"
        table.add_row(
            _text(perspective_label(p)),
            _text(source, multiline=True),
            _text(position, multiline=True),
            _text(quotes, multiline=True),
        )
    out.print(table, highlight=False)
    for heading, points in (
        ("Points of agreement", comparison.agreements),
        ("Points of divergence", comparison.divergences),
    ):
        out.print()
        out.print(_text((heading, "bold")))
        if not points:
            out.print("  none found", highlight=False)
        for point in points:
            out.print(_text(f"  - {point.point}"), highlight=False)
            for q in point.quotes:
                out.print(_text(f"      “{q.text}”", multiline=True), highlight=False)


@app.command("compare")
def compare_command(
    question: Annotated[str | None, typer.Argument(help="Your question.")] = None,
    authors: Annotated[
        str | None,
        typer.Option("--authors", help="Only these authors, comma-separated (substrings)."),
    ] = None,
    backend: Annotated[str | None, Backend] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="File of questions: text lines or JSON lines.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one line each).")] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="Print Markdown for a report.")
    ] = False,
) -> None:
    """How does each author answer the question? Positions, quotes, agreement, divergence."""
    from rag.serialize import comparison_dict, comparison_markdown

    if (question is None) == (batch is None):
        raise RagError("give either a QUESTION or --batch FILE")
    if as_json and as_markdown:
        raise RagError("give at most one of --json and --markdown")
    _check_backend(backend)
    wanted = [a.strip() for a in authors.split(",") if a.strip()] if authors else None
    assistant = _assistant(_settings())
    questions = list(read_batch(batch)) if batch else [question or ""]
    for text in questions:
        comparison = assistant.compare(text, authors=wanted, backend=backend)
        if as_json:
            _print_json(comparison_dict(comparison))
        elif as_markdown:
            if comparison.notice:
                err.print(_note(comparison.notice), highlight=False)
            sys.stdout.write(printable(comparison_markdown(comparison), multiline=True) + "\n")
        else:
            _print_comparison(comparison)


class _RunByDefault(TyperGroup):
    """`rag eval SET ...` runs a set; `rag eval compare|sweep ...` are the other commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors click
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Evaluate: `rag eval [SET]` runs an eval set; `compare` and `sweep` below.",
)
app.add_typer(eval_app, name="eval")

EvalSet = typer.Argument(help="Eval set (JSON lines; schema in the README).")
DEFAULT_EVAL_SET = Path("eval/questions.jsonl")
Conversations = typer.Option(
    "--conversations",
    help="Conversations to play, their last turn scored (default: conversations.jsonl "
    "beside the eval set, if there is one).",
)
Strict = typer.Option(
    "--strict",
    help="Stop when an evidence quote is not found in the index (default: run that "
    "question, list it first in the report and leave it out of recall).",
)


@eval_app.command("run")
def eval_command(
    eval_set: Annotated[Path, EvalSet] = DEFAULT_EVAL_SET,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="Passages per question.")] = 5,
    backend: Annotated[str | None, Backend] = None,
    answers: Annotated[
        bool, typer.Option("--answers/--retrieval-only", help="Also score the answers.")
    ] = True,
    judge: Annotated[
        bool,
        typer.Option("--judge", help="Also ask an LLM judge (RAG_JUDGE_* or RAG_LLM_* settings)."),
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Run folder to write (default: RAG_RUNS_DIR/<timestamp>)."),
    ] = None,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Write the run folder.")] = True,
    require: Annotated[
        list[str] | None,
        typer.Option(
            "--require",
            help="METRIC=VALUE the overall figure must reach (exit 1 if not); repeatable.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    conversations: Annotated[Path | None, Conversations] = None,
    no_conversations: Annotated[
        bool, typer.Option("--no-conversations", help="Score the questions only.")
    ] = False,
    strict: Annotated[bool, Strict] = False,
) -> None:
    """Score an eval set: retrieval, answers, citations, perspectives, cost; by question type."""
    from rag.cli_tables import missing_evidence_table, summary_table
    from rag.evaluation.gate import failures, parse_requirements
    from rag.serialize import eval_dict

    _check_backend(backend)
    required = parse_requirements(require or [])
    assistant = _assistant(_settings())
    target = assistant.run_folder(out_dir) if save else None  # before the run, not after it
    with Progress(*_progress_columns(), console=err, transient=True) as bar:
        task = bar.add_task("evaluating", total=None)
        run = assistant.evaluate(
            eval_set,
            k=k,
            backend=backend,
            answers=answers,
            judge=judge,
            conversations=None if no_conversations else _conversations(eval_set, conversations),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            strict=strict,
        )
    run_dir = assistant.save_run(run, target) if target else None
    if as_json:
        _print_json(eval_dict(run, run_dir))
    else:
        missing = missing_evidence_table(run.rows)
        if missing is not None:  # first: these questions' figures are incomplete
            out.print(missing)
        out.print(summary_table(run.summary))
    if run_dir:
        err.print(_text(f"saved {run_dir} (open {run_dir / 'report.html'})"), highlight=False)
    missed = failures(run.summary, required)
    for line in missed:
        err.print(_text(f"FAIL {line}"), highlight=False)
    if missed:
        raise typer.Exit(1)
    if required:
        err.print(f"PASS {len(required)} requirement(s)", highlight=False)


def _conversations(eval_set: Path, given: Path | None) -> Path | None:
    """The conversations to play: as given, else conversations.jsonl beside the set."""
    beside = eval_set.parent / "conversations.jsonl"
    return given if given is not None or not beside.is_file() else beside


def _run_path(name: str) -> Path:
    """A run folder given as a path, or as a run name under RAG_RUNS_DIR."""
    path = Path(name)
    return path if path.exists() or path.is_absolute() else _settings().runs_dir / name


@eval_app.command("compare")
def eval_compare_command(
    run_a: Annotated[str, typer.Argument(help="The baseline run (folder, or name in runs dir).")],
    run_b: Annotated[str, typer.Argument(help="The run compared with it.")],
    metrics: Annotated[
        list[str] | None, typer.Option("--metric", help="Only these metrics; repeatable.")
    ] = None,
    by_type: Annotated[bool, typer.Option("--by-type", help="Also per question type.")] = False,
    resamples: Annotated[
        int, typer.Option("--resamples", min=100, help="Bootstrap resamples.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Per-metric deltas B − A with paired bootstrap 95% intervals; questions that got worse."""
    from rag.cli_tables import comparison_table, regressions_table
    from rag.evaluation.compare import regressions

    comparison = _assistant(_settings()).compare_runs(
        _run_path(run_a),
        _run_path(run_b),
        metrics=metrics,
        by_type=by_type,
        n_resamples=resamples,
        seed=seed,
    )
    worse = regressions(comparison)
    if as_json:
        _print_json(comparison.to_json(worse))
        return
    for notice in comparison.notices:
        err.print(_note(notice), highlight=False)
    out.print(comparison_table(comparison))
    if worse:
        out.print(regressions_table(worse))
    else:
        out.print("No question got worse.")


@eval_app.command("sweep")
def eval_sweep_command(
    eval_set: Annotated[Path, EvalSet] = DEFAULT_EVAL_SET,
    grid: Annotated[
        str,
        typer.Option(
            "--grid", help="Settings to try, e.g. chunk_size=120,160,k=3,5,fusion=rrf,weighted."
        ),
    ] = "k=3,5,fusion=rrf,weighted",
    metric: Annotated[
        str, typer.Option("--metric", help="Rank by this overall metric.")
    ] = "recall",
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="k when not swept.")] = 5,
    answers: Annotated[
        bool | None,
        typer.Option(
            "--answers/--retrieval-only",
            help="Score answers too (default: only when the metric is an answer metric).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run an eval set over a grid of settings and rank them (the real index is only read)."""
    from rag.cli_tables import sweep_table
    from rag.evaluation.scores import metric as metric_info
    from rag.evaluation.sweep import configurations, env_assignments, parse_grid

    settings = _settings()
    parsed = parse_grid(grid)
    info = metric_info(metric) if metric in _metric_names() else None
    if info is None:
        raise ConfigError(f"--metric {metric!r}: unknown; known: {', '.join(_metric_names())}")
    score_answers = answers if answers is not None else info.group in ("answers", "perspectives")
    base = _assistant(settings)
    with Progress(*_progress_columns(), console=err, transient=True) as bar:
        task = bar.add_task("sweeping", total=len(configurations(parsed)))

        def progress(done: int, total: int, config: dict[str, object]) -> None:
            shown = printable(" ".join(f"{n}={v}" for n, v in config.items()))
            bar.update(task, completed=done, total=total, description=shown or "done")

        result = base.sweep(
            eval_set, parsed, metric=metric, k=k, answers=score_answers, progress=progress
        )
    if as_json:
        _print_json(result.to_json())
        return
    out.print(sweep_table(result))
    if result.best:
        out.print(
            _text(f"best by {metric}: {env_assignments(result.best.config)}"), highlight=False
        )


def _metric_names() -> list[str]:
    from rag.evaluation.scores import BY_NAME

    return list(BY_NAME)


@app.command("serve")
def serve_command(
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on; any but loopback needs --auth."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 7860,
    index: Annotated[
        Path | None, typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR, index/).")
    ] = None,
    auth: Annotated[
        str | None, typer.Option("--auth", help="user:password to sign in (see also --auth-file).")
    ] = None,
    auth_file: Annotated[
        Path | None,
        typer.Option("--auth-file", help="File of user:password lines (keeps it out of ps)."),
    ] = None,
) -> None:
    """Serve the web app (Ask, Compare, Evaluate, Library) at http://HOST:PORT."""
    from rag.ports import check_port

    check_port(host, port)  # a busy port: one line now, not after loading the app and model
    settings = _settings()
    if index is not None:
        settings = settings.model_copy(update={"index_dir": index})
    serve = web_app()
    serve(_assistant(settings), host=host, port=port, auth=auth, auth_file=auth_file)


# As pyproject.toml declares it; looked up by name, so `rag` never imports the app.
WEB_APP = EntryPoint(name="web", value="ui.app:serve", group="rag.apps")


def web_app() -> Callable[..., None]:
    """The app `rag serve` runs: the installed `web` entry point of the group `rag.apps`
    (or the project's own, for an install made before it declared one)."""
    declared = entry_points(group=WEB_APP.group, name=WEB_APP.name)
    entry = next(iter(declared), WEB_APP)
    try:
        serve: Callable[..., None] = entry.load()
    except ImportError as error:
        raise ConfigError(
            f"the web app ({entry.value}) cannot be loaded: {error}; install the project "
            "with its app (`make setup`, or `pip install -e .`)"
        ) from error
    return serve


def main() -> None:
    try:
        app()
    except RagError as error:
        err.print(_text(f"error: {error}"), highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)

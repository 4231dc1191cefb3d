"""The app's JSON API: `ask`, `compare`, `search`, `documents` and `evaluate`, each
returning what the same `rag ... --json` command prints (built by `rag.serialize`, so the
two cannot drift apart). The UI's own events return HTML for its components; these are for
programs (`gradio_client`, or plain HTTP), and are the only endpoints the API page lists.

Plain functions of a `Context` like `ui.handlers` (no Gradio here); `ui.app` registers
them with `gr.api`, which reads their parameters' type hints."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rag import answerers, serialize
from rag.errors import EvalSetError
from rag.retrieval import Filters
from ui.handlers import Context, UserError, shown_path

ASK_K = (1, 50)  # as `rag ask -k`
SEARCH_K = (1, 100)  # as `rag search -k` and `rag eval -k`


def _text(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise UserError(f"{field}: give a non-empty text")
    return text


def _k(value: int | None, bounds: tuple[int, int], field: str = "k") -> int | None:
    """None (the settings' k) when not given, else an int within the command's bounds."""
    if value is None or value == 0:
        return None
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UserError(f"{field}: give a whole number from {low} to {high}, not {value!r}")
    return value


def _backend(value: str | None) -> str | None:
    if not value:
        return None
    answerers.kind(value, what="backend")  # ConfigError naming the known ones
    return value


def ask(
    ctx: Context,
    question: str,
    backend: str | None = None,
    k: int | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """Answer a question with numbered citations (one question, no conversation): the
    object `rag ask --json` prints."""
    text = _text(question, "question")
    chosen, top_k = _backend(backend), _k(k, ASK_K)
    ctx.assistant.load()
    filters = Filters(authors=(author,) if author else ())
    answer = ctx.assistant.ask(text, backend=chosen, k=top_k, filters=filters)
    return serialize.answer_dict(answer)


def search(
    ctx: Context,
    query: str,
    k: int | None = None,
    author: str | None = None,
    doc: list[str] | None = None,
) -> dict[str, Any]:
    """The passages that best match a query (hybrid dense + BM25): the object
    `rag search --json` prints."""
    text = _text(query, "query")
    top_k = _k(k, SEARCH_K)
    ctx.assistant.load()
    filters = Filters(authors=(author,) if author else (), doc_ids=tuple(doc or ()))
    return serialize.search_dict(text, ctx.assistant.search(text, k=top_k, filters=filters))


def compare(
    ctx: Context,
    question: str,
    authors: list[str] | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """How each author answers a question, with agreements and divergences: the object
    `rag compare --json` prints."""
    text = _text(question, "question")
    chosen = _backend(backend)
    wanted = [a.strip() for a in authors or () if a.strip()] or None
    ctx.assistant.load()
    return serialize.comparison_dict(ctx.assistant.compare(text, authors=wanted, backend=chosen))


def documents(ctx: Context) -> dict[str, Any]:
    """The indexed documents with their metadata: the object `rag docs --json` prints."""
    return serialize.documents_dict(ctx.assistant.documents())


def evaluate(
    ctx: Context,
    eval_set: str = "",
    k: int = 5,
    backend: str | None = None,
    answers: bool = True,
) -> dict[str, Any]:
    """Score an eval set given as its JSON lines (empty: the project's set), save the run
    in the runs folder: the object `rag eval SET --json --no-conversations` prints."""
    top_k = _k(k, SEARCH_K) or 5
    chosen = _backend(backend)
    ctx.assistant.load()
    if not eval_set.strip():
        run = ctx.assistant.evaluate(ctx.eval_set, k=top_k, backend=chosen, answers=answers)
    else:
        with tempfile.TemporaryDirectory(prefix="rag-api-eval-") as folder:
            path = Path(folder) / "eval_set.jsonl"
            path.write_text(eval_set, encoding="utf-8")
            try:
                run = ctx.assistant.evaluate(path, k=top_k, backend=chosen, answers=answers)
            except EvalSetError as error:  # named as the caller knows it: the parameter
                raise UserError(str(error).replace(str(path), "eval_set")) from error
    saved = ctx.assistant.save_run(run, runs_dir=ctx.runs_dir)
    return serialize.eval_dict(run, shown_path(saved))

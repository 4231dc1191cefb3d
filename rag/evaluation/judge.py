"""Judge mode for `rag eval --judge`: RAGAS faithfulness and answer relevance, scored by
an LLM at temperature 0 through the project's `LLM` seam and `Embedder`.

Definitions, as RAGAS documents and implements them:

* **Faithfulness** (docs.ragas.io, "Faithfulness": "Number of claims in the response
  supported by the retrieved context / Total number of claims in the response"; ragas
  `metrics/collections/faithfulness`): step 1 the judge breaks the answer into standalone
  statements without pronouns (prompts/judge_claims.md, reply `{"claims": [str]}`); step
  2 it gives each statement verdict 1 if it "can be directly inferred" from the context,
  else 0, with a reason (prompts/judge_verdicts.md, reply `{"verdicts": [{"claim": str,
  "verdict": 0|1, "reason": str}]}`). Score = supported / claims. RAGAS returns NaN when no
  statement is generated; here that is None. The context is the passages the answer was
  written from (`Answer.passages`), in the block the answer prompt uses.
* **Answer relevance** (docs.ragas.io, "Response Relevancy": "the mean cosine similarity
  of the original user_input to a number of artificial questions, which were generated
  (reverse engineered) based on the response", N = 3 by default; ragas
  `_answer_relevance.py` multiplies the mean by 0 when the judge flags the answer
  noncommittal, e.g. "I don't know"): the judge writes N questions from the answer and a
  noncommittal flag (prompts/judge_questions.md, reply `{"questions": [str],
  "noncommittal": 0|1}`); the project's `Embedder` embeds them and the question; score =
  mean cosine, or 0.0 when noncommittal. RAGAS samples N separate generations; at
  temperature 0 those would be identical, so one request asks for N different questions.
  The cosine can in principle be negative (RAGAS notes the same); it is not clipped.

Choices made here:

* A refused answer (`Answer.refused`, or no text) claims nothing: faithfulness is None
  (as RAGAS with no statements). It is by construction noncommittal, so answer relevance
  is 0.0 under the RAGAS rule, without asking the judge. Whether refusing was right is
  measured by the `abstained` / `false_refusal` metrics, not here.
* Citation markers `[n]` are removed from the answer before it goes to the judge: they are
  not claims.
* A reply is validated with pydantic after stripping ```json fences and any prose around
  the first JSON object. A reply that does not validate (or gives a verdict count that
  differs from the claim count, or no question while not noncommittal) is a parse failure
  of that metric for that question: the metric is None there, never 0, and the failure is
  recorded in `JudgeResult.errors` / `parse_failures`. An `LLMError` is recorded the same
  way (`llm_failures`); the run goes on.
* Replies are cached in SQLite (`JudgeCache`), keyed by sha256 of the model name and the
  exact messages. Only replies that validated are stored, so a failure is asked again
  next run, and a rerun with the same prompts and model sends no request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.embeddings import Embedder
from rag.errors import ConfigError, LLMError, RagError
from rag.evaluation.records import JudgeClaimRecord, JudgeRecord, JudgeSummary
from rag.llm import LLM, Message, StructuredLLM
from rag.openai_llm import OpenAICompatibleLLM
from rag.prompts import format_passages, load_prompt
from rag.settings import Settings
from rag.types import Answer

__all__ = [
    "JUDGE_METRICS",
    "ClaimVerdict",
    "Judge",
    "JudgeCache",
    "JudgeParseError",
    "JudgeResult",
    "build_judge",
    "cache_key",
    "parse_reply",
    "summarise_judge",
]

log = logging.getLogger(__name__)

JUDGE_METRICS = ("faithfulness", "answer_relevance")

_CITATION_MARK = re.compile(r"[ \t]*\[\d+\]")
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_URL = re.compile(r"https?://[^/\s]+", re.IGNORECASE)


class JudgeParseError(RagError):
    """The judge's reply is not the JSON its prompt asks for."""


# --- replies ------------------------------------------------------------------------------

# 0 or 1 ("1" accepted); the enum is what grammar-constrained servers enforce
Binary = Annotated[int, Field(ge=0, le=1, json_schema_extra={"enum": [0, 1]})]


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ClaimsReply(_Reply):
    claims: list[str]


class VerdictItem(_Reply):
    claim: str = ""
    verdict: Binary
    reason: str = ""


class VerdictsReply(_Reply):
    verdicts: list[VerdictItem]


class QuestionsReply(_Reply):
    questions: list[str]
    noncommittal: Binary


R = TypeVar("R", bound=_Reply)


def _first_json_object(text: str) -> Any:
    """The first JSON object in `text`: inside a ``` fence if there is one, else the first
    `{` that starts a whole object. Raises JudgeParseError."""
    decoder = json.JSONDecoder()
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except ValueError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    raise JudgeParseError(f"no JSON object in the reply {_excerpt(text)}")


def parse_reply(text: str, model: type[R]) -> R:
    """`text` (a judge's raw reply) validated as `model`; raises JudgeParseError."""
    value = _first_json_object(text)
    try:
        return model.model_validate(value)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'reply'}: {err['msg']}"
            for err in e.errors()[:3]
        )
        raise JudgeParseError(f"unexpected JSON ({problems}) in the reply {_excerpt(text)}") from e


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# --- results ------------------------------------------------------------------------------


# The judge's records are those of the run (rag.evaluation.records), under its own names.
ClaimVerdict = JudgeClaimRecord
JudgeResult = JudgeRecord


def summarise_judge(results: Sequence[JudgeResult], model: str | None = None) -> JudgeSummary:
    """Means over the non-None values (None never counts as 0), how many questions each
    mean covers, and the failures per metric."""
    means: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for name in JUDGE_METRICS:
        found = [v for r in results if (v := r.scores[name]) is not None]
        means[name] = round(mean(found), 4) if found else None
        counts[name] = len(found)
    return JudgeSummary(
        model=model,
        n=len(results),
        faithfulness=means["faithfulness"],
        n_faithfulness=counts["faithfulness"],
        answer_relevance=means["answer_relevance"],
        n_answer_relevance=counts["answer_relevance"],
        parse_failures={
            name: sum(name in r.parse_failures for r in results) for name in JUDGE_METRICS
        },
        llm_failures={name: sum(name in r.llm_failures for r in results) for name in JUDGE_METRICS},
        requests=sum(r.requests for r in results),
        cached=sum(r.cached for r in results),
    )


# --- cache --------------------------------------------------------------------------------


def cache_key(model: str, messages: Sequence[Message]) -> str:
    """sha256 of the model name and the exact messages, as canonical JSON."""
    payload = json.dumps(
        {
            "model": model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    """Judge replies in a SQLite file, keyed by `cache_key`.

    Each read and write opens its own connection, in a transaction, and closes it, so
    the cache is safe to share between threads and processes (SQLite locks the file). A
    failure to read or write after opening is logged and treated as a miss."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as conn, conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS replies ("
                    "key TEXT PRIMARY KEY, model TEXT NOT NULL, reply TEXT NOT NULL, "
                    "created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
                )
        except (OSError, sqlite3.Error) as e:
            raise ConfigError(
                f"cannot use the judge cache {self.path}: {e} (set RAG_JUDGE_CACHE to a "
                "writable file)"
            ) from e

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), timeout=30)

    def get(self, key: str) -> str | None:
        try:
            with closing(self._connect()) as conn, conn:
                row = conn.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as e:
            log.warning("judge cache %s not readable: %s", self.path, e)
            return None
        return str(row[0]) if row else None

    def put(self, key: str, model: str, reply: str) -> None:
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute(
                    "INSERT OR REPLACE INTO replies (key, model, reply) VALUES (?, ?, ?)",
                    (key, model, reply),
                )
        except sqlite3.Error as e:
            log.warning("judge cache %s not writable: %s", self.path, e)

    def __len__(self) -> int:
        try:
            with closing(self._connect()) as conn:
                return int(conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0])
        except sqlite3.Error:
            return 0


# --- the judge ----------------------------------------------------------------------------


@dataclass
class _Tally:
    requests: int = 0
    cached: int = 0


@dataclass
class _Outcome:
    """What one metric's steps produced, failures included."""

    value: float | None = None
    claims: tuple[ClaimVerdict, ...] = ()
    questions: tuple[str, ...] = ()
    noncommittal: bool | None = None
    errors: list[str] = field(default_factory=list)
    parse_failed: bool = False
    llm_failed: bool = False


def _answer_for_judge(text: str) -> str:
    """The answer without citation markers, `<`/`>` made inert (it sits in <answer>)."""
    text = _CITATION_MARK.sub("", text).strip()
    return text.replace("<", "&lt;").replace(">", "&gt;")


class Judge:
    """Scores answers with RAGAS faithfulness and answer relevance (module docstring).

    `llm` should answer at temperature 0 (`build_judge` makes sure of it); `cache` may be
    None (no caching). Use one instance from one thread at a time."""

    def __init__(
        self,
        llm: LLM,
        embedder: Embedder,
        prompts_dir: Path,
        cache: JudgeCache | None = None,
        *,
        n_questions: int = 3,
    ) -> None:
        if n_questions < 1:
            raise ConfigError(f"RAG_JUDGE_QUESTIONS must be 1 or more, not {n_questions}")
        self.llm = llm
        self.embedder = embedder
        self.cache = cache
        self.n_questions = n_questions
        self._claims_prompt = load_prompt("judge_claims", prompts_dir)
        self._verdicts_prompt = load_prompt("judge_verdicts", prompts_dir)
        self._questions_prompt = load_prompt("judge_questions", prompts_dir)

    @property
    def model(self) -> str:
        return self.llm.name

    def close(self) -> None:
        """Release the judge model's connections (where it holds any)."""
        close = getattr(self.llm, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- scoring ----------------------------------------------------------------------

    def judge(self, question: str, answer: Answer) -> JudgeResult:
        """Both metrics for one answered question; never raises for a judge failure."""
        tally = _Tally()
        text = _answer_for_judge(answer.text)
        if answer.refused or not text:
            return JudgeResult(faithfulness=None, answer_relevance=0.0, noncommittal=True)
        faith = self._run(
            "faithfulness", lambda o: self._faithfulness(question, text, answer, o, tally)
        )
        relevance = self._run(
            "answer_relevance", lambda o: self._relevance(question, text, o, tally)
        )
        return JudgeResult(
            faithfulness=faith.value,
            answer_relevance=relevance.value,
            claims=faith.claims,
            generated_questions=relevance.questions,
            noncommittal=relevance.noncommittal,
            errors=tuple(faith.errors + relevance.errors),
            parse_failures=tuple(
                name
                for name, o in zip(JUDGE_METRICS, (faith, relevance), strict=True)
                if o.parse_failed
            ),
            llm_failures=tuple(
                name
                for name, o in zip(JUDGE_METRICS, (faith, relevance), strict=True)
                if o.llm_failed
            ),
            requests=tally.requests,
            cached=tally.cached,
        )

    def _run(self, metric: str, step: Callable[[_Outcome], None]) -> _Outcome:
        outcome = _Outcome()
        try:
            step(outcome)
        except JudgeParseError as e:
            outcome.value = None
            outcome.parse_failed = True
            outcome.errors.append(f"{metric}: the judge's reply did not parse: {e}")
        except LLMError as e:
            outcome.value = None
            outcome.llm_failed = True
            outcome.errors.append(f"{metric}: the judge model failed: {e.reason}")
        return outcome

    def _faithfulness(
        self, question: str, text: str, answer: Answer, outcome: _Outcome, tally: _Tally
    ) -> None:
        messages = self._claims_prompt.render_messages(question=question.strip(), answer=text)
        claims_reply = self._ask(messages, ClaimsReply, tally)
        claims = [c.strip() for c in claims_reply.claims if c.strip()]
        if not claims:
            return  # nothing claimed: None, as RAGAS (NaN) with no statements

        def same_count(reply: VerdictsReply) -> None:
            if len(reply.verdicts) != len(claims):
                raise JudgeParseError(f"{len(reply.verdicts)} verdicts for {len(claims)} claims")

        messages = self._verdicts_prompt.render_messages(
            passages=format_passages(answer.passages),
            claims=json.dumps(claims, ensure_ascii=False, indent=2),
        )
        verdicts = self._ask(messages, VerdictsReply, tally, check=same_count)
        outcome.claims = tuple(
            ClaimVerdict(claim, item.verdict == 1, item.reason.strip())
            for claim, item in zip(claims, verdicts.verdicts, strict=True)
        )
        outcome.value = sum(c.supported for c in outcome.claims) / len(outcome.claims)

    def _relevance(self, question: str, text: str, outcome: _Outcome, tally: _Tally) -> None:
        def has_questions(reply: QuestionsReply) -> None:
            if not reply.noncommittal and not any(q.strip() for q in reply.questions):
                raise JudgeParseError("no question generated")

        messages = self._questions_prompt.render_messages(answer=text, n=str(self.n_questions))
        reply = self._ask(messages, QuestionsReply, tally, check=has_questions)
        questions = [q.strip() for q in reply.questions if q.strip()][: self.n_questions]
        outcome.questions = tuple(questions)
        outcome.noncommittal = bool(reply.noncommittal)
        if outcome.noncommittal:
            outcome.value = 0.0  # RAGAS: a noncommittal answer scores 0
            return
        vectors = np.asarray(self.embedder.embed([question.strip(), *questions]), dtype=np.float64)
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        outcome.value = float(np.mean(unit[1:] @ unit[0]))

    def _ask(
        self,
        messages: list[Message],
        model: type[R],
        tally: _Tally,
        check: Callable[[R], None] | None = None,
    ) -> R:
        """The validated reply to `messages`, from the cache or the judge model.

        Raises JudgeParseError or LLMError; only a reply that validated is cached."""
        key = cache_key(self.llm.name, messages)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    parsed = parse_reply(hit, model)
                    if check is not None:
                        check(parsed)
                except JudgeParseError:
                    log.warning("judge cache entry %s no longer validates; asking again", key)
                else:
                    tally.cached += 1
                    return parsed
        tally.requests += 1
        if isinstance(self.llm, StructuredLLM):
            raw = self.llm.complete_json(messages, model.model_json_schema(), model.__name__)
        else:
            raw = self.llm.complete(messages)
        parsed = parse_reply(raw, model)
        if check is not None:
            check(parsed)
        if self.cache is not None:
            self.cache.put(key, self.llm.name, raw)
        return parsed


# --- construction ------------------------------------------------------------------------


def build_judge(settings: Settings, embedder: Embedder, *, use_cache: bool = True) -> Judge:
    """The judge configured by `settings`: `judge_*` values, falling back to `llm_*`,
    always at temperature 0, with the SQLite cache at `judge_cache` (unless `use_cache`
    is False). Raises ConfigError with a one-line fix when no judge model is configured."""
    base_url = (settings.judge_base_url or settings.llm_base_url or "").strip()
    model = (settings.judge_model or settings.llm_model or "").strip()
    missing = [
        env
        for env, value in (
            ("RAG_JUDGE_BASE_URL (or RAG_LLM_BASE_URL)", base_url),
            ("RAG_JUDGE_MODEL (or RAG_LLM_MODEL)", model),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            "--judge needs a judge model: set "
            + " and ".join(missing)
            + " (e.g. RAG_JUDGE_BASE_URL=http://127.0.0.1:8080/v1 RAG_JUDGE_MODEL=my-model)"
        )
    if not _URL.match(base_url):
        source = "RAG_JUDGE_BASE_URL" if settings.judge_base_url else "RAG_LLM_BASE_URL"
        raise ConfigError(
            f"{source} must be an http(s) URL such as http://127.0.0.1:8080/v1, not {base_url!r}"
        )
    if settings.judge_questions < 1:
        raise ConfigError(f"RAG_JUDGE_QUESTIONS must be 1 or more, not {settings.judge_questions}")
    if settings.judge_max_tokens < 1:
        raise ConfigError(
            f"RAG_JUDGE_MAX_TOKENS must be 1 or more, not {settings.judge_max_tokens}"
        )
    cache: JudgeCache | None = None
    if use_cache:
        if settings.judge_cache.resolve().is_relative_to(settings.index_dir.resolve()):
            raise ConfigError(
                f"RAG_JUDGE_CACHE={settings.judge_cache} is inside the index folder "
                f"{settings.index_dir}; put it elsewhere (default eval/.judge-cache.sqlite)"
            )
        cache = JudgeCache(settings.judge_cache)
    judge_settings = settings.model_copy(
        update={
            "llm_base_url": base_url,
            "llm_model": model,
            "llm_api_key": settings.judge_api_key or settings.llm_api_key,
            "llm_temperature": 0.0,
            "llm_max_tokens": settings.judge_max_tokens,
        }
    )
    llm = OpenAICompatibleLLM(judge_settings)
    return Judge(llm, embedder, settings.prompts_dir, cache, n_questions=settings.judge_questions)

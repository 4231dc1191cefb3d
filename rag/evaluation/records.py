"""The records an eval run produces: one `QuestionResult` per question, one `RunSummary`
per run. Their JSON form is the run folder's contract (results.jsonl, summary.json, and
`rag eval --json`), which other tools read; `rag.evaluation.runs` is the only module that
reads or writes those files, through the `to_json()` / `from_json()` methods here.

Schema versions: `SCHEMA_VERSION` is written into summary.json and into every row. A
file without it was written before the field existed (version 1: the same fields) and
loads as it is. `from_json` fills a missing field with its default, so partial rows
written by hand or by other tools load; a field of the wrong type, or a version newer
than this code reads, raises `RunError` naming the field (the caller adds file and line).

Metric values are not fields: `QuestionResult.scores` maps the names of
`rag.evaluation.scores.METRICS` to a number, or None where a metric does not apply, and
`Figures` holds their means by name, so adding a metric changes nothing here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.errors import RunError

SCHEMA_VERSION = 2  # 1: the unversioned files written before this field existed

# A value of the settings snapshot (embedding model, chunk size, fusion weights...).
SettingValue = str | int | float | bool | None


# --- reading JSON -------------------------------------------------------------------------


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Fields:
    """Typed access to one JSON object; every error names the field's path."""

    def __init__(self, data: object, path: str = "") -> None:
        if not isinstance(data, dict):
            where = f"field {path!r}" if path else "the record"
            raise RunError(f"{where} must be a JSON object, not {_shown(data)}")
        self.data: Mapping[str, object] = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def wrong(self, key: str, expected: str, value: object) -> RunError:
        return RunError(f"field {self.where(key)!r} must be {expected}, not {_shown(value)}")

    def text(self, key: str, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.wrong(key, "a string", value)
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if self.data.get(key) is not None else None

    def integer(self, key: str, default: int | None = 0) -> int:
        value = self.data.get(key)
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(key, "an integer", value)
        return value

    def opt_integer(self, key: str) -> int | None:
        return self.integer(key) if self.data.get(key) is not None else None

    def number(self, key: str) -> float | None:
        """A finite number or None; true/false read as 1/0; an int stays an int (so a
        token count is written back as it was read)."""
        return _number(self.data.get(key), lambda value: self.wrong(key, "a number", value))

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.wrong(key, "true or false", value)
        return value

    def opt_flag(self, key: str) -> bool | None:
        return self.flag(key) if self.data.get(key) is not None else None

    def items(self, key: str) -> list[object]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong(key, "a list", value)
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        found = self.items(key)
        texts = [item for item in found if isinstance(item, str)]
        if len(texts) != len(found):
            raise self.wrong(key, "a list of strings", found)
        return tuple(texts)

    def integers(self, key: str) -> tuple[int, ...]:
        found = self.items(key)
        numbers = [item for item in found if isinstance(item, int) and not isinstance(item, bool)]
        if len(numbers) != len(found):
            raise self.wrong(key, "a list of integers", found)
        return tuple(numbers)

    def objects(self, key: str) -> list[_Fields]:
        return [_Fields(item, f"{self.where(key)}[{i}]") for i, item in enumerate(self.items(key))]

    def child(self, key: str) -> _Fields | None:
        value = self.data.get(key)
        return None if value is None else _Fields(value, self.where(key))

    def counts(self, key: str) -> dict[str, int]:
        """A JSON object of integers (e.g. failures per metric)."""
        child = self.child(key)
        return {name: child.integer(name) for name in child.data} if child else {}

    def setting_values(self, key: str) -> dict[str, SettingValue]:
        child = self.child(key)
        if child is None:
            return {}
        values: dict[str, SettingValue] = {}
        for name, value in child.data.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise child.wrong(name, "a string, number, true/false or null", value)
            values[name] = value
        return values


def _number(value: object, wrong: Callable[[object], RunError]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise wrong(value)
    return value


def _version(data: _Fields) -> int:
    version = data.integer("schema_version", default=1)
    if version > SCHEMA_VERSION:
        raise RunError(
            f"field 'schema_version' is {version}: written by a newer rag (this one reads up "
            f"to {SCHEMA_VERSION}); upgrade rag to read it"
        )
    return version


# --- one question -------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceSpan:
    """Where one gold evidence quote stands in the indexed (cleaned) documents."""

    quote: str
    doc_id: str
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {"quote": self.quote, "doc_id": self.doc_id, "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, data: _Fields) -> EvidenceSpan:
        return cls(
            data.text("quote"), data.text("doc_id"), data.integer("start"), data.integer("end")
        )


@dataclass(frozen=True)
class RetrievedRecord:
    """One retrieved passage, with the gold evidence in it as offsets into `text`."""

    rank: int
    chunk_id: str
    doc_id: str
    title: str | None
    author: str | None
    url: str | None
    score: float | None
    start: int
    end: int
    text: str
    gold: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "author": self.author,
            "url": self.url,
            "score": self.score,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "gold": [list(span) for span in self.gold],
        }

    @classmethod
    def from_json(cls, data: _Fields, position: int) -> RetrievedRecord:
        gold = []
        for number, span in enumerate(data.items("gold")):
            if not (
                isinstance(span, list)
                and len(span) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in span)
            ):
                raise data.wrong(f"gold[{number}]", "a [start, end] pair of integers", span)
            gold.append((int(span[0]), int(span[1])))
        return cls(
            rank=data.integer("rank", default=position),
            chunk_id=data.text("chunk_id"),
            doc_id=data.text("doc_id"),
            title=data.opt_text("title"),
            author=data.opt_text("author"),
            url=data.opt_text("url"),
            score=data.number("score"),
            start=data.integer("start"),
            end=data.integer("end"),
            text=data.text("text"),
            gold=tuple(gold),
        )


@dataclass(frozen=True)
class CitationRecord:
    """Citation `[n]` of an answer: the passage it points at and the sentence it quotes."""

    n: int
    chunk_id: str
    quote: str | None

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "chunk_id": self.chunk_id, "quote": self.quote}

    @classmethod
    def from_json(cls, data: _Fields) -> CitationRecord:
        return cls(data.integer("n", default=None), data.text("chunk_id"), data.opt_text("quote"))


@dataclass(frozen=True)
class ClaimRecord:
    """One sentence of an answer and whether its citations support it (ALCE, lexical test;
    see `rag.evaluation.support.ClaimScore`)."""

    text: str
    cited: tuple[int, ...]
    supported: bool | None
    score: float | None
    irrelevant: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "cited": list(self.cited),
            "supported": self.supported,
            "score": self.score,
            "irrelevant": list(self.irrelevant),
        }

    @classmethod
    def from_json(cls, data: _Fields) -> ClaimRecord:
        return cls(
            data.text("text"),
            data.integers("cited"),
            data.opt_flag("supported"),
            data.number("score"),
            data.integers("irrelevant"),
        )


@dataclass(frozen=True)
class AnswerRecord:
    """The answer to one question, its citations and the support check of its claims
    (no claims when it refused)."""

    text: str
    refused: bool
    backend: str
    notice: str | None = None
    citations: tuple[CitationRecord, ...] = ()
    claims: tuple[ClaimRecord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "refused": self.refused,
            "backend": self.backend,
            "notice": self.notice,
            "citations": [c.to_json() for c in self.citations],
            "claims": [c.to_json() for c in self.claims],
        }

    @classmethod
    def from_json(cls, data: _Fields) -> AnswerRecord:
        return cls(
            text=data.text("text"),
            refused=data.flag("refused"),
            backend=data.text("backend"),
            notice=data.opt_text("notice"),
            citations=tuple(CitationRecord.from_json(c) for c in data.objects("citations")),
            claims=tuple(ClaimRecord.from_json(c) for c in data.objects("claims")),
        )


@dataclass(frozen=True)
class PerspectivesRecord:
    """How the comparison of the authors fared on one question (`rag.evaluation.perspectives`)."""

    gold_authors: tuple[str, ...] = ()
    addressed: tuple[str, ...] = ()
    n_authors: int = 0
    coverage: float | None = None  # None: no gold authors
    n_gold: int = 0
    n_covered: int = 0
    n_checks: int = 0
    n_attributed: int = 0
    attribution: float | None = 1.0
    false_addresses: tuple[str, ...] = ()
    agreements: int = 0
    divergences: int = 0
    backend: str = ""
    notice: str | None = None
    ms: float | None = None  # wall time of the comparison

    def to_json(self) -> dict[str, Any]:
        return {
            "gold_authors": list(self.gold_authors),
            "addressed": list(self.addressed),
            "n_authors": self.n_authors,
            "coverage": self.coverage,
            "n_gold": self.n_gold,
            "n_covered": self.n_covered,
            "n_checks": self.n_checks,
            "n_attributed": self.n_attributed,
            "attribution": self.attribution,
            "false_addresses": list(self.false_addresses),
            "agreements": self.agreements,
            "divergences": self.divergences,
            "backend": self.backend,
            "notice": self.notice,
            "ms": self.ms,
        }

    @classmethod
    def from_json(cls, data: _Fields) -> PerspectivesRecord:
        return cls(
            gold_authors=data.texts("gold_authors"),
            addressed=data.texts("addressed"),
            n_authors=data.integer("n_authors"),
            coverage=data.number("coverage"),
            n_gold=data.integer("n_gold"),
            n_covered=data.integer("n_covered"),
            n_checks=data.integer("n_checks"),
            n_attributed=data.integer("n_attributed"),
            attribution=data.number("attribution") if "attribution" in data.data else 1.0,
            false_addresses=data.texts("false_addresses"),
            agreements=data.integer("agreements"),
            divergences=data.integer("divergences"),
            backend=data.text("backend"),
            notice=data.opt_text("notice"),
            ms=data.number("ms"),
        )


@dataclass(frozen=True)
class JudgeClaimRecord:
    """One claim of an answer and the judge's verdict on it."""

    claim: str
    supported: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"claim": self.claim, "verdict": int(self.supported), "reason": self.reason}

    @classmethod
    def from_json(cls, data: _Fields) -> JudgeClaimRecord:
        verdict = data.number("verdict")
        if verdict is None:
            raise data.wrong("verdict", "0 or 1", None)
        return cls(data.text("claim"), verdict >= 0.5, data.text("reason"))


@dataclass(frozen=True)
class JudgeRecord:
    """The judge's scores for one question; a metric is None where it does not apply or
    failed (see `errors`), never 0 for a failure (`rag.evaluation.judge`)."""

    faithfulness: float | None
    answer_relevance: float | None
    claims: tuple[JudgeClaimRecord, ...] = ()
    generated_questions: tuple[str, ...] = ()
    noncommittal: bool | None = None
    errors: tuple[str, ...] = ()  # one line each, prefixed with the metric
    parse_failures: tuple[str, ...] = ()  # metrics whose judge reply did not validate
    llm_failures: tuple[str, ...] = ()  # metrics whose judge request failed (LLMError)
    requests: int = 0  # requests sent to the judge; 0 when everything came from the cache
    cached: int = 0  # replies taken from the cache

    @property
    def scores(self) -> dict[str, float | None]:
        """The two metrics under their registry names (rag.evaluation.scores)."""
        return {"faithfulness": self.faithfulness, "answer_relevance": self.answer_relevance}

    def to_json(self) -> dict[str, Any]:
        return {
            "faithfulness": self.faithfulness,
            "answer_relevance": self.answer_relevance,
            "claims": [c.to_json() for c in self.claims],
            "generated_questions": list(self.generated_questions),
            "noncommittal": self.noncommittal,
            "errors": list(self.errors),
            "parse_failures": list(self.parse_failures),
            "llm_failures": list(self.llm_failures),
            "requests": self.requests,
            "cached": self.cached,
        }

    @classmethod
    def from_json(cls, data: _Fields) -> JudgeRecord:
        return cls(
            faithfulness=data.number("faithfulness"),
            answer_relevance=data.number("answer_relevance"),
            claims=tuple(JudgeClaimRecord.from_json(c) for c in data.objects("claims")),
            generated_questions=data.texts("generated_questions"),
            noncommittal=data.opt_flag("noncommittal"),
            errors=data.texts("errors"),
            parse_failures=data.texts("parse_failures"),
            llm_failures=data.texts("llm_failures"),
            requests=data.integer("requests"),
            cached=data.integer("cached"),
        )


@dataclass(frozen=True)
class QuestionResult:
    """One question of a run, retrieved, answered and scored: one line of results.jsonl."""

    id: str
    type: str
    question: str
    scores: Mapping[str, float | None]  # metric name -> value; None: does not apply
    answer_keys: tuple[str, ...] = ()
    evidence: tuple[EvidenceSpan, ...] = ()
    retrieved: tuple[RetrievedRecord, ...] = ()
    answer: AnswerRecord | None = None  # None: a retrieval-only run
    perspectives: PerspectivesRecord | None = None  # comparative and unanswerable questions
    judge: JudgeRecord | None = None  # with --judge
    errors: tuple[str, ...] = ()  # notices and judge failures, one line each
    rewrite: str | None = None  # a conversation's last turn as rewritten against the others
    evidence_missing: str | None = None  # why its evidence is not in the index: no recall

    def score(self, name: str) -> float | None:
        return self.scores.get(name)

    def to_json(self) -> dict[str, Any]:
        found = {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "type": self.type,
            "question": self.question,
            "answer_keys": list(self.answer_keys),
            "evidence": [e.to_json() for e in self.evidence],
            "retrieved": [r.to_json() for r in self.retrieved],
            "scores": dict(self.scores),
            "answer": self.answer.to_json() if self.answer else None,
            "perspectives": self.perspectives.to_json() if self.perspectives else None,
            "judge": self.judge.to_json() if self.judge else None,
            "errors": list(self.errors),
        }
        if self.rewrite is not None:  # conversations only: other rows stay as they were
            found["rewrite"] = self.rewrite
        if self.evidence_missing is not None:  # likewise: only where evidence is missing
            found["evidence_missing"] = self.evidence_missing
        return found

    @classmethod
    def from_json(cls, raw: object) -> QuestionResult:
        data = _Fields(raw)
        _version(data)
        qid = data.data.get("id")
        if not isinstance(qid, str) or not qid:
            raise RunError('a result row needs a non-empty "id" string')
        scores = data.data.get("scores")
        if not isinstance(scores, dict):
            raise RunError(
                f'question {qid!r} has no "scores" object; this run was written by an older '
                "`rag eval`, re-run it"
            )

        def wrong(name: str) -> Callable[[object], RunError]:
            return lambda value: RunError(
                f"question {qid!r}, score {name!r} must be a number or null, not {value!r}"
            )

        answer, perspectives, judge = (
            data.child(key) for key in ("answer", "perspectives", "judge")
        )
        return cls(
            id=qid,
            type=data.text("type"),
            question=data.text("question"),
            scores={str(name): _number(value, wrong(name)) for name, value in scores.items()},
            answer_keys=data.texts("answer_keys"),
            evidence=tuple(EvidenceSpan.from_json(e) for e in data.objects("evidence")),
            retrieved=tuple(
                RetrievedRecord.from_json(r, position)
                for position, r in enumerate(data.objects("retrieved"), 1)
            ),
            answer=AnswerRecord.from_json(answer) if answer else None,
            perspectives=PerspectivesRecord.from_json(perspectives) if perspectives else None,
            judge=JudgeRecord.from_json(judge) if judge else None,
            errors=data.texts("errors"),
            rewrite=data.opt_text("rewrite"),
            evidence_missing=data.opt_text("evidence_missing"),
        )


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Means of the metrics over some questions (one type, or all): `means[name]` is the
    mean over the `counts[name]` questions the metric applies to; a metric that applies to
    none of them is absent, never 0."""

    n: int = 0  # questions
    means: Mapping[str, float] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)

    def mean(self, name: str) -> float | None:
        return self.means.get(name)

    def count(self, name: str) -> int | None:
        return self.counts.get(name)

    def to_json(self) -> dict[str, Any]:
        """`{"n": 71, "recall": 0.894, "n_recall": 47, ...}`."""
        flat: dict[str, Any] = {"n": self.n}
        for name, value in self.means.items():
            flat[name] = value
            if name in self.counts:
                flat[f"n_{name}"] = self.counts[name]
        return flat

    @classmethod
    def from_json(cls, data: _Fields) -> Figures:
        means: dict[str, float] = {}
        counts: dict[str, int] = {}
        for key in data.data:
            if key == "n" or (key.startswith("n_") and key[2:] in data.data):
                continue
            value = data.number(key)
            if value is not None:
                means[key] = value
                if (count := data.opt_integer(f"n_{key}")) is not None:
                    counts[key] = count
        return cls(data.integer("n"), means, counts)


@dataclass(frozen=True)
class AnswersSummary:
    """The headline answer figures of a run (under the terminal table and in the UI)."""

    answer_key_hit_rate: float | None = None
    refusal_rate_unanswerable: float | None = None
    false_refusal_rate: float | None = None
    citation_validity: float | None = None
    citation_recall: float | None = None
    citation_precision: float | None = None
    quote_verbatim: float | None = None
    fallbacks: int = 0  # answers the chosen backend did not give (an LLM fault)
    n_keyed: int = 0
    n_answerable: int = 0
    n_unanswerable: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "answer_key_hit_rate": self.answer_key_hit_rate,
            "refusal_rate_unanswerable": self.refusal_rate_unanswerable,
            "false_refusal_rate": self.false_refusal_rate,
            "citation_validity": self.citation_validity,
            "citation_recall": self.citation_recall,
            "citation_precision": self.citation_precision,
            "quote_verbatim": self.quote_verbatim,
            "fallbacks": self.fallbacks,
            "n_keyed": self.n_keyed,
            "n_answerable": self.n_answerable,
            "n_unanswerable": self.n_unanswerable,
        }

    @classmethod
    def from_json(cls, data: _Fields) -> AnswersSummary:
        return cls(
            answer_key_hit_rate=data.number("answer_key_hit_rate"),
            refusal_rate_unanswerable=data.number("refusal_rate_unanswerable"),
            false_refusal_rate=data.number("false_refusal_rate"),
            citation_validity=data.number("citation_validity"),
            citation_recall=data.number("citation_recall"),
            citation_precision=data.number("citation_precision"),
            quote_verbatim=data.number("quote_verbatim"),
            fallbacks=data.integer("fallbacks"),
            n_keyed=data.integer("n_keyed"),
            n_answerable=data.integer("n_answerable"),
            n_unanswerable=data.integer("n_unanswerable"),
        )


@dataclass(frozen=True)
class PerspectivesSummary:
    """Totals of the author comparisons over a run (`summarise_perspectives`)."""

    n_comparative: int = 0
    author_coverage: float | None = None
    n_gold_authors: int = 0
    attribution: float | None = None
    n_attribution_checks: int = 0
    false_addresses: int = 0
    false_address_rate: float | None = None
    n_addressed: int = 0
    n_unanswerable: int = 0
    addressed_rate_unanswerable: float | None = None
    with_agreements: float | None = None
    with_divergences: float | None = None
    compare_p50_ms: float | None = None
    mean_authors_addressing: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "n_comparative": self.n_comparative,
            "author_coverage": self.author_coverage,
            "n_gold_authors": self.n_gold_authors,
            "attribution": self.attribution,
            "n_attribution_checks": self.n_attribution_checks,
            "false_addresses": self.false_addresses,
            "false_address_rate": self.false_address_rate,
            "n_addressed": self.n_addressed,
            "n_unanswerable": self.n_unanswerable,
            "addressed_rate_unanswerable": self.addressed_rate_unanswerable,
            "with_agreements": self.with_agreements,
            "with_divergences": self.with_divergences,
            "compare_p50_ms": self.compare_p50_ms,
            "mean_authors_addressing": self.mean_authors_addressing,
        }

    @classmethod
    def from_json(cls, data: _Fields) -> PerspectivesSummary:
        return cls(
            n_comparative=data.integer("n_comparative"),
            author_coverage=data.number("author_coverage"),
            n_gold_authors=data.integer("n_gold_authors"),
            attribution=data.number("attribution"),
            n_attribution_checks=data.integer("n_attribution_checks"),
            false_addresses=data.integer("false_addresses"),
            false_address_rate=data.number("false_address_rate"),
            n_addressed=data.integer("n_addressed"),
            n_unanswerable=data.integer("n_unanswerable"),
            addressed_rate_unanswerable=data.number("addressed_rate_unanswerable"),
            with_agreements=data.number("with_agreements"),
            with_divergences=data.number("with_divergences"),
            compare_p50_ms=data.number("compare_p50_ms"),
            mean_authors_addressing=data.number("mean_authors_addressing"),
        )


@dataclass(frozen=True)
class JudgeSummary:
    """The judge's figures over a run: means over the non-None values (None never counts
    as 0), how many questions each covers, and the failures per metric."""

    model: str | None = None
    n: int = 0
    faithfulness: float | None = None
    n_faithfulness: int = 0
    answer_relevance: float | None = None
    n_answer_relevance: int = 0
    parse_failures: Mapping[str, int] = field(default_factory=dict)
    llm_failures: Mapping[str, int] = field(default_factory=dict)
    requests: int = 0
    cached: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n": self.n,
            "faithfulness": self.faithfulness,
            "n_faithfulness": self.n_faithfulness,
            "answer_relevance": self.answer_relevance,
            "n_answer_relevance": self.n_answer_relevance,
            "parse_failures": dict(self.parse_failures),
            "llm_failures": dict(self.llm_failures),
            "requests": self.requests,
            "cached": self.cached,
        }

    @classmethod
    def from_json(cls, data: _Fields) -> JudgeSummary:
        return cls(
            model=data.opt_text("model"),
            n=data.integer("n"),
            faithfulness=data.number("faithfulness"),
            n_faithfulness=data.integer("n_faithfulness"),
            answer_relevance=data.number("answer_relevance"),
            n_answer_relevance=data.integer("n_answer_relevance"),
            parse_failures=data.counts("parse_failures"),
            llm_failures=data.counts("llm_failures"),
            requests=data.integer("requests"),
            cached=data.integer("cached"),
        )


@dataclass(frozen=True)
class Latency:
    """Percentiles of the per-question wall times, in ms (None: nothing timed)."""

    search_p50: float | None = None
    search_p95: float | None = None
    answer_p50: float | None = None
    answer_p95: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "search_p50": self.search_p50,
            "search_p95": self.search_p95,
            "answer_p50": self.answer_p50,
            "answer_p95": self.answer_p95,
        }

    @classmethod
    def from_json(cls, data: _Fields) -> Latency:
        return cls(
            data.number("search_p50"),
            data.number("search_p95"),
            data.number("answer_p50"),
            data.number("answer_p95"),
        )


@dataclass(frozen=True)
class Tokens:
    """Tokens the LLM server reported over a run (never estimated)."""

    prompt: int
    completion: int
    questions_counted: int

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "completion": self.completion,
            "questions_counted": self.questions_counted,
        }

    @classmethod
    def from_json(cls, data: _Fields) -> Tokens:
        return cls(
            data.integer("prompt"), data.integer("completion"), data.integer("questions_counted")
        )


@dataclass(frozen=True)
class IndexCounts:
    documents: int
    chunks: int

    def to_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "chunks": self.chunks}

    @classmethod
    def from_json(cls, data: _Fields) -> IndexCounts:
        return cls(data.integer("documents"), data.integer("chunks"))


@dataclass(frozen=True)
class RunSummary:
    """What a run measured, as summary.json holds it: the settings that decide the
    figures, the figures by question type and overall, and the answers, perspectives,
    judge, latency and token summaries."""

    eval_set: str = ""  # "set" in JSON
    k: int | None = None
    backend: str = ""
    created: str = ""  # ISO timestamp, to the second
    duration_s: float | None = None
    n_questions: int = 0
    settings: Mapping[str, SettingValue] = field(default_factory=dict)
    index: IndexCounts | None = None
    overall: Figures = field(default_factory=Figures)
    by_type: Mapping[str, Figures] = field(default_factory=dict)
    answers: AnswersSummary | None = None  # None: a retrieval-only run
    perspectives: PerspectivesSummary | None = None
    judge: JudgeSummary | None = None  # None: no --judge
    latency: Latency = field(default_factory=Latency)  # "latency_ms" in JSON
    tokens: Tokens | None = None  # None: no LLM reported any

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "set": self.eval_set,
            "k": self.k,
            "backend": self.backend,
            "created": self.created,
            "duration_s": self.duration_s,
            "n_questions": self.n_questions,
            "settings": dict(self.settings),
            "index": self.index.to_json() if self.index else None,
            "overall": self.overall.to_json(),
            "by_type": {name: figures.to_json() for name, figures in self.by_type.items()},
            "answers": self.answers.to_json() if self.answers else None,
            "perspectives": self.perspectives.to_json() if self.perspectives else None,
            "judge": self.judge.to_json() if self.judge else None,
            "latency_ms": self.latency.to_json(),
            "tokens": self.tokens.to_json() if self.tokens else None,
        }

    @classmethod
    def from_json(cls, raw: object) -> RunSummary:
        data = _Fields(raw)
        _version(data)
        parts = {
            key: data.child(key)
            for key in ("index", "overall", "answers", "perspectives", "judge", "latency_ms")
        }
        by_type = data.child("by_type")
        tokens = data.child("tokens")
        overall, latency = parts["overall"], parts["latency_ms"]
        return cls(
            eval_set=data.text("set"),
            k=data.opt_integer("k"),
            backend=data.text("backend"),
            created=data.text("created"),
            duration_s=data.number("duration_s"),
            n_questions=data.integer("n_questions"),
            settings=data.setting_values("settings"),
            index=IndexCounts.from_json(parts["index"]) if parts["index"] else None,
            overall=Figures.from_json(overall) if overall else Figures(),
            by_type={
                name: Figures.from_json(_Fields(figures, by_type.where(name)))
                for name, figures in by_type.data.items()
            }
            if by_type
            else {},
            answers=AnswersSummary.from_json(parts["answers"]) if parts["answers"] else None,
            perspectives=PerspectivesSummary.from_json(parts["perspectives"])
            if parts["perspectives"]
            else None,
            judge=JudgeSummary.from_json(parts["judge"]) if parts["judge"] else None,
            latency=Latency.from_json(latency) if latency else Latency(),
            tokens=Tokens.from_json(tokens) if tokens else None,
        )


@dataclass(frozen=True)
class EvalRun:
    """A run as `run_eval` returns it: the summary and one result per question."""

    summary: RunSummary
    rows: tuple[QuestionResult, ...]

    def by_id(self) -> dict[str, QuestionResult]:
        return {row.id: row for row in self.rows}


def rows_by_type(rows: Sequence[QuestionResult]) -> dict[str, list[QuestionResult]]:
    """The rows grouped by question type, types in alphabetical order."""
    grouped: dict[str, list[QuestionResult]] = {}
    for row in rows:
        grouped.setdefault(row.type, []).append(row)
    return dict(sorted(grouped.items()))

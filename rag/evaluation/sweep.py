"""`rag eval sweep`: run one eval set over a small grid of settings and rank them.

Settings the index depends on (chunk size and overlap, the embedding model) are built as
index variants in a temporary folder from the same source files as the real index, which
is only read. Every other setting, and k, reuses one index per variant. One embedder with
a text cache serves all variants, so a sentence is embedded once for the whole sweep."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rag.embeddings import CachedEmbedder, Embedder
from rag.errors import ConfigError
from rag.evaluation.records import Figures
from rag.evaluation.runner import run_eval
from rag.evaluation.scores import BY_NAME, metric
from rag.settings import Settings

# Short names users type, for the settings they stand for.
ALIASES = {
    "chunk_size": "chunk_tokens",
    "chunk_overlap": "chunk_overlap_tokens",
    "overlap": "chunk_overlap_tokens",
}
INDEX_FIELDS = ("chunk_tokens", "chunk_overlap_tokens", "embedding_model")
NOT_SWEPT = ("index_dir", "collection", "corpus_dir", "prompts_dir", "llm_api_key", "backend")

Config = dict[str, object]  # setting name (or "k") -> value, checked against Settings
Grid = dict[str, list[object]]


def parse_grid(text: str) -> Grid:
    """`chunk_size=120,160,k=3,5,fusion=rrf,weighted` -> {chunk_tokens: [120, 160], ...}.

    A comma separates values; a token with `=` starts the next setting. Values are checked
    against the Settings field they set, so a typo fails before anything is built."""
    grid: Grid = {}
    current: str | None = None
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if "=" in token:
            name, _, token = token.partition("=")
            current = ALIASES.get(name.strip(), name.strip())
            if current in grid:
                raise ConfigError(f"--grid: {name.strip()!r} is given twice")
            _check_name(current, name.strip())
            grid[current] = []
        if current is None:
            raise ConfigError(f"--grid: {token!r} has no setting name (write name=value,value)")
        grid[current].append(_convert(current, token.strip()))
    if not grid:
        raise ConfigError("--grid is empty (e.g. --grid chunk_size=120,160,k=3,5)")
    return grid


def _check_name(field: str, typed: str) -> None:
    if field == "k":
        return
    if field not in Settings.model_fields or field in NOT_SWEPT:
        known = ", ".join(
            ["k", *ALIASES, *(f for f in Settings.model_fields if f not in NOT_SWEPT)]
        )
        raise ConfigError(f"--grid: {typed!r} is not a setting that can be swept; known: {known}")


def _convert(field: str, value: str) -> object:
    annotation: Any = int if field == "k" else Settings.model_fields[field].annotation
    try:
        converted = TypeAdapter(annotation).validate_strings(value)
    except ValidationError as error:
        reason = error.errors()[0]["msg"]
        raise ConfigError(f"--grid: {field}={value!r}: {reason}") from error
    if field == "k" and converted < 1:
        raise ConfigError(f"--grid: k={value!r}: k must be 1 or more")
    return converted


def configurations(grid: Mapping[str, Sequence[object]]) -> list[Config]:
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


@dataclass(frozen=True)
class SweepRow:
    config: Config
    figures: Figures  # the run's overall figures
    score: float | None  # the chosen metric, overall
    chunks: int

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "score": self.score,
            "chunks": self.chunks,
            "overall": self.figures.to_json(),
        }


@dataclass(frozen=True)
class SweepResult:
    metric: str
    rows: tuple[SweepRow, ...]  # best first; configurations without the metric last

    @property
    def best(self) -> SweepRow | None:
        return self.rows[0] if self.rows and self.rows[0].score is not None else None

    def to_json(self) -> dict[str, Any]:
        """What `rag eval sweep --json` prints."""
        return {
            "metric": self.metric,
            "best": self.best.config if self.best else None,
            "rows": [row.to_json() for row in self.rows],
        }


def rank(rows: Sequence[SweepRow], metric_name: str) -> list[SweepRow]:
    """Best first by the metric's direction; rows without a value last, order kept."""
    sign = -1.0 if metric(metric_name).higher_is_better else 1.0
    scored = sorted((r for r in rows if r.score is not None), key=lambda r: sign * (r.score or 0))
    return scored + [r for r in rows if r.score is None]


def run_sweep(
    settings: Settings,
    eval_set: Path,
    grid: Mapping[str, Sequence[object]],
    *,
    metric_name: str,
    embedder: Embedder,
    k: int,
    answers: bool,
    make_assistant: Callable[[Settings, Embedder], Any],
    progress: Callable[[int, int, Config], None] | None = None,
) -> SweepResult:
    """Every configuration of the grid, scored on the eval set, ranked by `metric_name`."""
    metric(metric_name)  # unknown names fail before any work
    if BY_NAME[metric_name].group == "judge":
        raise ConfigError("a sweep ranks by offline metrics; judge metrics cost a model call each")
    cached = CachedEmbedder(embedder)
    real = make_assistant(settings, cached).index  # read only
    sources = sorted({Path(d.meta.source) for d in real.documents.values()})
    configs = configurations(grid)
    rows: list[SweepRow] = []
    index_variants: dict[tuple[object, ...], Settings] = {}
    with tempfile.TemporaryDirectory(prefix="rag-sweep-") as workdir:
        for number, config in enumerate(configs, 1):
            if progress:
                progress(number - 1, len(configs), config)
            overrides = {f: v for f, v in config.items() if f != "k"}
            variant = settings.model_copy(update=overrides)
            index_key = tuple(config.get(f) for f in INDEX_FIELDS)
            if any(f in config for f in INDEX_FIELDS):
                if index_key not in index_variants:
                    built = variant.model_copy(
                        update={"index_dir": Path(workdir) / f"variant-{len(index_variants)}"}
                    )
                    make_assistant(built, cached).ingest(sources, rebuild=True)
                    index_variants[index_key] = built
                variant = variant.model_copy(
                    update={"index_dir": index_variants[index_key].index_dir}
                )
            assistant = make_assistant(variant, cached)
            run_k = config.get("k", k)
            run = run_eval(
                assistant, eval_set, k=run_k if isinstance(run_k, int) else k, answers=answers
            )
            figures = run.summary.overall
            rows.append(
                SweepRow(
                    config=config,
                    figures=figures,
                    score=figures.mean(metric_name),
                    chunks=run.summary.index.chunks if run.summary.index else 0,
                )
            )
        if progress:
            progress(len(configs), len(configs), {})
    return SweepResult(metric=metric_name, rows=tuple(rank(rows, metric_name)))


def env_assignments(config: Mapping[str, object]) -> str:
    """The configuration as the environment variables (and flag) that apply it."""
    parts = [f"RAG_{name.upper()}={value}" for name, value in config.items() if name != "k"]
    if "k" in config:
        parts.append(f"RAG_TOP_K={config['k']}")
    return " ".join(parts)


# The JSON of `rag eval sweep --json`, under the name callers import.
sweep_dict = SweepResult.to_json

"""Saved evaluation runs: eval/runs/<timestamp>/summary.json + results.jsonl, and the
tables the Evaluate tab shows (metrics by type, deltas between two runs).

The figures themselves come from rag.evaluation.runner; this module only stores, lists
and lays them out."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.evaluation.runner import NDCG_AT

RETRIEVAL_METRICS = ("recall", "mrr", f"ndcg@{NDCG_AT}", "doc_coverage")
ANSWER_METRICS = (
    "answer_key_hit_rate",
    "refusal_rate_unanswerable",
    "false_refusal_rate",
    "citation_validity",
)
_RUN_NAME = re.compile(r"^\d{8}T\d{6}(-\d+)?$")


def metric_headers(k: int) -> list[str]:
    return ["type", "n", f"recall@{k}", "MRR", f"nDCG@{NDCG_AT}", f"doc coverage@{k}"]


def metric_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    """One row per question type, then `overall` (figures to three decimals)."""
    rows = []
    for name, figures in [*summary["by_type"].items(), ("overall", summary["overall"])]:
        if not figures.get("n"):
            continue
        rows.append([name, figures["n"], *(f"{figures[m]:.3f}" for m in RETRIEVAL_METRICS)])
    return rows


def recall_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": name, "recall": figures["recall"]}
        for name, figures in summary["by_type"].items()
        if figures.get("n")
    ]


def save_run(summary: Mapping[str, Any], runs_dir: Path, now: datetime | None = None) -> Path:
    """Write a run as <runs_dir>/<YYYYmmddTHHMMSS>/{summary.json,results.jsonl}."""
    stamp = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    runs_dir.mkdir(parents=True, exist_ok=True)
    target, suffix = runs_dir / stamp, 1
    while target.exists():
        suffix += 1
        target = runs_dir / f"{stamp}-{suffix}"
    target.mkdir()
    head = {key: value for key, value in summary.items() if key != "questions"}
    (target / "summary.json").write_text(
        json.dumps(head, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    with (target / "results.jsonl").open("w", encoding="utf-8") as out:
        for row in summary.get("questions", []):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


def list_runs(runs_dir: Path) -> list[tuple[str, str]]:
    """(label, name) of the saved runs, newest first."""
    runs = []
    if runs_dir.is_dir():
        for path in runs_dir.iterdir():
            if path.is_dir() and _RUN_NAME.match(path.name) and (path / "summary.json").is_file():
                runs.append(path.name)
    labelled = []
    for name in sorted(runs, reverse=True):
        try:
            head = load_summary(runs_dir, name)
        except (OSError, ValueError):
            continue
        when = datetime.strptime(name[:15], "%Y%m%dT%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
        label = f"{when} · {Path(str(head.get('set', '?'))).name} · k={head.get('k')} · " + str(
            head.get("backend")
        )
        labelled.append((label, name))
    return labelled


def load_summary(runs_dir: Path, name: str) -> dict[str, Any]:
    if not _RUN_NAME.match(name):  # a name from the dropdown, never a path
        raise ValueError(f"not a run name: {name!r}")
    data = json.loads((runs_dir / name / "summary.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{name}: summary.json is not an object")
    return data


def _figure(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _row(scope: str, metric: str, a: float | None, b: float | None) -> list[Any]:
    """[scope, metric, A, B, B − A] with the figures as text ("+0.050"; "–" when absent)."""
    integer = metric == "n"

    def show(value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:.0f}" if integer else f"{value:.3f}"

    if a is None or b is None:
        return [scope, metric, show(a), show(b), "–"]
    delta = f"{b - a:+.0f}" if integer else f"{b - a:+.3f}"
    return [scope, metric, show(a), show(b), delta]


def delta_rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[list[Any]]:
    """[scope, metric, A, B, B − A] for every figure the two runs share a scope for."""
    rows: list[list[Any]] = []
    scopes: list[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]] = [
        ("overall", a.get("overall"), b.get("overall"))
    ]
    types: Sequence[str] = sorted(set(a.get("by_type", {})) | set(b.get("by_type", {})))
    scopes += [(t, a.get("by_type", {}).get(t), b.get("by_type", {}).get(t)) for t in types]
    for scope, fa, fb in scopes:
        for metric in ("n", *RETRIEVAL_METRICS):
            va = _figure((fa or {}).get(metric))
            vb = _figure((fb or {}).get(metric))
            if va is not None or vb is not None:
                rows.append(_row(scope, metric, va, vb))
    answers_a, answers_b = a.get("answers") or {}, b.get("answers") or {}
    for metric in ANSWER_METRICS:
        va, vb = _figure(answers_a.get(metric)), _figure(answers_b.get(metric))
        if va is not None or vb is not None:
            rows.append(_row("answers", metric, va, vb))
    return rows

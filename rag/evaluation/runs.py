"""Run folders: where `rag eval` and the Evaluate tab keep what they measured.

    <runs_dir>/<YYYYmmddTHHMMSS>/summary.json + results.jsonl + report.html

A folder is written under a temporary name and renamed into place, so a run that fails
half-way leaves no half-written folder that `rag eval compare` would read.

This is the only module that reads or writes those files: the records of
`rag.evaluation.records` convert to and from their JSON, and every fault in a file is
reported here with the file, the line and the field."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rag.errors import RunError
from rag.evaluation.records import EvalRun, QuestionResult, RunSummary
from rag.evaluation.report import render_report
from rag.jsonlines import json_objects

RUN_NAME = re.compile(r"^\d{8}T\d{6}(-\d+)?$")
SUMMARY_FILE = "summary.json"
RESULTS_FILE = "results.jsonl"
REPORT_FILE = "report.html"


def new_run_dir(runs_dir: Path, now: datetime | None = None) -> Path:
    """A fresh <runs_dir>/<timestamp> path (suffixed -2, -3… when taken); not created."""
    stamp = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    target, suffix = runs_dir / stamp, 1
    while target.exists():
        suffix += 1
        target = runs_dir / f"{stamp}-{suffix}"
    return target


def check_free(target: Path) -> None:
    """A run goes to a new or empty folder only (checked before a run, and when saving)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RunError(f"{target} already exists and is not empty; choose another --out folder")


def save_run(run: EvalRun, target: Path) -> Path:
    """Write summary.json, results.jsonl (one row per question) and report.html.

    `target` must not exist yet, or be an empty folder: a run never overwrites another."""
    check_free(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        (staging / SUMMARY_FILE).write_text(
            json.dumps(run.summary.to_json(), ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
        with (staging / RESULTS_FILE).open("w", encoding="utf-8") as out:
            for row in run.rows:
                out.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
        (staging / REPORT_FILE).write_text(render_report(run.summary, run.rows), encoding="utf-8")
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def list_runs(runs_dir: Path) -> list[tuple[str, str]]:
    """(label, name) of the saved runs under runs_dir, newest first."""
    names = []
    if runs_dir.is_dir():
        for path in runs_dir.iterdir():
            if path.is_dir() and RUN_NAME.match(path.name) and (path / "summary.json").is_file():
                names.append(path.name)
    labelled = []
    for name in sorted(names, reverse=True):
        try:
            head = load_summary(runs_dir, name)
        except RunError:
            continue  # listed runs are the readable ones; `rag eval compare` names the fault
        when = datetime.strptime(name[:15], "%Y%m%dT%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
        label = f"{when} · {Path(head.eval_set or '?').name} · k={head.k} · {head.backend}"
        labelled.append((label, name))
    return labelled


def run_name(name: str) -> str:
    """`name` if it is a run's name (as list_runs gives), never a path; else RunError."""
    if not RUN_NAME.match(name):
        raise RunError(f"not a run name: {name!r}")
    return name


def load_summary(runs_dir: Path, name: str) -> RunSummary:
    """summary.json of the run called `name` (a name from list_runs, never a path)."""
    return _load_summary(runs_dir / run_name(name) / SUMMARY_FILE, "re-run `rag eval`")


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run(EvalRun):
    """One saved eval run: its folder, `summary.json` and the rows of `results.jsonl`."""

    path: Path = Path()

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)


def load_run(path: Path) -> Run:
    """Read a run folder written by `rag eval`; raise `RunError` naming the file (and line)."""
    path = Path(path)
    hint = f"pass a run folder written by `rag eval` (it holds {SUMMARY_FILE} and {RESULTS_FILE})"
    if not path.exists():
        raise RunError(f"run folder {path} does not exist; {hint}")
    if not path.is_dir():
        raise RunError(f"{path} is a file, not a run folder; {hint}")
    summary = _load_summary(path / SUMMARY_FILE, hint)
    rows = _load_rows(path / RESULTS_FILE, hint)
    return Run(summary=summary, rows=rows, path=path)


def _read(file: Path, hint: str) -> str:
    if not file.is_file():
        raise RunError(f"{file} is missing; {hint}")
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunError(f"cannot read {file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RunError(f"{file} is not UTF-8 text ({exc.reason}); {hint}") from exc


def _load_summary(file: Path, hint: str) -> RunSummary:
    text = _read(file, hint)
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunError(
            f"{file}:{exc.lineno}: not valid JSON ({exc.msg}); re-run `rag eval` to rewrite it"
        ) from exc
    if not isinstance(summary, dict):
        raise RunError(f"{file}: expected a JSON object, found {type(summary).__name__}")
    try:
        return RunSummary.from_json(summary)
    except RunError as exc:
        raise RunError(f"{file}: {exc}; fix the file or re-run `rag eval`") from exc


def _load_rows(file: Path, hint: str) -> tuple[QuestionResult, ...]:
    text = _read(file, hint)
    rows: list[QuestionResult] = []
    seen: dict[str, int] = {}
    hint = "fix or delete that line, or re-run `rag eval`"
    for number, record in json_objects(text, file, RunError, hint):
        where = f"{file}:{number}"
        try:
            row = QuestionResult.from_json(record)
        except RunError as exc:
            raise RunError(f"{where}: {exc}") from exc
        if row.id in seen:
            raise RunError(f"{where}: question id {row.id!r} already used on line {seen[row.id]}")
        seen[row.id] = number
        rows.append(row)
    if not rows:
        raise RunError(f"{file} holds no results; re-run `rag eval`")
    return tuple(rows)


def write_report(run_dir: Path) -> Path:
    """Render a saved run's report.html again (after a report change, say), atomically:
    a reader never sees half a report."""
    run = load_run(run_dir)
    target = run.path / REPORT_FILE
    descriptor, temporary = tempfile.mkstemp(dir=run.path, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(render_report(run.summary, run.rows))
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target

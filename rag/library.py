"""The document library's files: uploads copied into the corpus folder (type- and
size-checked, rolled back when the ingest cannot read them), and removal of a document's
file. Indexing itself is an incremental ingest of the corpus folder, passed in by the
facade (`rag.assistant.Assistant.add_documents` / `remove_document`), which also makes
sure only one of these runs at a time."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rag.errors import RagError
from rag.indexing import IngestReport, Skipped
from rag.ingest import SUPPORTED_SUFFIXES
from rag.store import LoadedIndex
from rag.types import DocumentMeta

UPLOAD_SUFFIXES: tuple[str, ...] = tuple(sorted(SUPPORTED_SUFFIXES))

Outcome = Literal["added", "updated", "not added", "refused", "skipped"]


class LibraryError(RagError):
    """A document cannot be removed from the library (named, with the reason)."""


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: `detail` is the corpus file name it was stored as
    (added, updated) or the reason it was not (not added, refused) or was skipped (a file
    already in the corpus folder that does not ingest)."""

    name: str
    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class AddReport:
    files: tuple[FileOutcome, ...]
    ingest: IngestReport | None  # None when nothing was indexed
    error: str | None = None  # why indexing failed (every upload was rolled back)


@dataclass(frozen=True)
class Removal:
    doc_id: str
    file: Path
    removed: bool  # the document has left the index
    error: str | None = None  # the file was deleted but re-indexing failed


Ingest = Callable[[], IngestReport]


def safe_name(name: str) -> str | None:
    """A plain file name for the corpus folder: no folders, no leading dots, tame characters."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:120]
    if not stem or suffix not in SUPPORTED_SUFFIXES:
        return None
    return f"{stem}{suffix}"


@dataclass
class Staged:
    """Uploads placed in the corpus folder, with what they replaced (to roll back)."""

    placed: dict[Path, str] = field(default_factory=dict)  # corpus path -> name as uploaded
    backups: dict[Path, Path] = field(default_factory=dict)  # corpus path -> saved old copy
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    _backup_dir: Path | None = None

    def backup_dir(self) -> Path:
        if self._backup_dir is None:
            self._backup_dir = Path(tempfile.mkdtemp(prefix="rag-upload-backup-"))
        return self._backup_dir

    def cleanup(self) -> None:
        if self._backup_dir is not None:
            shutil.rmtree(self._backup_dir, ignore_errors=True)
            self._backup_dir = None


def _refusal(source: Path, max_bytes: int) -> str | None:
    """Why an upload cannot go into the corpus folder, or None when it can."""
    if safe_name(source.name) is None:
        return f"unsupported file type; accepted: {', '.join(UPLOAD_SUFFIXES)}"
    try:
        size = source.stat().st_size
    except OSError as exc:
        return f"cannot read the upload ({exc.strerror})"
    if size > max_bytes:
        return f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit"
    if size == 0:
        return "the file is empty"
    return None


def stage_uploads(uploads: Sequence[str | Path], corpus_dir: Path, max_bytes: int) -> Staged:
    """Copy the acceptable uploads into the corpus folder; refuse the others with a reason."""
    staged = Staged()
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for upload in uploads:
        source = Path(upload)
        reason = _refusal(source, max_bytes)
        name = safe_name(source.name) or ""
        target = corpus_dir / name
        if reason is None and target in staged.placed:
            reason = f"another upload in this batch is also named {name}"
        if reason is not None:
            staged.refused.append((source.name, reason))
            continue
        if target.exists():
            backup = staged.backup_dir() / name
            shutil.copy2(target, backup)
            staged.backups[target] = backup
        shutil.copyfile(source, target)
        staged.placed[target] = source.name
    return staged


def settle(staged: Staged, report: IngestReport) -> tuple[FileOutcome, ...]:
    """After the ingest: roll back uploads it skipped (so the corpus folder matches the
    index), and say what became of each upload."""
    skipped = {Path(s.path).resolve(): s.reason for s in report.skipped}
    outcomes: list[FileOutcome] = []
    for target, shown in staged.placed.items():
        reason = skipped.pop(target.resolve(), None)
        if reason is None:
            verb: Outcome = "updated" if target in staged.backups else "added"
            outcomes.append(FileOutcome(shown, verb, target.name))
            continue
        backup = staged.backups.get(target)
        if backup is not None:
            shutil.copyfile(backup, target)
        else:
            target.unlink(missing_ok=True)
        outcomes.append(FileOutcome(shown, "not added", reason))
    outcomes += [FileOutcome(name, "refused", reason) for name, reason in staged.refused]
    # files already in the folder that do not ingest
    outcomes += [FileOutcome(path.name, "skipped", reason) for path, reason in skipped.items()]
    staged.cleanup()
    return tuple(outcomes)


def add_files(
    uploads: Sequence[str | Path], corpus_dir: Path, max_bytes: int, ingest: Ingest
) -> AddReport:
    """Place the uploads in the corpus folder, index it, and roll back what did not ingest
    (all of them when indexing itself fails)."""
    staged = stage_uploads(uploads, corpus_dir, max_bytes)
    if not staged.placed:
        return AddReport(settle(staged, _skipping()), None)
    try:
        report = ingest()
    except RagError as error:
        rolled_back = _skipping(*(Skipped(str(p), str(error)) for p in staged.placed))
        return AddReport(settle(staged, rolled_back), None, str(error))
    return AddReport(settle(staged, report), report)


def _skipping(*skipped: Skipped) -> IngestReport:
    """A report of an ingest that did nothing but skip these files."""
    return IngestReport((), (), (), (), skipped, 0, 0, 0.0, False)


def document_file(index: LoadedIndex, doc_id: str, corpus_dir: Path) -> tuple[DocumentMeta, Path]:
    """The corpus file a document was ingested from; LibraryError when it is not one."""
    document = index.documents.get(doc_id)
    if document is None:
        raise LibraryError(f"{doc_id} is not in the index")
    path = Path(document.meta.source).resolve()
    root = corpus_dir.resolve()
    if not path.is_relative_to(root):
        raise LibraryError(
            f"{doc_id} was not ingested from the corpus folder ({corpus_dir}); it is removed "
            "only by re-ingesting the folder it came from"
        )
    if not path.is_file():
        raise LibraryError(f"the file of {doc_id} ({path.name}) is no longer in the corpus folder")
    return document.meta, path


def remove_file(index: LoadedIndex, doc_id: str, corpus_dir: Path, ingest: Ingest) -> Removal:
    """Delete a document's corpus file (after the checks of `document_file`) and re-index."""
    _meta, path = document_file(index, doc_id, corpus_dir)
    path.unlink()
    try:
        report = ingest()
    except RagError as error:
        return Removal(doc_id, path, removed=False, error=str(error))
    return Removal(doc_id, path, removed=doc_id in report.removed)

"""The Library tab's file handling: uploads copied into the corpus folder (type- and
size-checked, rolled back when the ingest cannot read them), and removal of a document's
file. Indexing itself is `Assistant.ingest` over the corpus folder (incremental)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.indexing import IngestReport
from rag.ingest import SUPPORTED_SUFFIXES
from rag.store import LoadedIndex

UPLOAD_SUFFIXES: tuple[str, ...] = tuple(sorted(SUPPORTED_SUFFIXES))


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


def stage_uploads(uploads: Sequence[str | Path], corpus_dir: Path, max_bytes: int) -> Staged:
    """Copy the acceptable uploads into the corpus folder; refuse the others with a reason."""
    staged = Staged()
    corpus_dir.mkdir(parents=True, exist_ok=True)
    kinds = ", ".join(UPLOAD_SUFFIXES)
    for upload in uploads:
        source = Path(upload)
        shown = source.name
        name = safe_name(shown)
        if name is None:
            staged.refused.append((shown, f"unsupported file type; accepted: {kinds}"))
            continue
        try:
            size = source.stat().st_size
        except OSError as exc:
            staged.refused.append((shown, f"cannot read the upload ({exc.strerror})"))
            continue
        if size > max_bytes:
            staged.refused.append(
                (shown, f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit")
            )
            continue
        if size == 0:
            staged.refused.append((shown, "the file is empty"))
            continue
        target = corpus_dir / name
        if target in staged.placed:
            staged.refused.append((shown, f"another upload in this batch is also named {name}"))
            continue
        if target.exists():
            backup = staged.backup_dir() / name
            shutil.copy2(target, backup)
            staged.backups[target] = backup
        shutil.copyfile(source, target)
        staged.placed[target] = shown
    return staged


def settle(staged: Staged, report: IngestReport) -> list[tuple[str, str]]:
    """After the ingest: roll back uploads it skipped (so the corpus folder matches the
    index), and say what happened to each upload as (kind, message) lines."""
    skipped = {Path(s.path).resolve(): s.reason for s in report.skipped}
    lines: list[tuple[str, str]] = []
    for target, shown in staged.placed.items():
        reason = skipped.pop(target.resolve(), None)
        if reason is None:
            verb = "updated" if target in staged.backups else "added"
            lines.append(("ok", f"{shown}: {verb} as {target.name}"))
            continue
        backup = staged.backups.get(target)
        if backup is not None:
            shutil.copyfile(backup, target)
        else:
            target.unlink(missing_ok=True)
        lines.append(("error", f"{shown}: not added — {reason}"))
    for name, reason in staged.refused:
        lines.append(("error", f"{name}: refused — {reason}"))
    for path, reason in skipped.items():  # files already in the folder that do not ingest
        lines.append(("warn", f"{path.name} (already in the corpus folder): skipped — {reason}"))
    staged.cleanup()
    return lines


def document_file(index: LoadedIndex, doc_id: str, corpus_dir: Path) -> Path:
    """The corpus file a document was ingested from; ValueError when it is not one."""
    document = index.documents.get(doc_id)
    if document is None:
        raise ValueError(f"{doc_id} is not in the index")
    path = Path(document.meta.source).resolve()
    root = corpus_dir.resolve()
    if not path.is_relative_to(root):
        raise ValueError(
            f"{doc_id} was not ingested from the corpus folder ({corpus_dir}); it is removed "
            "only by re-ingesting the folder it came from"
        )
    if not path.is_file():
        raise ValueError(f"the file of {doc_id} ({path.name}) is no longer in the corpus folder")
    return path


def display_file(source: str, corpus_dir: Path) -> str:
    path = Path(source).resolve()
    try:
        return str(path.relative_to(corpus_dir.resolve()))
    except ValueError:
        return path.name

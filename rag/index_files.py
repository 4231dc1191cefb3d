"""The light half of an index generation: where the live one is, its manifest and its
document table. Listing documents (`rag docs`, the app's Library) reads only these, so it
never loads FAISS, BM25, the vectors or the chunks, nor imports numpy or the model: its
cost is the document table's, whatever the number of chunks (rag.store reads the rest).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import IndexCorruptError, IndexNotFoundError, IndexSchemaError
from rag.types import Document, DocumentMeta

SCHEMA_VERSION = (
    5  # 4: columnar, memory-mapped; 5: per-line document offsets, source names, sentence words
)
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"


@dataclass(frozen=True)
class DocumentEntry:
    """A document of the index as listed: its chunk count and where its file is. The
    document's text is not read for a listing (`document.text` is empty)."""

    document: Document
    chunks: int
    file: str  # relative to the corpus folder, or the file name when outside it

    @property
    def meta(self) -> DocumentMeta:
        return self.document.meta


def display_file(source: str, corpus_dir: Path) -> str:
    """A document's file relative to the corpus folder, or its name when outside it."""
    path = Path(source).resolve()
    try:
        return str(path.relative_to(corpus_dir.resolve()))
    except ValueError:
        return path.name


def current_generation(collection_dir: Path) -> Path:
    pointer = collection_dir / CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(
            f"no index at {collection_dir}; build one with `rag ingest` (or `make demo`)"
        )
    name = pointer.read_text(encoding="utf-8").strip()
    folder = collection_dir / name
    if not name.startswith("gen-") or not folder.is_dir():
        raise IndexCorruptError(
            f"{pointer} names generation {name!r}, which does not exist; "
            "rebuild with `rag ingest --rebuild`"
        )
    return folder


def read_manifest(generation: Path) -> dict[str, Any]:
    path = generation / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"{path} is missing; rebuild with `rag ingest --rebuild`") from exc
    except json.JSONDecodeError as exc:
        raise IndexCorruptError(f"{path} is not valid JSON ({exc}); rebuild the index") from exc
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IndexSchemaError(
            f"{path} has schema version {version}, this program reads {SCHEMA_VERSION}; "
            "rebuild with `rag ingest --rebuild`",
            version,
            older=isinstance(version, int) and version < SCHEMA_VERSION,
        )
    return manifest


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(
    generation: Path, manifest: dict[str, Any], name: str, *, hash_it: bool = True
) -> None:
    """The file exists with the size and (when `hash_it`) the checksum the manifest gives it."""
    facts = manifest.get("files", {}).get(name)
    if facts is None:
        raise IndexCorruptError(f"{generation / MANIFEST} does not list {name}")
    path = generation / name
    if not path.is_file():
        raise IndexCorruptError(f"{path} is missing; rebuild with `rag ingest --rebuild`")
    size = path.stat().st_size
    if size != facts["bytes"]:
        raise IndexCorruptError(
            f"{path} has {size} bytes, the manifest says {facts['bytes']} (truncated or "
            "changed); rebuild with `rag ingest --rebuild`"
        )
    if hash_it and sha256(path) != facts["sha256"]:
        raise IndexCorruptError(
            f"{path} does not match its checksum in the manifest (corrupted or edited); "
            "rebuild with `rag ingest --rebuild`"
        )


def read_jsonl(path: Path) -> list[Any]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise IndexCorruptError(f"{path}: line {number} is not valid JSON ({exc})") from exc
    return rows


def document_from_row(row: dict[str, Any]) -> Document:
    fields = {k: row[k] for k in DocumentMeta.__dataclass_fields__}
    headings = tuple((int(offset), str(title)) for offset, title in row["headings"])
    return Document(meta=DocumentMeta(**fields), text=row.get("text", ""), headings=headings)


def read_documents(generation: Path, corpus_dir: Path) -> list[DocumentEntry]:
    """A generation's documents in index order, with their chunk counts (from the
    manifest), checked against the manifest as a full load checks them."""
    manifest = read_manifest(generation)
    check_file(generation, manifest, DOCUMENTS)
    documents = [document_from_row(r) for r in read_jsonl(generation / DOCUMENTS)]
    listed: dict[str, dict[str, Any]] = manifest.get("documents", {})
    counts = manifest.get("counts", {})
    if len(documents) != counts.get("documents") or {d.doc_id for d in documents} != set(listed):
        raise IndexCorruptError(
            f"the index at {generation} is inconsistent: {generation / DOCUMENTS} holds "
            f"{len(documents)} documents that do not match the manifest's "
            f"{counts.get('documents')}; rebuild with `rag ingest --rebuild`"
        )
    return [
        DocumentEntry(d, int(listed[d.doc_id]["chunks"]), display_file(d.meta.source, corpus_dir))
        for d in documents
    ]

"""Incremental ingest: files -> Documents -> Chunks -> embeddings -> a new index generation.

Work is proportional to what changed: an unchanged file (same content hash, same catalog
entry) is not even re-read; a metadata-only change re-uses chunks and vectors; a changed
file replaces its chunks; a file that disappeared from an ingested folder leaves the index.
A file that cannot be ingested is reported and skipped, and whatever the index held for
it stays as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import (
    ChunkerConfig,
    chunk_document,
    context_header,
    indexed_text,
    sentence_spans,
)
from rag.embeddings import Embedder, Vectors
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, IngestError
from rag.ingest import SUPPORTED_SUFFIXES, Catalog, load_catalog, load_document
from rag.settings import Settings
from rag.store import IndexConfig, LoadedIndex, load_index, write_generation, writer_lock
from rag.types import Chunk, Document
from rag.wordmatch import vocabulary

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    documents: int
    chunks: int
    seconds: float
    wrote: bool  # False when nothing changed and no new generation was written
    rebuilt_because: str | None = None

    @property
    def ok(self) -> bool:
        return not self.skipped


@dataclass(frozen=True)
class _Entry:
    """A document as it will stand in the new generation, with its chunks and vectors."""

    document: Document
    chunks: tuple[Chunk, ...]
    vectors: Vectors
    catalog: dict[str, Any] | None
    sentences: tuple[tuple[int, int], ...]
    sentence_vectors: Vectors


def doc_id_for(path: Path) -> str:
    """Stable id: the slug of the file name, so re-ingesting finds the same document."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")


def discover(paths: Sequence[Path], catalog_name: str) -> tuple[list[Path], list[Skipped]]:
    """Files to ingest under the given paths (folders recursively, hidden files skipped)."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for root in paths:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
                if not path.is_file() or hidden or path.name == catalog_name:
                    continue
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(path)
                else:
                    skipped.append(Skipped(str(path), _unsupported(path)))
        elif root.is_file():
            if root.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(root)
            else:
                skipped.append(Skipped(str(root), _unsupported(root)))
        else:
            skipped.append(Skipped(str(root), "no such file or folder"))
    return files, skipped


def _unsupported(path: Path) -> str:
    kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
    return f"unsupported file type {path.suffix or '(none)'!r}; supported: {kinds}"


def _display(path: Path) -> str:
    """Paths are stored relative to the working folder when inside it, so indexes move."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def _is_under(source: str, roots: Iterable[Path]) -> bool:
    resolved = Path(source).resolve()
    return any(resolved == r or r in resolved.parents for r in roots)


def _sha256_bytes(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _catalog_dict(catalog: Catalog, path: Path) -> dict[str, Any] | None:
    entry = catalog.entry_for(path.name)
    if entry is None:
        return None
    return dataclasses.asdict(entry) if dataclasses.is_dataclass(entry) else dict(vars(entry))


def _existing_entries(index: LoadedIndex) -> dict[str, _Entry]:
    by_doc: dict[str, list[int]] = {}
    for row, chunk in enumerate(index.chunks):
        by_doc.setdefault(chunk.doc_id, []).append(row)
    sentences_by_doc: dict[str, list[int]] = {}
    for row, (doc_id, _, _) in enumerate(index.sentences):
        sentences_by_doc.setdefault(doc_id, []).append(row)
    catalogs = index.manifest.get("catalog", {})
    return {
        doc_id: _Entry(
            document,
            tuple(index.chunks[r] for r in by_doc.get(doc_id, [])),
            index.embeddings[by_doc.get(doc_id, [])],
            catalogs.get(doc_id),
            tuple(index.sentences[r][1:] for r in sentences_by_doc.get(doc_id, [])),
            index.sentence_embeddings[sentences_by_doc.get(doc_id, [])],
        )
        for doc_id, document in index.documents.items()
    }


def searchable_sentences(document: Document, min_words: int = 4) -> list[tuple[int, int]]:
    """Sentences worth a vector of their own (not headings or fragments)."""
    text = document.text
    return [(a, b) for a, b in sentence_spans(text) if len(text[a:b].split()) >= min_words]


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    get_embedder: Callable[[], Embedder],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the collection in line with the files under `paths`."""
    started = time.perf_counter()
    notify = progress or (lambda stage, done, total: None)
    collection_dir = settings.collection_dir
    with writer_lock(collection_dir):
        existing_index: LoadedIndex | None
        try:
            existing_index = load_index(collection_dir)
        except IndexNotFoundError:
            existing_index = None
        except (IndexCorruptError, IndexMismatchError):
            if not rebuild:
                raise  # the message says to rebuild; we never overwrite it unasked
            existing_index = None
        old = _existing_entries(existing_index) if existing_index else {}

        embedder: Embedder | None = None

        def embedder_now() -> Embedder:
            nonlocal embedder
            if embedder is None:
                notify("loading embedding model", 0, 1)
                embedder = get_embedder()
                notify("loading embedding model", 1, 1)
            return embedder

        rebuilt_because = None
        if rebuild and old:
            rebuilt_because = "--rebuild was asked for"
        elif existing_index and existing_index.embedding_model != settings.embedding_model:
            rebuilt_because = (
                f"embedding model changed ({existing_index.embedding_model} -> "
                f"{settings.embedding_model})"
            )
        chunker = ChunkerConfig(
            settings.chunk_tokens, settings.chunk_overlap_tokens, model_max_tokens=0
        )
        if existing_index and not rebuilt_because:
            stored = existing_index.chunker
            if (
                stored.get("chunk_tokens"),
                stored.get("overlap_tokens"),
                stored.get("version"),
            ) != (
                chunker.chunk_tokens,
                chunker.overlap_tokens,
                chunker.as_dict()["version"],
            ):
                rebuilt_because = "chunker settings changed"
        reusable = {} if rebuilt_because else old

        files, skipped = discover(paths, settings.catalog_name)
        catalogs: dict[Path, Catalog] = {}
        new: dict[str, _Entry] = {}
        sources: dict[str, str] = {}
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        to_embed: list[tuple[Document, dict[str, Any] | None]] = []
        for number, path in enumerate(files, 1):
            notify("reading files", number - 1, len(files))
            doc_id = doc_id_for(path)
            source = _display(path)
            try:
                if doc_id in sources:
                    raise IngestError(
                        path,
                        f"its document id {doc_id!r} is also that of {sources[doc_id]}; "
                        "rename one of the files",
                    )
                if path.parent not in catalogs:
                    catalogs[path.parent] = load_catalog(path.parent / settings.catalog_name)
                catalog_entry = _catalog_dict(catalogs[path.parent], path)
                previous = reusable.get(doc_id)
                previous_source = Path(previous.document.meta.source) if previous else None
                if (
                    previous_source
                    and previous_source.resolve() != path.resolve()
                    and previous_source.exists()
                ):
                    raise IngestError(
                        path,
                        f"its document id {doc_id!r} is taken by {previous_source}; "
                        "rename one of the files",
                    )
                content_hash = _sha256_bytes(path)
                if (
                    previous
                    and previous.document.meta.content_hash == content_hash
                    and previous.catalog == catalog_entry
                    and previous.document.meta.source == source
                ):
                    new[doc_id] = previous
                    unchanged.append(doc_id)
                else:
                    document = load_document(
                        path, catalog=catalogs[path.parent], max_bytes=settings.max_file_bytes
                    )
                    document = dataclasses.replace(
                        document,
                        meta=dataclasses.replace(document.meta, doc_id=doc_id, source=source),
                    )
                    (updated if doc_id in old else added).append(doc_id)
                    if (
                        previous
                        and previous.document.text == document.text
                        and context_header(previous.document.meta) == context_header(document.meta)
                    ):
                        new[doc_id] = dataclasses.replace(
                            previous, document=document, catalog=catalog_entry
                        )
                    else:
                        to_embed.append((document, catalog_entry))
                sources[doc_id] = source
            except IngestError as error:
                skipped.append(Skipped(str(path), error.reason))
                if doc_id in old and doc_id not in new:
                    new[doc_id] = old[doc_id]  # keep what the index had for it, untouched
            except OSError as error:
                skipped.append(Skipped(str(path), f"cannot read it ({error.strerror})"))
                if doc_id in old and doc_id not in new:
                    new[doc_id] = old[doc_id]
        notify("reading files", len(files), len(files))

        roots = [p.resolve() for p in paths if p.exists()]
        removed = []
        for doc_id, entry in old.items():
            if doc_id in new:
                continue
            if (
                _is_under(entry.document.meta.source, roots)
                and not Path(entry.document.meta.source).exists()
            ):
                removed.append(doc_id)
            else:
                new[doc_id] = entry  # outside what was ingested now: kept as is

        if to_embed or (rebuilt_because and new):
            model = embedder_now()
            chunker = ChunkerConfig(
                settings.chunk_tokens, settings.chunk_overlap_tokens, model.max_tokens
            )
            if rebuilt_because:
                pending_ids = {d.doc_id for d, _ in to_embed}
                to_embed = [
                    (e.document, e.catalog)
                    for e in new.values()
                    if e.document.doc_id not in pending_ids
                ] + to_embed
            pending = [
                (d, c, chunk_document(d, model.count_tokens, chunker, context_header(d.meta)))
                for d, c in to_embed
            ]
            total = sum(len(chunks) for _, _, chunks in pending)
            done = 0
            for document, catalog_entry, chunks in pending:
                header = context_header(document.meta)
                vectors = model.embed([indexed_text(c.text, header) for c in chunks])
                sentences = searchable_sentences(document)
                sentence_vectors = model.embed([document.text[a:b] for a, b in sentences])
                done += len(chunks)
                notify("embedding chunks", done, total)
                new[document.doc_id] = _Entry(
                    document,
                    tuple(chunks),
                    vectors,
                    catalog_entry,
                    tuple(sentences),
                    sentence_vectors,
                )
            dimension, model_name = model.dimension, model.name
        elif existing_index:
            dimension, model_name = existing_index.dimension, existing_index.embedding_model
            chunker = ChunkerConfig(
                settings.chunk_tokens,
                settings.chunk_overlap_tokens,
                existing_index.chunker["model_max_tokens"],
            )
        else:
            dimension, model_name = 0, settings.embedding_model

        changed = bool(added or updated or removed or rebuilt_because)
        entries = [new[k] for k in sorted(new)]
        if changed:
            notify("writing index", 0, 1)
            chunks = [c for e in entries for c in e.chunks]
            vectors = (
                np.concatenate([e.vectors for e in entries])
                if chunks
                else np.zeros((0, dimension), dtype=np.float32)
            )
            sentence_rows = [(e.document.doc_id, a, b) for e in entries for a, b in e.sentences]
            sentence_vectors = (
                np.concatenate([e.sentence_vectors for e in entries])
                if sentence_rows
                else np.zeros((0, dimension), dtype=np.float32)
            )
            words = vocabulary(e.document.text[a:b] for e in entries for a, b in e.sentences)
            known = (
                {}
                if rebuilt_because or existing_index is None
                else dict(zip(existing_index.words, existing_index.word_embeddings, strict=True))
            )
            missing = [w for w in words if w not in known]
            if missing:
                notify("embedding words", 0, len(missing))
                known.update(zip(missing, embedder_now().embed(missing), strict=True))
                notify("embedding words", len(missing), len(missing))
            word_vectors = (
                np.stack([known[w] for w in words])
                if words
                else np.zeros((0, dimension), dtype=np.float32)
            )
            generation = write_generation(
                collection_dir,
                [e.document for e in entries],
                chunks,
                vectors,
                IndexConfig(model_name, dimension, chunker.as_dict(), settings.hnsw_min_chunks),
                sentences=sentence_rows,
                sentence_embeddings=sentence_vectors,
                words=words,
                word_embeddings=word_vectors,
                extra_manifest={"catalog": {e.document.doc_id: e.catalog for e in entries}},
            )
            notify("writing index", 1, 1)
            del generation
        return IngestReport(
            added=tuple(added),
            updated=tuple(updated),
            unchanged=tuple(unchanged),
            removed=tuple(sorted(removed)),
            skipped=tuple(skipped),
            documents=len(entries),
            chunks=sum(len(e.chunks) for e in entries),
            seconds=time.perf_counter() - started,
            wrote=changed,
            rebuilt_because=rebuilt_because,
        )

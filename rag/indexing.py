"""Incremental ingest: files -> Documents -> Chunks -> embeddings -> a new index generation.

Work is proportional to what changed: an unchanged file (same content hash, same catalog
entry) is not even re-read; a metadata-only change re-uses chunks and vectors; a changed
file replaces its chunks; a file that disappeared from an ingested folder leaves the index.
A file that cannot be ingested is reported and skipped, and whatever the index held for
it stays as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from rag.chunking import (
    ChunkerConfig,
    HeaderTooLongError,
    chunk_document,
    context_header,
    indexed_text,
    sentence_spans,
)
from rag.embeddings import Embedder, Vectors, batch_size_for
from rag.errors import (
    CatalogError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexSchemaError,
    IngestError,
)
from rag.ingest import SUPPORTED_SUFFIXES, Catalog, doc_id_for, load_catalog
from rag.ingest.worker import IsolatedLoader, Limits
from rag.settings import Settings
from rag.store import IndexConfig, LoadedIndex, load_index, write_generation, writer_lock
from rag.types import Chunk, Document
from rag.vector_spool import Spooled, SpooledVectors, VectorSpool, remove_stale_spools
from rag.wordmatch import vocabulary

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class FileLoader(Protocol):
    """Reads one file into a Document or raises IngestError (`IsolatedLoader`)."""

    def load(self, path: Path, catalog: Catalog, max_bytes: int) -> Document: ...


@dataclass(frozen=True)
class Skipped:
    """A file (or link, folder, catalog) the ingest did not read, and why: one line."""

    path: str
    reason: str

    def __post_init__(self) -> None:
        # Library messages (YAML, pypdf) span lines; a report line must not.
        object.__setattr__(self, "reason", " ".join(self.reason.split()))


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
    vectors: Vectors | Spooled  # Spooled: embedded by this run, on disk until commit
    catalog: dict[str, Any] | None
    sentences: tuple[tuple[int, int], ...]
    sentence_vectors: Vectors | Spooled


def discover(
    paths: Sequence[Path], catalog_name: str, *, follow_external_links: bool = False
) -> tuple[list[Path], list[Skipped]]:
    """Files to ingest under the given paths, and what was passed over and why.

    Folders are walked recursively; hidden entries and catalogs are passed over quietly.
    Everything else that is not read is reported: unsupported types, broken links, link
    loops, links that lead out of the folder (unless `follow_external_links`), folders
    named like a document, and entries that are not regular files (a FIFO would block
    the read forever). A path given by name is read wherever it points."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for root in paths:
        try:
            mode = root.stat().st_mode
        except OSError as error:
            skipped.append(Skipped(str(root), _unreachable(root, error, "no such file or folder")))
            continue
        if stat.S_ISDIR(mode):
            _walk(root, catalog_name, follow_external_links, files, skipped)
        else:
            _add_file(root, mode, files, skipped)
    return files, skipped


def _walk(
    root: Path,
    catalog_name: str,
    follow_external_links: bool,
    files: list[Path],
    skipped: list[Skipped],
) -> None:
    """One ingested folder, depth first without recursion (a deep tree is no stack risk)."""
    real_root = root.resolve()
    visited = {real_root}
    found: list[Path] = []
    passed: list[Skipped] = []
    stack: list[tuple[Path, frozenset[Path]]] = [(root, frozenset({real_root}))]
    while stack:
        folder, ancestors = stack.pop()
        try:
            names = sorted(entry.name for entry in os.scandir(folder))
        except OSError as error:
            passed.append(Skipped(str(folder), f"cannot list the folder ({error.strerror})"))
            continue
        for name in names:
            if name.startswith(".") or name == catalog_name:
                continue
            path = folder / name
            try:
                mode = path.stat().st_mode
            except OSError as error:
                passed.append(Skipped(str(path), _unreachable(path, error, "it vanished")))
                continue
            real = path.resolve()
            if path.is_symlink() and not follow_external_links and not _inside(real, real_root):
                passed.append(Skipped(str(path), _external_link(real, root)))
                continue
            if not stat.S_ISDIR(mode):
                _add_file(path, mode, found, passed)
            elif real in ancestors:
                passed.append(Skipped(str(path), f"a link loop: it leads back to {real}"))
            elif real in visited:
                passed.append(
                    Skipped(str(path), f"a link to {real}, a folder this ingest reads already")
                )
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                passed.append(
                    Skipped(
                        str(path),
                        f"a folder, not a {path.suffix} file; rename it (or ingest it by name) "
                        "to read the files in it",
                    )
                )
            else:
                visited.add(real)
                stack.append((path, ancestors | {real}))
    files.extend(sorted(found))
    skipped.extend(sorted(passed, key=lambda s: s.path))


def _add_file(path: Path, mode: int, files: list[Path], skipped: list[Skipped]) -> None:
    if not stat.S_ISREG(mode):
        skipped.append(
            Skipped(str(path), "not a regular file (a FIFO, socket or device); only files are read")
        )
    elif path.suffix.lower() in SUPPORTED_SUFFIXES:
        files.append(path)
    else:
        skipped.append(Skipped(str(path), _unsupported(path)))


def _unreachable(path: Path, error: OSError, missing: str) -> str:
    """Why `path` (which the folder listing named, or the user gave) cannot be opened."""
    if error.errno == errno.ELOOP:
        return "a link loop (the link leads back to itself); remove or fix the link"
    if path.is_symlink():
        if error.errno == errno.ENOENT:
            target = os.readlink(path)
            return f"a broken link (its target {target} does not exist); remove or fix it"
        return f"a link whose target cannot be read ({error.strerror})"
    if error.errno == errno.ENOENT:
        return missing
    return f"cannot read it ({error.strerror})"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _external_link(target: Path, root: Path) -> str:
    return (
        f"a link to {target}, outside the ingested folder {root}; such links are not followed "
        "(allow them with --follow-external-links or RAG_FOLLOW_EXTERNAL_LINKS=1)"
    )


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
    """What the live index holds per document, read through its per-document rows."""
    catalogs = index.manifest.get("catalog", {})
    entries = {}
    for doc_id, document in index.documents.items():
        rows = index.rows_of(doc_id)
        sentence_rows = index.sentence_rows_of(doc_id)
        entries[doc_id] = _Entry(
            document,
            tuple(index.chunks[int(r)] for r in rows),
            _rows_of(index.embeddings, rows),
            catalogs.get(doc_id),
            tuple(index.sentences[int(r)][1:] for r in sentence_rows),
            _rows_of(index.sentence_embeddings, sentence_rows),
        )
    return entries


def _rows_of(vectors: Vectors, rows: npt.NDArray[np.int64]) -> Vectors:
    """The vectors of these rows: a view of the memory-mapped file when they are
    consecutive (as the store writes a document's), read into memory only when written."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
        view: Vectors = vectors[int(rows[0]) : int(rows[-1]) + 1]
        return view
    picked: Vectors = np.asarray(vectors[rows])
    return picked


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
    """Bring the collection in line with the files under `paths`: plan (what the index
    holds, whether it must be rebuilt), load (read what changed), embed (only what needs
    new vectors), commit (write a new generation if anything changed)."""
    started = time.perf_counter()
    notify = progress or _silent
    get_embedder = functools.cache(get_embedder)  # embedding steps share one model load
    with writer_lock(settings.collection_dir), contextlib.ExitStack() as cleanup:
        remove_stale_spools(settings.collection_dir)
        plan = _plan(settings, rebuild=rebuild)
        files, skipped = discover(
            paths, settings.catalog_name, follow_external_links=settings.follow_external_links
        )
        limits = Limits(settings.ingest_file_timeout_s, settings.ingest_file_memory_mb)
        with IsolatedLoader(limits) as loader:  # started for the first file that is read
            loaded = _load(files, plan, settings, loader, notify)
        entries, removed = _settle_removed(plan.old, loaded.entries, paths)
        unchunked: dict[str, Skipped] = {}  # doc_id -> why its chunk header leaves no room
        embeds = bool(loaded.to_embed or (plan.rebuilt_because and entries))
        if embeds:
            notify("loading embedding model", 0, 1)
            embedder = get_embedder()
            notify("loading embedding model", 1, 1)
            spool = cleanup.enter_context(
                contextlib.closing(VectorSpool(settings.collection_dir, embedder.dimension))
            )
            embed_texts = _engine(settings, embedder, cleanup)
            entries, config = _embed(
                loaded.to_embed,
                entries,
                plan,
                embedder,
                settings,
                notify,
                unchunked,
                spool,
                embed_texts,
            )
        else:
            config = _config_as_stored(plan, settings)
        changed = bool(loaded.added or loaded.updated or removed or plan.rebuilt_because)
        if changed:
            words = _word_table(
                entries, plan, get_embedder, config.dimension, notify, settings.embedding_batch_size
            )
            backends = _backends(plan, settings.embedding_backend if embeds else None)
            _commit(settings.collection_dir, entries, config, words, backends, notify, settings)
        return IngestReport(
            added=tuple(d for d in loaded.added if d not in unchunked),
            updated=tuple(d for d in loaded.updated if d not in unchunked),
            unchanged=loaded.unchanged,
            removed=removed,
            skipped=(*skipped, *loaded.skipped, *unchunked.values()),
            documents=len(entries),
            chunks=sum(len(e.chunks) for e in entries.values()),
            seconds=time.perf_counter() - started,
            wrote=changed,
            rebuilt_because=plan.rebuilt_because,
        )


def _silent(stage: str, done: int, total: int) -> None:
    pass


# --- plan: what the index holds and how much of it may be reused ----------------------------


@dataclass(frozen=True)
class _Plan:
    existing: LoadedIndex | None
    old: dict[str, _Entry]  # doc_id -> what the index holds for it
    rebuilt_because: str | None  # set: nothing is reused, every document is embedded anew

    @property
    def reusable(self) -> dict[str, _Entry]:
        return {} if self.rebuilt_because else self.old


def _plan(settings: Settings, *, rebuild: bool = False) -> _Plan:
    """Read the live index (if any) and decide whether it must be rebuilt."""
    try:
        existing: LoadedIndex | None = load_index(settings.collection_dir, settings=settings)
    except IndexNotFoundError:
        existing = None
    except IndexSchemaError as error:
        if not (rebuild or error.older):
            raise  # written by a newer rag: not ours to overwrite
        # An older format holds nothing the source files cannot give again: rebuild it
        # (the old generation serves until the new one is committed).
        return _Plan(None, {}, None if rebuild else f"index format {error.version} is outdated")
    except (IndexCorruptError, IndexMismatchError):
        if not rebuild:
            raise  # the message says to rebuild; we never overwrite it unasked
        existing = None
    old = _existing_entries(existing) if existing else {}
    if rebuild and old:
        return _Plan(existing, old, "--rebuild was asked for")
    return _Plan(existing, old, _stale_because(existing, settings))


def _stale_because(existing: LoadedIndex | None, settings: Settings) -> str | None:
    """Why vectors or chunks of `existing` cannot serve `settings`, or None."""
    if existing is None:
        return None
    if existing.embedding_model != settings.embedding_model:
        return f"embedding model changed ({existing.embedding_model} -> {settings.embedding_model})"
    wanted = ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens, 0).as_dict()
    stored = existing.chunker
    if any(stored.get(k) != wanted[k] for k in ("chunk_tokens", "overlap_tokens", "version")):
        return "chunker settings changed"
    return None


# --- load: read the files that changed ----------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """The files read: entries that stand as they are, documents that need vectors, and
    what happened to each file."""

    entries: dict[str, _Entry]
    to_embed: tuple[tuple[Document, dict[str, Any] | None], ...]
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True)
class _Read:
    """One file: its `entry` when chunks and vectors can be reused, else the `document` to
    chunk and embed."""

    unchanged: bool
    entry: _Entry | None
    document: Document | None = None
    catalog: dict[str, Any] | None = None


def _load(
    files: Sequence[Path],
    plan: _Plan,
    settings: Settings,
    loader: FileLoader,
    notify: Progress,
) -> _Loaded:
    catalogs: dict[Path, Catalog | None] = {}  # None: the folder's catalog is unreadable
    sources: dict[str, str] = {}  # doc_id -> the file it came from in this run
    entries: dict[str, _Entry] = {}
    to_embed: list[tuple[Document, dict[str, Any] | None]] = []
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    skipped: list[Skipped] = []
    for number, path in enumerate(files, 1):
        notify("reading files", number - 1, len(files))
        doc_id = doc_id_for(path)
        try:
            if doc_id in sources:
                raise IngestError(
                    path,
                    f"its document id {doc_id!r} is also that of {sources[doc_id]}; "
                    "rename one of the files",
                )
            if path.parent not in catalogs:
                catalogs[path.parent] = _folder_catalog(path.parent, settings, skipped)
            catalog = catalogs[path.parent]
            if catalog is None:  # reported once for the folder; the index keeps the file's
                if doc_id in plan.old:
                    entries[doc_id] = plan.old[doc_id]
                continue
            read = _read(path, doc_id, catalog, plan, settings, loader)
        except IngestError as error:
            skipped.append(Skipped(str(path), error.reason))
        except OSError as error:
            skipped.append(Skipped(str(path), f"cannot read it ({error.strerror})"))
        else:
            sources[doc_id] = _display(path)
            if read.unchanged:
                unchanged.append(doc_id)
            else:
                (updated if doc_id in plan.old else added).append(doc_id)
            if read.entry is not None:
                entries[doc_id] = read.entry
            elif read.document is not None:
                to_embed.append((read.document, read.catalog))
            continue
        if doc_id in plan.old and doc_id not in entries:
            entries[doc_id] = plan.old[doc_id]  # keep what the index had for it, untouched
    notify("reading files", len(files), len(files))
    return _Loaded(
        entries, tuple(to_embed), tuple(added), tuple(updated), tuple(unchanged), tuple(skipped)
    )


def _folder_catalog(folder: Path, settings: Settings, skipped: list[Skipped]) -> Catalog | None:
    """The folder's catalog, or None (reported as skipped) when it cannot be read: its
    files then wait, unread, for a fixed catalog rather than being indexed without it."""
    path = folder / settings.catalog_name
    try:
        return load_catalog(path)
    except CatalogError as error:
        reason = str(error).removeprefix(f"{path}: ")
        skipped.append(
            Skipped(
                str(path),
                f"{reason}; the files in its folder were not read (the index keeps what it "
                "had for them)",
            )
        )
        return None


def _read(
    path: Path,
    doc_id: str,
    catalog: Catalog,
    plan: _Plan,
    settings: Settings,
    loader: FileLoader,
) -> _Read:
    """Decide what one file needs, reading it only when its hash or catalog entry changed."""
    source = _display(path)
    catalog_entry = _catalog_dict(catalog, path)
    previous = plan.reusable.get(doc_id)
    if previous is not None:
        previous_source = Path(previous.document.meta.source)
        if previous_source.resolve() != path.resolve() and previous_source.exists():
            raise IngestError(
                path,
                f"its document id {doc_id!r} is taken by {previous_source}; "
                "rename one of the files",
            )
        if (
            previous.document.meta.content_hash == _sha256_bytes(path)
            and previous.catalog == catalog_entry
            and previous.document.meta.source == source
        ):
            return _Read(unchanged=True, entry=previous)
    document = loader.load(path, catalog, settings.max_file_bytes)
    document = dataclasses.replace(
        document, meta=dataclasses.replace(document.meta, doc_id=doc_id, source=source)
    )
    if (
        previous is not None
        and previous.document.text == document.text
        and context_header(previous.document.meta) == context_header(document.meta)
    ):  # only metadata the index does not see changed: chunks and vectors stand
        entry = dataclasses.replace(previous, document=document, catalog=catalog_entry)
        return _Read(unchanged=False, entry=entry)
    return _Read(unchanged=False, entry=None, document=document, catalog=catalog_entry)


def _settle_removed(
    old: dict[str, _Entry], entries: dict[str, _Entry], paths: Sequence[Path]
) -> tuple[dict[str, _Entry], tuple[str, ...]]:
    """A document the run did not see leaves the index when its file is gone from a folder
    ingested now; one from elsewhere stays as it is."""
    roots = [p.resolve() for p in paths if p.exists()]
    kept = dict(entries)
    removed = []
    for doc_id, entry in old.items():
        if doc_id in kept:
            continue
        source = entry.document.meta.source
        if _is_under(source, roots) and not Path(source).exists():
            removed.append(doc_id)
        else:
            kept[doc_id] = entry
    return kept, tuple(sorted(removed))


# --- embed: chunks and vectors for what changed (everything on a rebuild) -------------------


def _embed(
    to_embed: Sequence[tuple[Document, dict[str, Any] | None]],
    entries: dict[str, _Entry],
    plan: _Plan,
    model: Embedder,
    settings: Settings,
    notify: Progress,
    skipped: dict[str, Skipped],
    spool: VectorSpool,
    embed_texts: EmbedTexts,
) -> tuple[dict[str, _Entry], IndexConfig]:
    chunker = ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens, model.max_tokens)
    pending = list(to_embed)
    if plan.rebuilt_because:
        fresh = {d.doc_id for d, _ in pending}
        kept = [(e.document, e.catalog) for e in entries.values() if e.document.doc_id not in fresh]
        pending = kept + pending
    chunked: list[_Chunked] = []
    embedded = dict(entries)
    for document, catalog_entry in pending:
        try:
            chunks = chunk_document(document, model.count_tokens, chunker)
        except HeaderTooLongError as error:  # kept out, like a file that cannot be read
            skipped[document.doc_id] = Skipped(document.meta.source, str(error))
            if document.doc_id in plan.reusable:
                embedded[document.doc_id] = plan.reusable[document.doc_id]
            else:
                embedded.pop(document.doc_id, None)
            continue
        sentences = tuple(searchable_sentences(document))
        chunked.append(_Chunked(document, catalog_entry, tuple(chunks), sentences))
    # Documents in steps of about `ingest_batch_texts` texts: each step's distinct texts
    # in one longest-first pass (like lengths batch together, across documents), its
    # vectors appended to the spool, so memory holds one step's texts and vectors. A text
    # seen in an earlier step (a sentence that is a whole chunk, boilerplate repeated
    # across documents) is not embedded again: its spool row is reused.
    total = sum(len(c.chunks) + len(c.sentences) for c in chunked)
    seen: dict[bytes, int] = {}  # digest of a text -> its spool row
    done = 0
    notify("embedding texts", 0, total)
    for step in _steps(chunked, settings.ingest_batch_texts):
        texts = [
            (
                [indexed_text(c.text, item.document.meta) for c in item.chunks],
                [item.document.text[a:b] for a, b in item.sentences],
            )
            for item in step
        ]
        rows: dict[str, int] = {}
        new: list[str] = []
        for text in dict.fromkeys(t for pair in texts for part in pair for t in part):
            row = seen.get(_digest(text))
            if row is None:
                new.append(text)
            else:
                rows[text] = row
        first = spool.append(embed_texts(new, _shifted(notify, done, total)))
        for row, text in enumerate(new, first):
            seen[_digest(text)] = rows[text] = row
        for item, (chunk_texts, sentence_texts) in zip(step, texts, strict=True):
            embedded[item.document.doc_id] = _Entry(
                item.document,
                item.chunks,
                Spooled(spool, np.array([rows[t] for t in chunk_texts], dtype=np.int64)),
                item.catalog,
                item.sentences,
                Spooled(spool, np.array([rows[t] for t in sentence_texts], dtype=np.int64)),
            )
        done += sum(len(c) + len(s) for c, s in texts)
        notify("embedding texts", done, total)
    config = IndexConfig(model.name, model.dimension, chunker.as_dict(), settings.vector_store)
    return embedded, config


EmbedTexts = Callable[[list[str], Progress], Vectors]  # distinct texts -> their vectors


def _engine(settings: Settings, model: Embedder, cleanup: contextlib.ExitStack) -> EmbedTexts:
    """How a step's texts are embedded: here (RAG_INGEST_ENGINE=local) or on Ray workers,
    which load their own embedder (`model` still counts tokens for chunking here)."""
    if settings.ingest_engine == "ray":
        from rag.ray_engine import RayEmbedding  # Ray only when asked for

        ray = cleanup.enter_context(contextlib.closing(RayEmbedding(settings)))
        return lambda texts, notify: ray.embed(texts, model.dimension, notify, "embedding texts")
    batch_size = settings.embedding_batch_size
    return lambda texts, notify: embed_distinct(texts, model, batch_size, notify).vectors


@dataclass(frozen=True)
class _Chunked:
    """A document to embed: its chunks and searchable sentences (spans in its text)."""

    document: Document
    catalog: dict[str, Any] | None
    chunks: tuple[Chunk, ...]
    sentences: tuple[tuple[int, int], ...]

    @property
    def texts(self) -> int:
        return len(self.chunks) + len(self.sentences)


def _steps(chunked: Sequence[_Chunked], limit: int) -> Iterable[list[_Chunked]]:
    """Consecutive documents holding about `limit` texts (a larger document: alone)."""
    step: list[_Chunked] = []
    count = 0
    for item in chunked:
        if step and count + item.texts > limit:
            yield step
            step, count = [], 0
        step.append(item)
        count += item.texts
    if step:
        yield step


def _shifted(notify: Progress, offset: int, total: int) -> Progress:
    """Progress of one step, reported as progress of the whole run."""

    def step(stage: str, done: int, _: int) -> None:
        notify(stage, min(offset + done, total), total)

    return step


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


@dataclass(frozen=True)
class TextVectors:
    """Vectors of distinct texts, looked up by text."""

    rows: dict[str, int]
    vectors: Vectors

    def vectors_of(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        return self.vectors[[self.rows[t] for t in texts]]


def embed_distinct(
    texts: Iterable[str],
    model: Embedder,
    batch_size: int,
    notify: Progress,
    stage: str = "embedding texts",
) -> TextVectors:
    """Each distinct text embedded once, longest first, in slices of a few batches of
    like length (short texts go in larger batches, see `batch_size_for`); `notify` after
    each slice, so progress moves, and shows a rate, while the model works."""
    distinct = list(dict.fromkeys(texts))
    order = sorted(range(len(distinct)), key=lambda i: -len(distinct[i]))
    vectors = np.zeros((len(distinct), model.dimension), dtype=np.float32)
    notify(stage, 0, len(distinct))
    start = 0
    while start < len(order):
        # The embedder's own batch size for texts this long, a few batches at a time.
        count = batch_size_for(len(distinct[order[start]]), batch_size) * _SLICE_BATCHES
        rows = order[start : start + count]
        vectors[rows] = model.embed([distinct[i] for i in rows])
        start += len(rows)
        notify(stage, start, len(distinct))
    return TextVectors({text: row for row, text in enumerate(distinct)}, vectors)


_SLICE_BATCHES = 4  # batches per `embed_distinct` slice: one progress step


def _config_as_stored(plan: _Plan, settings: Settings) -> IndexConfig:
    """The index configuration when nothing was embedded: the live index's."""
    existing = plan.existing
    if existing is None:  # nothing to write either
        chunker = ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens, 0)
        return IndexConfig(settings.embedding_model, 0, chunker.as_dict(), settings.vector_store)
    chunker = ChunkerConfig(
        settings.chunk_tokens, settings.chunk_overlap_tokens, existing.chunker["model_max_tokens"]
    )
    return IndexConfig(
        existing.embedding_model, existing.dimension, chunker.as_dict(), settings.vector_store
    )


# --- commit: a new generation ---------------------------------------------------------------


def _word_table(
    entries: dict[str, _Entry],
    plan: _Plan,
    get_embedder: Callable[[], Embedder],
    dimension: int,
    notify: Progress,
    batch_size: int,
) -> tuple[list[str], Vectors]:
    """The collection's vocabulary with a vector per word, for soft word matching
    (rag.wordmatch): words the live index knows keep their vectors, only new ones are
    embedded (none after a removal: the model is then not even loaded)."""
    ordered = [entries[k] for k in sorted(entries)]
    words = vocabulary(e.document.text[a:b] for e in ordered for a, b in e.sentences)
    existing = plan.existing
    known: dict[str, Vectors] = (
        {}
        if plan.rebuilt_because or existing is None
        else dict(zip(existing.words, existing.word_embeddings, strict=True))
    )
    missing = [w for w in words if w not in known]
    if missing:
        embedder = get_embedder()
        table = embed_distinct(missing, embedder, batch_size, notify, "embedding words")
        known.update(zip(missing, table.vectors_of(missing), strict=True))
    vectors = np.stack([known[w] for w in words]) if words else np.zeros((0, dimension), np.float32)
    return words, vectors


def _backends(plan: _Plan, backend: str | None) -> list[str]:
    """The embedding backends whose vectors the new generation holds: an incremental ingest
    with another backend mixes them (close, see `warn_on_backend_mismatch`); a rebuild
    holds one. Indexes from before the setting existed are torch's."""
    held: set[str] = set()
    if plan.existing is not None and not plan.rebuilt_because:
        held.update(plan.existing.manifest.get("embedding_backends", ["torch"]))
    return sorted(held | ({backend} if backend else set()))


def _commit(
    collection_dir: Path,
    entries: dict[str, _Entry],
    config: IndexConfig,
    words: tuple[list[str], Vectors],
    backends: list[str],
    notify: Progress,
    settings: Settings,
) -> None:
    notify("writing index", 0, 1)
    ordered = [entries[k] for k in sorted(entries)]
    chunks = [c for e in ordered for c in e.chunks]
    vectors = SpooledVectors([e.vectors for e in ordered], config.dimension)
    sentence_rows = [(e.document.doc_id, a, b) for e in ordered for a, b in e.sentences]
    sentence_vectors = SpooledVectors([e.sentence_vectors for e in ordered], config.dimension)
    write_generation(
        collection_dir,
        [e.document for e in ordered],
        chunks,
        vectors,
        config,
        sentences=sentence_rows,
        sentence_embeddings=sentence_vectors,
        words=words[0],
        word_embeddings=words[1],
        extra_manifest={
            "catalog": {e.document.doc_id: e.catalog for e in ordered},
            "embedding_backends": backends,
        },
        settings=settings,
    )
    notify("writing index", 1, 1)

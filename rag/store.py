"""The on-disk index of one collection, laid out in columns so that a generation of a
million chunks opens in a fraction of a second: arrays are memory-mapped, texts are read
per document when asked for, and what consumers derive from the whole collection (which
chunks hold which sentences, IDF, the vocabulary's postings) is computed once, at ingest.
No pickle anywhere: JSON lines, .npy without object arrays, a UTF-8 blob, the vector
indexes' own formats (rag.vector_index) and bm25s's JSON + .npy files.

Layout (`index/<collection>/`)::

    CURRENT                 name of the live generation (swapped atomically)
    gen-<stamp>/            one complete, immutable generation
        manifest.json       schema version, model, chunker, vector index kinds, hashes and
                            counts of all files, each document's chunk count
        documents.jsonl     metadata and headings per document (no text: `rag docs` reads it)
        documents_offsets.npy  int64 (documents + 1): byte offset of each line of it, so
                            one document's metadata is read alone
        texts.bin           the documents' cleaned texts, UTF-8, one after another
        doc_offsets.npy     int64 (documents + 1): byte offset of each text in texts.bin
        chunks.npy          int64 (chunks x 5): document row, index, start, end, heading id
        headings.json       the distinct chunk headings (heading id -1: none)
        sentences.npy       int64 (sentences x 3): document row, start, end
        embeddings.npy      float32 (chunks x dimension), L2-normalised
        sentence_embeddings.npy  float32 (sentences x dimension), for sentence-level search
        words.jsonl         the sentences' vocabulary (rag.wordmatch), one word per line
        word_embeddings.npy float32 (words x dimension), for soft word matching
        <a>_<b>.npy, <a>_<b>_offsets.npy   CSR tables, for each a its b rows:
                            doc_chunks, doc_sentences, chunk_sentences, sentence_chunks,
                            word_sentences (the vocabulary's postings), sentence_words
                            (each sentence's vocabulary words), name_docs (the documents
                            each source name names)
        source_names.json   the names a question may cite a document by (rag.sources),
                            normalised, sorted; `name_docs` holds their documents
        idf.npy             float64, per BM25 vocabulary id: the IDF over the chunks
        lowercase.txt       words the texts write in lower case (rag.slots.lowercase_words)
        chunks.index        vector index over the chunk embeddings (kind in the manifest)
        sentences.index     vector index over the sentence embeddings
        bm25/               bm25s index over the chunk terms, loaded memory-mapped

A new generation is written completely beside the live one and only then named in
CURRENT (write, fsync, rename), so a process killed at any point leaves the previous
generation loadable and correct. Loading checks every file's sha256 when the generation
is small; above `FULL_VERIFY_MAX_BYTES` it checks sizes and shapes and hashes only the
small files (`rag verify` hashes everything).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import math
import mmap
import os
import secrets
import shutil
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import bm25s
import numpy as np
import numpy.typing as npt

from rag.chunking import indexed_text
from rag.csr import gather
from rag.embeddings import Vectors
from rag.errors import IndexCorruptError, IndexMismatchError, RagError
from rag.index_files import (
    CURRENT,
    MANIFEST,
    SCHEMA_VERSION,
    check_file,
    current_generation,
    document_from_row,
    read_jsonl,
    read_manifest,
    sha256,
)
from rag.lexical import terms
from rag.slots import lowercase_words
from rag.sources import SourceNames, name_table
from rag.types import Chunk, Document, DocumentMeta
from rag.vector_index import (
    VectorIndex,
    choose_kind,
    create_index,
    drop_saved_index,
    load_vector_index,
)
from rag.vector_spool import SpooledVectors
from rag.wordmatch import content_words

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)

Rows = npt.NDArray[np.int64]
VectorRows = Vectors | SpooledVectors  # what a generation's vectors are written from
_T = TypeVar("_T")

FULL_VERIFY_MAX_BYTES = 256 << 20  # below this, every load hashes every file
SMALL_FILE_BYTES = 8 << 20  # above FULL_VERIFY_MAX_BYTES, files this small are still hashed

_CSR = (
    "doc_chunks",
    "doc_sentences",
    "chunk_sentences",
    "sentence_chunks",
    "word_sentences",
    "sentence_words",
    "name_docs",
)
_DATA_FILES = (
    "documents.jsonl",
    "documents_offsets.npy",
    "source_names.json",
    "texts.bin",
    "doc_offsets.npy",
    "chunks.npy",
    "headings.json",
    "sentences.npy",
    "embeddings.npy",
    "sentence_embeddings.npy",
    "words.jsonl",
    "word_embeddings.npy",
    "idf.npy",
    "lowercase.txt",
    *(f"{name}{tail}.npy" for name in _CSR for tail in ("", "_offsets")),
)
_VECTOR_INDEXES = {"chunks": "chunks.index", "sentences": "sentences.index"}
_NO_HEADING = -1


@dataclass(frozen=True)
class IndexConfig:
    """What an index was built with; loading compares it with the running configuration."""

    embedding_model: str
    dimension: int
    chunker: dict[str, int]
    vector_store: str = "auto"  # a registry name (rag.vector_index) or "auto": by size


# ---------------------------------------------------------------- lazy views


class _ByDocument(Mapping[str, _T]):
    """doc_id -> what `_read` makes of the document's row, read when asked for."""

    def __init__(self, index: LoadedIndex) -> None:
        self._index = index

    def _read(self, row: int) -> _T:
        raise NotImplementedError

    def __getitem__(self, doc_id: str) -> _T:
        row = self._index.doc_row(doc_id)
        if row is None:
            raise KeyError(doc_id)
        return self._read(row)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._index.doc_row(doc_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.doc_ids)

    def __len__(self) -> int:
        return len(self._index.doc_ids)


class _Documents(_ByDocument[Document]):
    """doc_id -> Document, the text read from the blob when a document is asked for."""

    def _read(self, row: int) -> Document:
        meta, headings = self._index._document(row)
        return Document(meta, self._index._text(row), headings)


class _Metas(_ByDocument[DocumentMeta]):
    """doc_id -> DocumentMeta, from its own line of documents.jsonl (no text)."""

    def _read(self, row: int) -> DocumentMeta:
        return self._index._document(row)[0]


class _LazyIds(Sequence[str]):
    """The document ids of one CSR row, resolved when read (most names are never asked)."""

    def __init__(self, rows: Rows, start: int, stop: int, doc_ids: Sequence[str]) -> None:
        self._rows, self._start, self._stop, self._doc_ids = rows, start, stop, doc_ids

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        rows = self._rows[self._start : self._stop]
        if isinstance(i, slice):
            return [self._doc_ids[int(r)] for r in rows[i]]
        return self._doc_ids[int(rows[i])]

    def __iter__(self) -> Iterator[str]:  # one slice, not an item read per document
        return iter([self._doc_ids[r] for r in self._rows[self._start : self._stop].tolist()])


class _Chunks(Sequence[Chunk]):
    """Chunk rows, each built from its columns and its document's text when read."""

    def __init__(self, index: LoadedIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.chunk_columns)

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        index = self._index
        doc_row, number, start, end, heading = (int(v) for v in index.chunk_columns[row])
        doc_id = index.doc_ids[doc_row]
        return Chunk(
            chunk_id=f"{doc_id}#{number}",
            doc_id=doc_id,
            index=number,
            text=index._text(doc_row)[start:end],
            start=start,
            end=end,
            heading=None if heading == _NO_HEADING else index.headings[heading],
        )


class _Sentences(Sequence[tuple[str, int, int]]):
    """(doc_id, start, end) of each indexed sentence, from its columns."""

    def __init__(self, index: LoadedIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.sentence_columns)

    @overload
    def __getitem__(self, row: int) -> tuple[str, int, int]: ...

    @overload
    def __getitem__(self, row: slice) -> list[tuple[str, int, int]]: ...

    def __getitem__(self, row: int | slice) -> tuple[str, int, int] | list[tuple[str, int, int]]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        doc_row, start, end = (int(v) for v in self._index.sentence_columns[row])
        return self._index.doc_ids[doc_row], start, end


class TermTable(Mapping[str, float]):
    """A float per term, keyed through the BM25 vocabulary (no second dict of terms)."""

    def __init__(self, vocabulary: Mapping[str, int], values: npt.NDArray[np.float64]) -> None:
        self._vocabulary = vocabulary
        self._values = values

    def __getitem__(self, term: str) -> float:
        value = float(self._values[self._vocabulary[term]])
        if value != value:  # NaN: in the vocabulary, but no chunk holds it ("" of bm25s)
            raise KeyError(term)
        return value

    def __iter__(self) -> Iterator[str]:
        return (t for t, i in self._vocabulary.items() if self._values[i] == self._values[i])

    def __len__(self) -> int:
        return int(np.count_nonzero(~np.isnan(self._values)))

    def column(self) -> npt.NDArray[np.float64]:
        """Every value at once (rag.lexical.table_values), not term by term."""
        return self._values[~np.isnan(self._values)]


# ---------------------------------------------------------------- the loaded generation


class LoadedIndex:
    """One generation, opened: arrays memory-mapped, everything else read on first use.
    Read-only: ingest builds a new one."""

    def __init__(
        self, path: Path, manifest: dict[str, Any], settings: Settings | None = None
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.settings = settings  # for a vector index that needs them (a Qdrant server)
        self._lock = threading.Lock()
        self._text = functools.lru_cache(maxsize=1024)(self._read_text)
        self._document = functools.lru_cache(maxsize=1 << 16)(self._read_document)
        self.chunk_columns = _array(path, "chunks.npy")
        self.sentence_columns = _array(path, "sentences.npy")
        self.embeddings: Vectors = _array(path, "embeddings.npy")
        self.sentence_embeddings: Vectors = _array(path, "sentence_embeddings.npy")
        self.word_embeddings: Vectors = _array(path, "word_embeddings.npy")
        self.doc_offsets: Rows = _array(path, "doc_offsets.npy")
        self._document_offsets: Rows = _array(path, "documents_offsets.npy")
        self._csr = {
            name: (_array(path, f"{name}_offsets.npy"), _array(path, f"{name}.npy"))
            for name in _CSR
        }
        _ = self._blob, self._documents_blob  # mapped now: outlives a later prune
        self.documents: Mapping[str, Document] = _Documents(self)
        self.chunks: Sequence[Chunk] = _Chunks(self)
        self.sentences: Sequence[tuple[str, int, int]] = _Sentences(self)

    # ------------------------------------------------------------ configuration

    @property
    def embedding_model(self) -> str:
        return str(self.manifest["embedding"]["model"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["embedding"]["dimension"])

    @property
    def chunker(self) -> dict[str, int]:
        return dict(self.manifest["chunker"])

    def check_compatible(self, model: str, dimension: int) -> None:
        if self.embedding_model != model or self.dimension != dimension:
            raise IndexMismatchError(
                f"the index at {self.path.parent} was built with embedding model "
                f"{self.embedding_model!r} (dimension {self.dimension}) but the running "
                f"configuration uses {model!r} (dimension {dimension}); set "
                f"RAG_EMBEDDING_MODEL={self.embedding_model} or rebuild with "
                "`rag ingest --rebuild`"
            )

    # ------------------------------------------------------------ documents

    def _read_document(self, row: int) -> tuple[DocumentMeta, tuple[tuple[int, str], ...]]:
        """One line of documents.jsonl (its metadata and headings), found by its offset."""
        start, end = int(self._document_offsets[row]), int(self._document_offsets[row + 1])
        line = bytes(self._documents_blob[start:end])
        try:
            document = document_from_row(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise self._corrupt(f"documents.jsonl row {row} does not read ({exc})") from exc
        if document.doc_id != self.doc_ids[row]:
            raise self._corrupt(f"documents.jsonl row {row} is {document.doc_id!r}")
        return document.meta, document.headings

    @functools.cached_property
    def _documents_blob(self) -> Any:
        path = self.path / "documents.jsonl"
        return np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else b""

    @functools.cached_property
    def doc_ids(self) -> list[str]:
        """Document ids in row order (the order `chunks.npy` and `sentences.npy` refer to):
        the manifest lists them so, and nothing else needs reading."""
        return list(self.manifest["documents"])

    @functools.cached_property
    def _doc_rows(self) -> dict[str, int]:
        return {doc_id: row for row, doc_id in enumerate(self.doc_ids)}

    @functools.cached_property
    def metas(self) -> Mapping[str, DocumentMeta]:
        """Each document's metadata, read when asked for, without any text."""
        return _Metas(self)

    @functools.cached_property
    def source_names(self) -> SourceNames:
        """The names a question may cite each document by (rag.sources), as ingest
        computed them: nothing walks the documents."""
        names: list[str] = json.loads((self.path / "source_names.json").read_text(encoding="utf-8"))
        offsets, rows = self._csr["name_docs"]
        if len(offsets) != len(names) + 1:
            raise self._corrupt(f"{len(names)} source names, {len(offsets)} name_docs offsets")
        doc_ids = self.doc_ids
        return SourceNames(
            {
                name: _LazyIds(rows, int(offsets[i]), int(offsets[i + 1]), doc_ids)
                for i, name in enumerate(names)
            }
        )

    def doc_row(self, doc_id: str) -> int | None:
        return self._doc_rows.get(doc_id)

    @functools.cached_property
    def _blob(self) -> Any:
        """texts.bin, mapped once: the mapping outlives the file should a later ingest
        prune this generation while a request still reads it."""
        path = self.path / "texts.bin"
        return np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else b""

    def _read_text(self, row: int) -> str:
        start, end = int(self.doc_offsets[row]), int(self.doc_offsets[row + 1])
        return bytes(self._blob[start:end]).decode("utf-8")

    def document_text(self, doc_id: str) -> str | None:
        row = self.doc_row(doc_id)
        return None if row is None else self._text(row)

    @functools.cached_property
    def headings(self) -> list[str]:
        loaded: list[str] = json.loads((self.path / "headings.json").read_text(encoding="utf-8"))
        return loaded

    # ------------------------------------------------------------ rows of a document or chunk

    def csr(self, name: str) -> tuple[Rows, Rows]:
        """(offsets, rows) of a precomputed table: the rows of key k are
        `rows[offsets[k]:offsets[k + 1]]`. Names: doc_chunks, doc_sentences,
        chunk_sentences (each chunk's sentences), sentence_chunks (each sentence's owning
        chunks), word_sentences (the sentences holding each vocabulary word)."""
        return self._csr[name]

    def _rows(self, name: str, key: int | None) -> Rows:
        if key is None:
            return np.zeros(0, dtype=np.int64)
        offsets, rows = self._csr[name]
        return np.asarray(rows[offsets[key] : offsets[key + 1]], dtype=np.int64)

    def rows_of(self, doc_id: str) -> Rows:
        """The chunk rows of a document, in chunk order."""
        return self._rows("doc_chunks", self.doc_row(doc_id))

    def sentence_rows_of(self, doc_id: str) -> Rows:
        return self._rows("doc_sentences", self.doc_row(doc_id))

    def sentence_rows_of_chunk(self, row: int) -> Rows:
        return self._rows("chunk_sentences", row)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return [self.chunks[int(r)] for r in self.rows_of(doc_id)]

    def chunk_row(self, chunk_id: str) -> int | None:
        doc_id, _, number = chunk_id.rpartition("#")
        for row in self.rows_of(doc_id):
            if str(self.chunk_columns[row, 1]) == number:
                return int(row)
        return None

    def chunk_mask(self, doc_ids: Iterable[str]) -> npt.NDArray[np.bool_]:
        """Which chunk rows belong to these documents."""
        mask = np.zeros(len(self.chunks), dtype=bool)
        rows = [row for row in map(self.doc_row, doc_ids) if row is not None]
        mask[gather(*self._csr["doc_chunks"], np.array(rows, dtype=np.int64))[0]] = True
        return mask

    def sentence_text(self, row: int) -> str:
        doc_row, start, end = (int(v) for v in self.sentence_columns[row])
        return self._text(doc_row)[start:end]

    def sentence_texts(self) -> list[str]:
        """Every sentence's text: walks the collection (fine for small ones and tools)."""
        return [self.sentence_text(r) for r in range(len(self.sentence_columns))]

    def sentence_chunks(self) -> list[list[int]]:
        """For each sentence, the rows of the chunks that contain it (walks the collection;
        `csr("sentence_chunks")` is the same without Python objects)."""
        offsets, rows = self._csr["sentence_chunks"]
        return [
            [int(r) for r in rows[offsets[s] : offsets[s + 1]]] for s in range(len(offsets) - 1)
        ]

    # ------------------------------------------------------------ derived at ingest

    @functools.cached_property
    def words(self) -> list[str]:
        """The vocabulary of the sentences, for soft word matching."""
        words = read_jsonl(self.path / "words.jsonl")
        if not all(isinstance(w, str) for w in words):
            raise self._corrupt("words.jsonl holds a line that is not a JSON string")
        return words

    @functools.cached_property
    def bm25(self) -> bm25s.BM25:
        if not len(self.chunks):
            return bm25s.BM25()
        return bm25s.BM25.load(str(self.path / "bm25"), allow_pickle=False, mmap=True)

    @functools.cached_property
    def idf(self) -> Mapping[str, float]:
        """Smoothed IDF of each term over the chunks (rag.extractive.idf_table's values)."""
        vocabulary = self.bm25.vocab_dict if len(self.chunks) else {}
        return TermTable(vocabulary or {}, _array(self.path, "idf.npy"))

    @functools.cached_property
    def lowercase_words(self) -> frozenset[str]:
        return frozenset((self.path / "lowercase.txt").read_text(encoding="utf-8").split())

    # ------------------------------------------------------------ vector indexes

    @functools.cached_property
    def chunk_index(self) -> VectorIndex:
        return self._vector_index("chunks", len(self.chunks), self.embeddings)

    @functools.cached_property
    def sentence_index(self) -> VectorIndex:
        return self._vector_index("sentences", len(self.sentences), self.sentence_embeddings)

    def open_all(self) -> LoadedIndex:
        """Open what is otherwise opened on first use (vector indexes, BM25), so a served
        generation keeps answering after a later ingest prunes its folder: open files and
        mappings outlive the unlink, a path opened later does not."""
        _ = self.chunk_index, self.sentence_index, self.bm25, self.source_names, self.headings
        return self

    @property
    def dense(self) -> VectorIndex:
        """The chunk index (its `search` answers as FAISS's does: scores, rows)."""
        return self.chunk_index

    def _vector_index(self, name: str, expected: int, vectors: Vectors) -> VectorIndex:
        with self._lock:
            kind = str(self.manifest["vector_indexes"][name])
            index = load_vector_index(kind, self.path / _VECTOR_INDEXES[name], self.settings)
        if len(index) != expected:
            raise self._corrupt(f"the {name} index holds {len(index)} vectors for {expected}")
        rescore = getattr(index, "rescore_with", None)
        if rescore is not None:  # compressed codes: the exact vectors re-rank the best hits
            rescore(vectors)
        return index

    def _corrupt(self, problem: str) -> IndexCorruptError:
        return IndexCorruptError(
            f"the index at {self.path} is inconsistent: {problem}; "
            "rebuild with `rag ingest --rebuild`"
        )


def _array(generation: Path, name: str) -> Any:
    """A memory-mapped .npy (an empty one cannot be mapped: read)."""
    path = generation / name
    try:
        if path.stat().st_size <= 4096:
            return np.load(path, allow_pickle=False)
        return _map_rows(path)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{path} cannot be read ({exc}); rebuild with `rag ingest --rebuild`"
        ) from exc


def _map_rows(path: Path) -> Any:
    """A plain ndarray over a read-only mapping of the .npy, advised for random access.
    A question reads scattered rows (a few thousand vectors to re-score, CSR slices); with
    the kernel's default read-ahead each such read pulled in ~400 KB around it, 2.4 GB of a
    million-chunk index's pages for one search. A plain ndarray, not np.memmap: its
    Python-level __getitem__ costs microseconds on each of those reads."""
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read_header(handle)
        offset = handle.tell()
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):  # Linux, macOS; elsewhere the default read-ahead
        mapping.madvise(mmap.MADV_RANDOM)
    return np.ndarray(
        shape, dtype, buffer=mapping, offset=offset, order="F" if fortran_order else "C"
    )


# ---------------------------------------------------------------- serialisation


def _write_jsonl(path: Path, rows: Iterable[object]) -> list[int]:
    """Writes one JSON value a line; returns the byte offset where each line ends."""
    ends: list[int] = []
    with path.open("wb") as handle:
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
            ends.append(handle.tell())
    return ends


def _save(path: Path, array: npt.ArrayLike, dtype: npt.DTypeLike) -> None:
    np.save(path, np.asarray(array, dtype=dtype), allow_pickle=False)


_WRITE_ROWS = 65_536  # vectors written (and added to a vector index) per block


def _save_rows(path: Path, vectors: VectorRows) -> None:
    """A float32 .npy of `vectors`, written a block of rows at a time: they may be read
    as they are sliced (rag.vector_spool.SpooledVectors), so a million chunks' vectors
    never sit in memory whole. The file is what `np.save` writes."""
    rows, dimension = len(vectors), int(vectors.shape[1])
    with path.open("wb") as handle:
        header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dimension)}
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, rows, _WRITE_ROWS):
            block = np.ascontiguousarray(vectors[start : start + _WRITE_ROWS], dtype="<f4")
            handle.write(block.tobytes())


def _all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _fsync_tree(folder: Path) -> None:
    for path in [*_all_files(folder), folder / MANIFEST]:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- building


def build_bm25(texts: Iterable[str]) -> bm25s.BM25:
    """BM25 over the texts' terms. Each text's terms become ids as they are found (one
    int per term, the vocabulary's own objects), not lists of strings: at a million chunks
    the strings alone would take gigabytes."""
    vocabulary: dict[str, int] = {}
    corpus = [
        [vocabulary.setdefault(t, len(vocabulary)) for t in terms(text) or [""]] for text in texts
    ]
    retriever = bm25s.BM25()
    retriever.index((corpus, vocabulary), show_progress=False)
    return retriever


def _idf_column(bm25: bm25s.BM25) -> Any:
    """rag.extractive.idf_table's values, one per BM25 vocabulary id (NaN: no chunk holds
    it). A term's document frequency is its column's count of scores: BM25 scores every
    chunk that holds a term above zero, and no other."""
    n = int(bm25.scores["num_docs"])
    frequency = np.diff(bm25.scores["indptr"]).tolist()
    column = np.full(len(bm25.vocab_dict), np.nan, dtype=np.float64)
    column[: len(frequency)] = [math.log(1 + (n - df + 0.5) / (df + 0.5)) for df in frequency]
    if "" in bm25.vocab_dict:
        column[bm25.vocab_dict[""]] = np.nan
    return column


def _csr(keys: Rows, values: Rows, n_keys: int) -> tuple[Rows, Rows]:
    """Offsets and values of a CSR table, values sorted within each key."""
    order = np.lexsort((values, keys))
    offsets = np.searchsorted(keys[order], np.arange(n_keys + 1)).astype(np.int64)
    return offsets, values[order].astype(np.int64)


def _ownership(chunk_columns: Rows, sentence_columns: Rows, n_docs: int) -> tuple[Rows, Rows]:
    """(sentence row, chunk row) for each chunk that contains a sentence, one document at
    a time (a few dozen chunks and sentences each)."""
    chunk_offsets, chunk_rows = _csr(chunk_columns[:, 0], np.arange(len(chunk_columns)), n_docs)
    sentence_offsets, sentence_rows = _csr(
        sentence_columns[:, 0], np.arange(len(sentence_columns)), n_docs
    )
    found_sentences, found_chunks = [], []
    for doc in range(n_docs):
        crows = chunk_rows[chunk_offsets[doc] : chunk_offsets[doc + 1]]
        srows = sentence_rows[sentence_offsets[doc] : sentence_offsets[doc + 1]]
        if not len(crows) or not len(srows):
            continue
        spans, sentences = chunk_columns[crows], sentence_columns[srows]
        inside = (spans[:, None, 2] <= sentences[None, :, 1]) & (
            sentences[None, :, 2] <= spans[:, None, 3]
        )
        c, s = np.nonzero(inside)
        found_chunks.append(crows[c])
        found_sentences.append(srows[s])
    if not found_chunks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(found_sentences), np.concatenate(found_chunks)


def _postings(words: Sequence[str], sentence_texts: Iterable[str]) -> tuple[Rows, Rows]:
    """(word row, sentence row) for each vocabulary word a sentence holds."""
    row_of = {w: i for i, w in enumerate(words)}
    word_rows = array("q")  # 8 bytes a posting, not a Python int's 36
    sentence_rows = array("q")
    for s, text in enumerate(sentence_texts):
        for w in content_words(text):
            row = row_of.get(w)
            if row is not None:
                word_rows.append(row)
                sentence_rows.append(s)
    return np.frombuffer(word_rows, dtype=np.int64), np.frombuffer(sentence_rows, dtype=np.int64)


def _write_vector_index(
    staging: Path,
    name: str,
    vectors: VectorRows,
    requested: str,
    dimension: int,
    settings: Settings | None,
) -> str:
    kind = choose_kind(len(vectors), requested)
    index = create_index(kind, dimension, len(vectors), settings=settings)
    # IVF kinds read a training sample and blocks of rows; the others read all at once
    index.add(np.arange(len(vectors), dtype=np.int64), cast(Vectors, vectors))
    index.save(staging / _VECTOR_INDEXES[name])
    return kind


def write_generation(
    collection_dir: Path,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    embeddings: VectorRows,
    config: IndexConfig,
    sentences: Sequence[tuple[str, int, int]] = (),
    sentence_embeddings: VectorRows | None = None,
    words: Sequence[str] = (),
    word_embeddings: Vectors | None = None,
    extra_manifest: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> Path:
    """Write a complete new generation and make it current. Returns its folder.
    Chunk ids must read `<doc_id>#<index>` (rag.chunking's): the columns keep only the index.
    `settings` reach a vector index that needs them (a Qdrant server); None: defaults."""
    empty = np.zeros((0, config.dimension), dtype=np.float32)
    sentence_embeddings = empty if sentence_embeddings is None else sentence_embeddings
    word_embeddings = empty if word_embeddings is None else word_embeddings
    for what, rows, vectors in (
        ("chunks", chunks, embeddings),
        ("sentences", sentences, sentence_embeddings),
        ("words", words, word_embeddings),
    ):
        if len(rows) != len(vectors):
            raise RagError(f"internal: {len(rows)} {what} but {len(vectors)} vectors")
    collection_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    staging = collection_dir / f".tmp-{name}"
    staging.mkdir()
    try:
        _write_files(staging, documents, chunks, embeddings, config, sentences, sentence_embeddings)
        _write_words(staging, words, word_embeddings, sentences, documents)
        kinds = {
            name: _write_vector_index(
                staging, name, vectors, config.vector_store, config.dimension, settings
            )
            for name, vectors in (("chunks", embeddings), ("sentences", sentence_embeddings))
        }
        chunk_counts = np.diff(np.load(staging / "doc_chunks_offsets.npy"))
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embedding": {"model": config.embedding_model, "dimension": config.dimension},
            "chunker": config.chunker,
            "vector_indexes": kinds,
            "counts": {
                "documents": len(documents),
                "chunks": len(chunks),
                "sentences": len(sentences),
                "words": len(words),
            },
            "documents": {
                d.doc_id: {
                    "content_hash": d.meta.content_hash,
                    "source": d.meta.source,
                    "chunks": int(count),
                }
                for d, count in zip(documents, chunk_counts, strict=True)
            },
            **(extra_manifest or {}),
            "files": {
                str(p.relative_to(staging)): {"bytes": p.stat().st_size, "sha256": sha256(p)}
                for p in _all_files(staging)
            },
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _fsync_tree(staging)
        final = collection_dir / name
        staging.rename(final)
        _set_current(collection_dir, name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune_generations(collection_dir, keep={name}, settings=settings)
    return final


def _write_documents(
    staging: Path, documents: Sequence[Document], doc_rows: Mapping[str, int]
) -> None:
    """Metadata a line each (with each line's offset), the source-name table, the texts."""
    line_ends = _write_jsonl(
        staging / "documents.jsonl",
        ({**asdict(d.meta), "headings": d.headings} for d in documents),
    )
    _save(staging / "documents_offsets.npy", [0, *line_ends], np.int64)
    names = name_table({d.doc_id: d.meta for d in documents})
    (staging / "source_names.json").write_text(
        json.dumps(sorted(names), ensure_ascii=False), encoding="utf-8"
    )
    name_rows = [(n, doc_rows[d]) for n, name in enumerate(sorted(names)) for d in names[name]]
    name_offsets, name_docs = _csr(
        np.array([n for n, _ in name_rows], dtype=np.int64),
        np.array([d for _, d in name_rows], dtype=np.int64),
        len(names),
    )
    _save(staging / "name_docs_offsets.npy", name_offsets, np.int64)
    _save(staging / "name_docs.npy", name_docs, np.int64)
    offsets = np.zeros(len(documents) + 1, dtype=np.int64)
    with (staging / "texts.bin").open("wb") as blob:
        for row, document in enumerate(documents):
            offsets[row + 1] = offsets[row] + blob.write(document.text.encode("utf-8"))
    _save(staging / "doc_offsets.npy", offsets, np.int64)


def _write_files(
    staging: Path,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    embeddings: VectorRows,
    config: IndexConfig,
    sentences: Sequence[tuple[str, int, int]],
    sentence_embeddings: VectorRows,
) -> None:
    """Documents, texts, chunk and sentence columns, their vectors, the CSR tables of who
    holds what, BM25 and IDF."""
    doc_rows = {d.doc_id: row for row, d in enumerate(documents)}
    if len(doc_rows) != len(documents):
        raise RagError("internal: two documents share an id")
    _write_documents(staging, documents, doc_rows)

    heading_ids: dict[str, int] = {}
    chunk_columns = np.zeros((len(chunks), 5), dtype=np.int64)
    for row, chunk in enumerate(chunks):
        doc_row = doc_rows.get(chunk.doc_id)
        if doc_row is None or chunk.chunk_id != f"{chunk.doc_id}#{chunk.index}":
            raise RagError(
                f"internal: chunk {chunk.chunk_id!r} names no document written, or its id "
                "is not <doc_id>#<index>"
            )
        heading = (
            _NO_HEADING
            if chunk.heading is None
            else heading_ids.setdefault(chunk.heading, len(heading_ids))
        )
        chunk_columns[row] = (doc_row, chunk.index, chunk.start, chunk.end, heading)
    _save(staging / "chunks.npy", chunk_columns, np.int64)
    (staging / "headings.json").write_text(
        json.dumps(list(heading_ids), ensure_ascii=False), encoding="utf-8"
    )
    sentence_columns = np.array(
        [(doc_rows[d], a, b) for d, a, b in sentences], dtype=np.int64
    ).reshape(-1, 3)
    _save(staging / "sentences.npy", sentence_columns, np.int64)
    _save_rows(staging / "embeddings.npy", embeddings)
    _save_rows(staging / "sentence_embeddings.npy", sentence_embeddings)

    n_docs = len(documents)
    tables = {
        "doc_chunks": _csr(chunk_columns[:, 0], np.arange(len(chunks)), n_docs),
        "doc_sentences": _csr(sentence_columns[:, 0], np.arange(len(sentences)), n_docs),
    }
    owned, owners = _ownership(chunk_columns, sentence_columns, n_docs)
    tables["chunk_sentences"] = _csr(owners, owned, len(chunks))
    tables["sentence_chunks"] = _csr(owned, owners, len(sentences))
    for table, (table_offsets, rows) in tables.items():
        _save(staging / f"{table}_offsets.npy", table_offsets, np.int64)
        _save(staging / f"{table}.npy", rows, np.int64)

    metas = [d.meta for d in documents]
    idf = np.zeros(0, dtype=np.float64)
    if chunks:
        bm25 = build_bm25(indexed_text(c.text, metas[doc_rows[c.doc_id]]) for c in chunks)
        bm25.save(str(staging / "bm25"), allow_pickle=False)
        idf = _idf_column(bm25)
        del bm25
    _save(staging / "idf.npy", idf, np.float64)
    (staging / "lowercase.txt").write_text(
        "\n".join(sorted(lowercase_words(d.text for d in documents))), encoding="utf-8"
    )


def _write_words(
    staging: Path,
    words: Sequence[str],
    word_embeddings: Vectors,
    sentences: Sequence[tuple[str, int, int]],
    documents: Sequence[Document],
) -> None:
    """The vocabulary, its vectors and its postings (which sentences hold each word)."""
    _write_jsonl(staging / "words.jsonl", words)
    _save(staging / "word_embeddings.npy", word_embeddings, np.float32)
    texts = {d.doc_id: d.text for d in documents}
    word_rows, sentence_rows = _postings(words, (texts[d][a:b] for d, a, b in sentences))
    for table, keys, values, n_keys in (
        ("word_sentences", word_rows, sentence_rows, len(words)),
        ("sentence_words", sentence_rows, word_rows, len(sentences)),
    ):
        offsets, rows = _csr(keys, values, n_keys)
        _save(staging / f"{table}_offsets.npy", offsets, np.int64)
        _save(staging / f"{table}.npy", rows, np.int64)


def _set_current(collection_dir: Path, name: str) -> None:
    pointer = collection_dir / f".{CURRENT}.{secrets.token_hex(3)}"
    pointer.write_text(name + "\n", encoding="utf-8")
    with pointer.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer, collection_dir / CURRENT)
    _fsync_dir(collection_dir)


def _prune_generations(
    collection_dir: Path, keep: set[str], settings: Settings | None = None
) -> None:
    """Drop generations other than the live one and its predecessor, and stale staging;
    a vector index kept outside the folder (a Qdrant collection) is dropped first."""
    generations = sorted(p for p in collection_dir.glob("gen-*") if p.is_dir())
    survivors = {p.name for p in generations[-2:]} | keep
    for path in generations:
        if path.name not in survivors:
            _drop_vector_indexes(path, settings)
            shutil.rmtree(path, ignore_errors=True)
    for path in collection_dir.glob(".tmp-gen-*"):
        shutil.rmtree(path, ignore_errors=True)


def _drop_vector_indexes(generation: Path, settings: Settings | None) -> None:
    """Read without the schema check: a generation of an older format (which has no
    vector indexes to drop) is pruned like any other."""
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
        for name, kind in manifest.get("vector_indexes", {}).items():
            drop_saved_index(str(kind), generation / _VECTOR_INDEXES[name], settings)
    except (RagError, OSError, KeyError, ValueError) as error:
        log.warning("could not drop the vector indexes of %s: %s", generation.name, error)


@contextlib.contextmanager
def writer_lock(collection_dir: Path) -> Iterator[None]:
    """One writer per collection; a second ingest fails fast instead of racing."""
    collection_dir.mkdir(parents=True, exist_ok=True)
    with (collection_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RagError(
                f"another `rag ingest` is writing {collection_dir}; wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- loading


def _verify_files(generation: Path, manifest: dict[str, Any], full: bool) -> None:
    """Every listed file against the manifest: sizes always, checksums of all files when
    `full`, else of the small ones only (hashing gigabytes on each start is O(size))."""
    expected: dict[str, dict[str, Any]] = manifest.get("files", {})
    for name in _DATA_FILES:
        if name not in expected:
            raise IndexCorruptError(f"{generation / MANIFEST} does not list {name}")
    for name, facts in expected.items():
        check_file(generation, manifest, name, hash_it=full or facts["bytes"] <= SMALL_FILE_BYTES)


def _check_shapes(index: LoadedIndex) -> None:
    counts, dimension = index.manifest["counts"], index.dimension
    problems = []
    expected = {
        "chunks.npy": (index.chunk_columns, (counts["chunks"], 5)),
        "sentences.npy": (index.sentence_columns, (counts["sentences"], 3)),
        "embeddings.npy": (index.embeddings, (counts["chunks"], dimension)),
        "sentence_embeddings.npy": (index.sentence_embeddings, (counts["sentences"], dimension)),
        "word_embeddings.npy": (index.word_embeddings, (counts["words"], dimension)),
        "doc_offsets.npy": (index.doc_offsets, (counts["documents"] + 1,)),
        "documents_offsets.npy": (index._document_offsets, (counts["documents"] + 1,)),
    }
    keys = {
        "doc_chunks": counts["documents"],
        "doc_sentences": counts["documents"],
        "chunk_sentences": counts["chunks"],
        "sentence_chunks": counts["sentences"],
        "word_sentences": counts["words"],
        "sentence_words": counts["sentences"],
    }
    for name, n_keys in keys.items():
        offsets, rows = index.csr(name)
        expected[f"{name}_offsets.npy"] = (offsets, (n_keys + 1,))
        if len(offsets) and int(offsets[-1]) != len(rows):
            problems.append(f"{name}.npy holds {len(rows)} rows, its offsets end at {offsets[-1]}")
    for name, (values, shape) in expected.items():
        if values.shape != shape:
            problems.append(f"{name} has shape {values.shape}, expected {shape}")
    for data, offsets, offsets_name in (
        ("texts.bin", index.doc_offsets, "doc_offsets.npy"),
        ("documents.jsonl", index._document_offsets, "documents_offsets.npy"),
    ):
        size = (index.path / data).stat().st_size
        if not problems and int(offsets[-1]) != size:
            problems.append(f"{data} holds {size} bytes, {offsets_name} ends at {offsets[-1]}")
    if problems:
        raise index._corrupt("; ".join(problems))


def load_index(
    collection_dir: Path, *, full_verify: bool | None = None, settings: Settings | None = None
) -> LoadedIndex:
    """Open the live generation, checked against its manifest (every checksum when the
    generation is under FULL_VERIFY_MAX_BYTES or `full_verify`) and its arrays' shapes
    against its counts. Nothing is read into Python objects until asked for."""
    generation = current_generation(collection_dir)
    manifest = read_manifest(generation)
    if full_verify is None:
        total = sum(int(f["bytes"]) for f in manifest.get("files", {}).values())
        full_verify = total <= FULL_VERIFY_MAX_BYTES
    _verify_files(generation, manifest, full_verify)
    index = LoadedIndex(generation, manifest, settings)
    _check_shapes(index)
    return index


def verify_index(collection_dir: Path, settings: Settings | None = None) -> LoadedIndex:
    """The full check `rag verify` runs: every file's checksum, every shape, both vector
    indexes and the BM25 index opened and counted."""
    index = load_index(collection_dir, full_verify=True, settings=settings)
    _ = index.chunk_index, index.sentence_index, index.words, index.doc_ids
    if len(index.chunks) and index.bm25.scores["num_docs"] != len(index.chunks):
        raise index._corrupt(
            f"BM25 holds {index.bm25.scores['num_docs']} chunks for {len(index.chunks)}"
        )
    return index

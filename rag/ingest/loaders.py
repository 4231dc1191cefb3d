"""One file in, one cleaned `Document` out, or an `IngestError` that says what to do.

Dispatch is by extension. Every format ends in the same place: text for `clean_text`
plus the metadata the file states, which the catalog then overrides field by field.
Library failures (pypdf, trafilatura) are wrapped into `IngestError` with the original
exception chained, never let through raw and never swallowed.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IngestError
from rag.ingest.catalog import Catalog, CatalogEntry
from rag.ingest.clean import CleanResult, clean_pdf_pages, clean_text, find_headings
from rag.ingest.decoding import decode_bytes, normalize_text
from rag.ingest.metadata import (
    ExtractedMeta,
    merge,
    meta_from_front_matter,
    meta_from_html,
    meta_from_pdf,
    meta_from_text,
    split_front_matter,
)
from rag.invisible import strip_invisible
from rag.types import Document, DocumentMeta

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")

# Alt text and URL stop at a bracket, so a scan never runs past the next "![": the plain
# `[^\]]*` rescans the rest of the line from every "![" on it (quadratic).
_INLINE_IMAGE = re.compile(r"!\[[^\[\]]*+\]\([^)\s\[\]]*+(?:\s++\"[^\"]*+\")?\)")


@dataclass(frozen=True)
class _Loaded:
    """What a format loader hands back: cleaned text and the metadata the file states."""

    cleaned: CleanResult
    meta: ExtractedMeta


def doc_id_for(path: Path) -> str:
    """Slug of the file stem: stable across re-ingests and safe in URLs and file names."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")


def load_document(path: Path, *, catalog: Catalog, max_bytes: int) -> Document:
    """Read, decode, extract, clean and describe one file.

    Metadata: the catalog entry wins field by field ("" means explicitly unknown); else
    what the file states. The title falls back to the first heading, then the file stem.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            path,
            f"unsupported file type {suffix or '(none)'!r}; supported: "
            f"{', '.join(SUPPORTED_SUFFIXES)} (convert the file to one of these)",
        )
    doc_id = doc_id_for(path)
    if not doc_id:
        raise IngestError(path, "the file name has no letters or digits to form an id; rename it")
    raw = _read(path, max_bytes)
    entry = catalog.entry_for(path.name)
    catalog_title = entry.resolve("title", None) if entry else None
    loaded = _LOADERS[suffix](raw, path, catalog_title)
    text = loaded.cleaned.text.strip()
    if not text:
        raise IngestError(path, _nothing_left(loaded.cleaned))
    headings = find_headings(text)
    meta = _resolve_meta(entry, loaded.meta)
    title = meta.title or (headings[0][1] if headings else None) or path.stem
    return Document(
        meta=DocumentMeta(
            doc_id=doc_id,
            source=str(path),
            content_hash=hashlib.sha256(raw).hexdigest(),
            title=_visible(title),
            author=_visible(meta.author),
            outlet=_visible(meta.outlet),
            date=meta.date,
            url=_visible(meta.url),
        ),
        text=text,
        headings=headings,
    )


def _visible(value: str | None) -> str | None:
    """A header field without the invisible characters the text loses in `clean_text`."""
    return None if value is None else strip_invisible(value)[0]


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(path, _too_large(size, max_bytes))
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if len(raw) > max_bytes:  # grew since stat
        raise IngestError(path, _too_large(len(raw), max_bytes))
    if not raw.strip():
        raise IngestError(path, "the file is empty; remove it or add its text")
    return raw


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"the file is {size:,} bytes, over the {max_bytes:,}-byte limit; split it or raise "
        "RAG_MAX_FILE_BYTES"
    )


def _nothing_left(cleaned: CleanResult) -> str:
    if not cleaned.removed:
        return "no text found in the file; check that it holds the article's text"
    example = cleaned.removed[0]
    return (
        f"no text left after removing boilerplate ({len(cleaned.removed)} lines removed, e.g. "
        f"{example.line[:60]!r} by rule {example.rule!r}); check that the file holds an article"
    )


def _resolve_meta(entry: CatalogEntry | None, extracted: ExtractedMeta) -> ExtractedMeta:
    if entry is None:
        return extracted
    return ExtractedMeta(
        title=entry.resolve("title", extracted.title),
        author=entry.resolve("author", extracted.author),
        outlet=entry.resolve("outlet", extracted.outlet),
        date=entry.resolve("date", extracted.date),
        url=entry.resolve("url", extracted.url),
    )


# --------------------------------------------------------------------------- formats


def _load_text(raw: bytes, path: Path, title: str | None) -> _Loaded:
    """.txt and Markdown: front matter (either suffix: captures often save Jekyll pages
    as .txt), stated metadata, then cleaning. Markdown syntax stays, images go."""
    text = decode_bytes(raw, path)
    front, body = split_front_matter(text, path)
    meta = merge(meta_from_front_matter(front), meta_from_text(body))
    cleaned = clean_text(body, title or meta.title)
    return _Loaded(CleanResult(_INLINE_IMAGE.sub("", cleaned.text), cleaned.removed), meta)


def _load_html(raw: bytes, path: Path, title: str | None) -> _Loaded:
    """HTML: trafilatura picks the main text (no comments, tables kept, precision over
    recall); metadata comes from <title> and meta tags."""
    from trafilatura import extract

    html = decode_bytes(raw, path)
    try:
        main = extract(html, include_comments=False, include_tables=True, favor_precision=True)
    except Exception as exc:  # lxml and trafilatura raise many types; wrap, never hide
        raise IngestError(
            path, f"cannot parse the HTML ({type(exc).__name__}: {exc}); check the file"
        ) from exc
    no_main_text = (
        "no main text found in the HTML (only navigation, scripts or very short text); "
        "save the article itself as HTML or text"
    )
    if not isinstance(main, str) or not main.strip():
        raise IngestError(path, no_main_text)
    meta = merge(meta_from_html(html, path), meta_from_text(main))
    # trafilatura puts one paragraph per line; our text separates paragraphs by a blank line.
    paragraphs = "\n\n".join(line for line in normalize_text(main).split("\n") if line.strip())
    cleaned = clean_text(paragraphs, title or meta.title)
    if not cleaned.text:
        raise IngestError(path, no_main_text)
    return _Loaded(cleaned, meta)


def _load_pdf(raw: bytes, path: Path, title: str | None) -> _Loaded:
    """PDF: text of every page, then running headers, page numbers and hard line wraps go."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise IngestError(
                path,
                "the PDF is encrypted with a password; save an unprotected copy and ingest that",
            )
        pages = [normalize_text(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata
        fields = (
            None
            if info is None
            else {
                "/Title": info.title,
                "/Author": info.author,
                "/CreationDate": info.creation_date_raw,
            }
        )
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files; wrap, never hide
        raise IngestError(
            path,
            f"cannot parse the PDF ({type(exc).__name__}: {exc}); check that it opens in a "
            "PDF viewer, or export it again",
        ) from exc
    if not any(page.strip() for page in pages):
        raise IngestError(
            path,
            "the PDF has no extractable text (scanned pages?); run OCR on it (e.g. ocrmypdf) "
            "and ingest the result",
        )
    meta = merge(meta_from_pdf(fields), meta_from_text("\n".join(pages)))
    return _Loaded(clean_pdf_pages(pages, title or meta.title), meta)


_LOADERS: dict[str, Callable[[bytes, Path, str | None], _Loaded]] = {
    ".txt": _load_text,
    ".md": _load_text,
    ".markdown": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
}

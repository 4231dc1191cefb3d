"""Ingest: files -> cleaned `Document`s with metadata (catalog first, then the file itself).

Modules: `decoding` (bytes -> text or a refusal), `clean` (explainable boilerplate rules,
headings), `metadata` (what a file states about itself), `catalog` (curated overrides),
`loaders` (per-format dispatch producing `rag.types.Document`).
"""

from rag.ingest.catalog import Catalog, CatalogEntry, load_catalog
from rag.ingest.clean import CleanResult, Removal, clean_text, find_headings
from rag.ingest.loaders import SUPPORTED_SUFFIXES, doc_id_for, load_document

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Catalog",
    "CatalogEntry",
    "CleanResult",
    "Removal",
    "clean_text",
    "doc_id_for",
    "find_headings",
    "load_catalog",
    "load_document",
]

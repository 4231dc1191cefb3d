"""The metadata catalog: a TOML file beside the documents that overrides what extraction
finds, field by field.

    [documents."000_0c4da8ee7c2bcb9d.txt"]
    title = "..."
    author = "Iraj Iskenderov"
    date = ""          # present but empty: explicitly unknown, overrides extraction
    # outlet missing:  falls back to whatever the file itself says

A catalog is a curated record, so mistakes in it are errors (naming file, document and
field) rather than silently ignored keys.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rag.errors import CatalogError
from rag.urls import safe_url

CATALOG_FIELDS = ("title", "author", "outlet", "date", "url", "notes")
OVERRIDABLE_FIELDS = ("title", "author", "outlet", "date", "url")


@dataclass(frozen=True)
class CatalogEntry:
    """One document's catalog values.

    None: the key is absent, so extraction decides. "": the key is present but empty,
    meaning "explicitly unknown", so the document gets None whatever extraction finds.
    Plain strings keep the entry JSON-friendly for index manifests.
    """

    title: str | None = None
    author: str | None = None
    outlet: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD or ""
    url: str | None = None
    notes: str | None = None

    def resolve(self, name: str, extracted: str | None) -> str | None:
        """The value for field `name`: the catalog's if present ("" -> None), else extracted."""
        if name not in OVERRIDABLE_FIELDS:
            raise ValueError(f"not a catalog metadata field: {name!r}")
        value: str | None = getattr(self, name)
        if value is None:
            return extracted
        return value or None


@dataclass(frozen=True)
class Catalog:
    """Catalog entries keyed by file name (not path: the catalog sits beside its files)."""

    entries: Mapping[str, CatalogEntry] = field(default_factory=lambda: MappingProxyType({}))
    path: Path | None = None

    def entry_for(self, file_name: str) -> CatalogEntry | None:
        return self.entries.get(file_name)


def load_catalog(path: Path) -> Catalog:
    """Read a catalog; a missing file is an empty catalog (cataloguing is optional)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Catalog(path=path)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the catalog ({exc.strerror or exc})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text; re-save the catalog as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    return Catalog(entries=MappingProxyType(_parse_documents(data, path)), path=path)


def _parse_documents(data: dict[str, Any], path: Path) -> dict[str, CatalogEntry]:
    unknown = sorted(set(data) - {"documents"})
    if unknown:
        raise CatalogError(
            f"{path}: unknown top-level key(s) {', '.join(map(repr, unknown))}; "
            'put entries under [documents."FILE_NAME"]'
        )
    documents = data.get("documents", {})
    if not isinstance(documents, dict):
        raise CatalogError(f'{path}: "documents" must be a table of [documents."FILE_NAME"] tables')
    entries: dict[str, CatalogEntry] = {}
    for name, table in documents.items():
        if not isinstance(table, dict):
            raise CatalogError(
                f'{path}: documents."{name}" must be a table with keys '
                f'{", ".join(CATALOG_FIELDS)}; write it as [documents."{name}"]'
            )
        entries[name] = _parse_entry(name, table, path)
    return entries


def _parse_entry(name: str, table: dict[str, Any], path: Path) -> CatalogEntry:
    where = f'{path}: documents."{name}"'
    unknown = sorted(set(table) - set(CATALOG_FIELDS))
    if unknown:
        raise CatalogError(
            f"{where}: unknown field {unknown[0]!r}; allowed fields: {', '.join(CATALOG_FIELDS)}"
        )
    values: dict[str, str | None] = {}
    for f in fields(CatalogEntry):
        if f.name not in table:
            continue
        value = table[f.name]
        if f.name == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = value.isoformat()  # TOML date literal: date = 2025-07-03
        if not isinstance(value, str):
            raise CatalogError(
                f'{where}: field "{f.name}" must be a string, got {type(value).__name__}; '
                f'quote it (use "" for unknown)'
            )
        values[f.name] = value.strip()
    _check_date(values.get("date"), where)
    _check_url(values.get("url"), where)
    return CatalogEntry(**values)


def _check_date(value: str | None, where: str) -> None:
    if not value:
        return
    try:
        dt.date.fromisoformat(value)
        valid = len(value) == 10
    except ValueError:
        valid = False
    if not valid:
        raise CatalogError(
            f'{where}: field "date" is {value!r}, not a date; write it as YYYY-MM-DD '
            f'(or "" if unknown)'
        )


def _check_url(value: str | None, where: str) -> None:
    if value and safe_url(value) is None:
        raise CatalogError(
            f'{where}: field "url" is {value!r}; write a full http(s):// URL (or "" if unknown)'
        )

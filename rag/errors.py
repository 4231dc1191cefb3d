"""Domain errors. They carry a message a user can act on; the CLI and UI turn them into
one-line messages at the edge, so library code never prints or exits."""

from __future__ import annotations

from pathlib import Path


class RagError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(RagError):
    """A setting is missing or invalid."""


class IngestError(RagError):
    """One input file cannot be ingested; the rest of the batch goes on."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class CatalogError(RagError):
    """The catalog file is malformed (named with the field at fault)."""


class IndexNotFoundError(RagError):
    """No index has been built at the given location yet."""


class IndexMismatchError(RagError):
    """The index was built with settings that differ from the running configuration."""


class IndexSchemaError(IndexMismatchError):
    """The index was written in another on-disk format (by another version of rag)."""

    def __init__(self, message: str, version: object, *, older: bool) -> None:
        super().__init__(message)
        self.version = version
        self.older = older  # written by an older rag: `rag ingest` may rebuild it


class IndexCorruptError(RagError):
    """Files in the index disagree with its manifest (truncated, edited or missing)."""


class EvalSetError(RagError):
    """An evaluation set line is invalid (named with line number and field)."""


class RunError(RagError):
    """A saved eval run folder is missing or malformed (named with file and line)."""


class LLMError(RagError):
    """The language-model endpoint failed; `reason` is one short line for a notice."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ContextTooLongError(LLMError):
    """The prompt exceeded the model's context window."""

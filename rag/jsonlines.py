"""Reading JSON-lines files whose every line is one object, with errors that name the line.

Eval sets, run results and the labelled support pairs are all such files; each caller
checks its own fields and raises its own error type."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def json_objects(
    text: str, source: Path | str, error: Callable[[str], Exception], hint: str = ""
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; `error("<source>:<line>: why")` is
    raised for a line that is not a JSON object, with `hint` (what to do) appended."""
    suffix = f"; {hint}" if hint else ""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{source}:{number}: not valid JSON ({exc.msg}){suffix}") from exc
        if not isinstance(value, dict):
            found = type(value).__name__
            raise error(f"{source}:{number}: expected a JSON object, found {found}{suffix}")
        yield number, value

"""Hostile lines cost time in proportion to their length, never more.

Each shape is a long line built to make a backtracking pattern rescan it (a run with no
space, a run of one character, a keyword repeated without spaces, a heading or byline
padded with digits or spaces). It goes through everything that reads a text file and
a PDF page (decoding, front matter, metadata, every cleaning rule, headings, inline
images), at 100 KB and at 400 KB: linear work takes about 4 times as long, a quadratic rule
16 times (before the fixes the e-mail rule took 95 s on 160 KB). The ratio is asserted
with a wide margin, a timing of the same machine against itself; the issue asks for it.
The sizes are a tenth of the issue's 1 MB and 4 MB: the ratio is the same, the test takes
a tenth of the time, and the cleaner before the fixes fails it (checked: the e-mail rule
on "address parts"). 10 MB lines are timed by `eval/hostile_bench.py`.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from rag.errors import IngestError
from rag.ingest import Catalog, load_document
from rag.ingest.clean import clean_pdf_pages

MB = 1_000_000
SMALL = 100_000
LINEAR = 4  # 400 KB / 100 KB
LIMIT = 10  # between linear (4) and quadratic (16)


def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


SHAPES = {
    "letters": lambda n: "a" * n,
    "digits": lambda n: "1" * n,
    "dots": lambda n: "." * n,
    "dashes": lambda n: "-" * n,
    "underscores": lambda n: "_" * n,
    "at signs": lambda n: "@" * n,
    "address parts": lambda n: _repeat("a.b-c@", n),
    "mixed punctuation": lambda n: _repeat("ab.cd@ef-gh/12,", n),
    "hex": lambda n: _repeat("0f", n),
    "cookie without spaces": lambda n: _repeat("cookie,", n),
    "image openers": lambda n: _repeat("![a](b", n),
    "heading padded with hashes": lambda n: "# a" + "#" * n + "x",
    "heading padded with spaces": lambda n: "# a" + " " * n + "x",
    "byline padded with digits": lambda n: "By John Published " + "1" * n + "x",
    "doubled name": lambda n: "ab" * (n // 2) + "x",
    "tags": lambda n: _repeat("<a>", n) + "x",
}


def _read_everything(line: str, path: Path) -> float:
    """Seconds to read `line` as a text file and as a PDF page."""
    path.write_text(line, encoding="utf-8")
    started = time.perf_counter()
    # A line that is all boilerplate is refused, which is fine, and still timed.
    with contextlib.suppress(IngestError):
        load_document(path, catalog=Catalog(), max_bytes=10 * MB)
    clean_pdf_pages([line])
    return time.perf_counter() - started


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_long_hostile_line_costs_linear_time(shape: str, tmp_path: Path) -> None:
    make = SHAPES[shape]
    small, large = make(SMALL), make(LINEAR * SMALL)
    path = tmp_path / "line.txt"
    one = min(_read_everything(small, path) for _ in range(2))
    four = _read_everything(large, path)
    if four > LIMIT * one:  # a busy machine: measure once more before failing
        four = min(four, _read_everything(large, path))
    assert four <= LIMIT * max(one, 0.01), (
        f"{shape}: {SMALL:,} characters took {one:.2f} s, {LINEAR * SMALL:,} took {four:.2f} s "
        f"({four / one:.1f}x; linear is {LINEAR}x)"
    )

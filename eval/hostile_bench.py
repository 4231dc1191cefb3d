"""Seconds to read hostile long lines (`load_document`: decoding, front matter, metadata,
cleaning, headings), per shape and size: prints figures, asserts nothing.

Each reading runs in its own process under a time cap, so a quadratic rule shows as
"> cap" instead of hanging the bench; run it with another checkout first on PYTHONPATH for
before/after figures. Issue 12 item 1: 40 KB, 160 KB, 1 MB and 10 MB lines without spaces.

    PYTHONPATH=. python eval/hostile_bench.py [--sizes 40000,160000,1000000,10000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SHAPES = {
    "no spaces (letters)": "a",
    "no spaces (address characters)": "a.b-c@",
    "no spaces (mixed punctuation)": "ab.cd@ef-gh/12,",
    "digits": "1",
}

_READ = """
import sys, time
from pathlib import Path
from rag.errors import IngestError
from rag.ingest import Catalog, load_document
started = time.perf_counter()
try:
    load_document(Path(sys.argv[1]), catalog=Catalog(), max_bytes=10**9)
except IngestError:
    pass
print(time.perf_counter() - started)
"""


def seconds_to_read(path: Path, cap: float) -> float | None:
    """Seconds `load_document` took in a fresh process (None: over the cap)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _READ, str(path)],
            check=True,
            timeout=cap,
            capture_output=True,
            text=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="40000,160000,1000000,10000000")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per reading")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="rag-hostile-") as tmp:
        path = Path(tmp) / "line.txt"
        print(f"{'shape':34}" + "".join(f"{size:>14,}" for size in sizes))
        for shape, unit in SHAPES.items():
            cells = []
            for size in sizes:
                path.write_text("Title\n\n" + (unit * (size // len(unit) + 1))[:size])
                took = seconds_to_read(path, args.cap)
                cells.append(f"> {args.cap:.0f} s" if took is None else f"{took:.2f} s")
            print(f"{shape:34}" + "".join(f"{cell:>14}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()

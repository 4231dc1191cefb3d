"""The injection eval: planted instructions must never come back as answers or quotes.

    PYTHONPATH=. python eval/injection/check.py [--index DIR]

Builds an index of the demo corpus plus eval/injection/docs (in a temporary folder unless
--index is given), asks the question aimed at each planted document (extractive backend)
and the questions of compare.txt (`rag compare`), and prints every answer sentence or
compare quote that shows a planted sentence. Exit 1 if any does."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from rag.assistant import Assistant  # noqa: E402
from rag.evaluation.injection import check, load_cases  # noqa: E402
from rag.settings import Settings  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="index folder to build or reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index = args.index or Path(scratch)
        assistant = Assistant(Settings(index_dir=index, collection="injection", _env_file=None))  # type: ignore[call-arg]
        report = assistant.ingest([ROOT / "corpus", HERE / "docs"])
        if not report.ok:
            print(f"ingest failed: {report.skipped}", file=sys.stderr)
            return 2
        cases = load_cases(HERE / "cases.jsonl")
        compare = [q for q in (HERE / "compare.txt").read_text().splitlines() if q.strip()]
        started = time.perf_counter()
        result = check(assistant, cases, compare)
        seconds = time.perf_counter() - started
    print(
        f"{result.questions} questions on {len(cases)} planted documents "
        f"({result.retrieved} retrieved theirs), "
        f"{result.compare_questions} compare questions, {result.shown} sentences shown, "
        f"{len(result.leaks)} planted sentences shown ({seconds:.1f} s)"
    )
    for leak in result.leaks:
        print(f"  {leak.where}: {leak.question}\n    {leak.text}")
    return 1 if result.leaks else 0


if __name__ == "__main__":
    sys.exit(main())

"""Calibrate the lexical support test behind citation recall/precision.

    python eval/calibrate_support.py [--pairs eval/support_pairs.jsonl]

Scores every hand-labelled (claim, passage) pair with `support_score`, prints accuracy,
precision, recall and F1 of `supports` over thresholds 0.30..0.95, the best threshold by
accuracy (ties to the higher one) and the pairs misclassified at the threshold in use
(`SUPPORT_THRESHOLD` in rag/evaluation/support.py). When the best threshold differs from
the one in use, set the constant to it: tests/test_eval_support.py checks they agree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rag.evaluation.support import (
    SUPPORT_THRESHOLD,
    best_row,
    calibrate,
    load_pairs,
    support_score,
)

DEFAULT_PAIRS = Path(__file__).resolve().parent / "support_pairs.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS, help="JSONL of pairs")
    args = parser.parse_args(argv)
    console = Console()
    try:
        pairs = load_pairs(args.pairs)
        rows = calibrate(pairs)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    n_supported = sum(p.supported for p in pairs)
    best = best_row(rows)
    table = Table(
        title=f"{len(pairs)} pairs ({n_supported} supported, {len(pairs) - n_supported} not)"
    )
    for name in ("threshold", "accuracy", "precision", "recall", "F1", "TP", "FP", "TN", "FN"):
        table.add_column(name, justify="right")
    for row in rows:
        marks = []
        if row.threshold == best.threshold:
            marks.append("best")
        if row.threshold == SUPPORT_THRESHOLD:
            marks.append("in use")
        label = f"{row.threshold:.2f}" + (f" ({', '.join(marks)})" if marks else "")
        table.add_row(
            label,
            f"{row.accuracy:.3f}",
            f"{row.precision:.3f}",
            f"{row.recall:.3f}",
            f"{row.f1:.3f}",
            *(str(n) for n in (row.tp, row.fp, row.tn, row.fn)),
        )
    console.print(table)
    console.print(
        f"best threshold by accuracy: {best.threshold:.2f} "
        f"(accuracy {best.accuracy:.3f}, precision {best.precision:.3f}, "
        f"recall {best.recall:.3f}, F1 {best.f1:.3f})"
    )
    if best.threshold != SUPPORT_THRESHOLD:
        console.print(
            f"[bold red]SUPPORT_THRESHOLD is {SUPPORT_THRESHOLD:.2f}; "
            f"set it to {best.threshold:.2f} in rag/evaluation/support.py[/]"
        )

    wrong = [
        (p, score)
        for p in pairs
        if ((score := support_score(p.claim, [p.passage])) >= SUPPORT_THRESHOLD) != p.supported
    ]
    console.print(f"\nmisclassified at SUPPORT_THRESHOLD = {SUPPORT_THRESHOLD:.2f}: {len(wrong)}")
    for pair, score in wrong:
        kind = "false support" if not pair.supported else "missed support"
        console.print(
            f"  {pair.id} {score:.2f} {kind}: {pair.claim}", markup=False, highlight=False
        )
        console.print(f"        why: {pair.note}", markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

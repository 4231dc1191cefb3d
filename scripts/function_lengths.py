"""The longest functions (and methods, and nested functions) of the given folders, by
lines from `def` to the last line of the body; exits 1 when one is over --max."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def lengths(root: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                size = (node.end_lineno or node.lineno) - start + 1
                found.append((size, f"{path}:{node.lineno} {node.name}"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--max", type=int, default=None, help="fail above this many lines")
    args = parser.parse_args()
    found = sorted((f for root in args.folders for f in lengths(root)), reverse=True)
    for size, where in found[: args.top]:
        print(f"{size:5d}  {where}")
    over = [f for f in found if args.max is not None and f[0] > args.max]
    if over:
        print(f"{len(over)} function(s) over {args.max} lines", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

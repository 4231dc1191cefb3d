"""The layering the code keeps: `rag` imports neither the app (`ui`) nor the evaluation
scripts (`eval`); the app's handlers work without Gradio; no function grows past 80 lines
(scripts/function_lengths.py lists the longest)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from function_lengths import lengths  # noqa: E402

MAX_LINES = 80
KNOWN_LONG: set[str] = set()  # none: every function fits


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("top", ["ui", "eval", "gradio"])
def test_rag_does_not_import_the_app_or_the_eval_scripts(top: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "rag").rglob("*.py"))
        for name in imported_modules(path)
        if name == top or name.startswith(top + ".")
    ]
    assert not offenders


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_in_rag() -> None:
    """Imports inside `rag` run one way (type-only and function-level imports included):
    a cycle means two modules that cannot be understood, or changed, one without the other."""
    modules = {_module_name(p): p for p in (ROOT / "rag").rglob("*.py")}

    def targets(name: str) -> set[str]:
        found = set()
        for imported in imported_modules(modules[name]):
            while imported and imported not in modules:  # rag.x.y names a name in rag.x
                imported = imported.rpartition(".")[0]
            if imported and imported != name and imported != "rag":
                found.add(imported)
        return found

    graph = {name: targets(name) for name in modules}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            pytest.fail(" -> ".join(cycle))


def test_the_handlers_run_without_gradio() -> None:
    code = "import sys, ui.handlers; sys.exit('gradio' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, "importing ui.handlers loaded gradio"


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for folder in ("rag", "ui"):
        for size, where in lengths(ROOT / folder):
            place, name = where.split(" ", 1)
            key = f"{Path(place.split(':')[0]).relative_to(ROOT)} {name}"
            if size > MAX_LINES and key not in KNOWN_LONG:
                long.append(f"{where} ({size} lines)")
    assert not long


def test_rag_serve_finds_the_app_by_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from rag.cli import app, web_app
    from ui.app import serve

    assert web_app() is serve  # declared in pyproject.toml (or the same, not yet installed)

    # another distribution declaring the app is found the same way, without rag naming it
    (tmp_path / "other_app.py").write_text(
        "calls = []\n\ndef serve(assistant, **options):\n    calls.append(options)\n",
        encoding="utf-8",
    )
    info = tmp_path / "other_app-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: other-app\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rag.apps]\nweb = other_app:serve\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(app, ["serve", "--port", "7999"])
    assert result.exit_code == 0, result.output
    import other_app  # type: ignore[import-not-found]

    assert other_app.calls == [{"host": "127.0.0.1", "port": 7999, "auth": None, "auth_file": None}]

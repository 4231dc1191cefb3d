"""Build the wheel, install it into a fresh venv outside the checkout, and use it from there.

Catches what an editable install hides: a prompt template, UI asset or data file that is
read from the source tree instead of the installed package, or that the wheel leaves out.

    python scripts/wheel_check.py [--full] [--keep]

Steps (each timed): copy the checkout's files (tracked and untracked, not ignored) to a
temporary folder and build the wheel there with this interpreter's setuptools (no build
isolation: nothing is fetched); check that every file under rag/ and ui/ is in it; make a
fresh venv and install the wheel alone (`--no-index`); then, from a folder outside the
checkout, with no PYTHONPATH and no HF_* variables, check where `rag` and `ui` are imported
from, render every shipped prompt, `rag ingest` a two-file corpus, `rag ask` a question it
answers, and `rag serve` the app until its page answers 200 with the app's own CSS and JS.

Dependencies: by default the fresh venv sees this venv's site-packages through a `.pth`
file (the pinned torch, gradio... are reused, not reinstalled: seconds, not minutes, and no
registry needed). `--full` installs the wheel with its dependencies from the configured
package index instead, which also checks the dependency list (minutes; needs the index).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "ui", "prompts")

DOCS = {
    "georgia.txt": (
        "Georgia and the European Union\n\nBy Nino Example\n\n"
        "Georgia applied for membership of the European Union in March 2022. "
        "The application was a response to the war in Ukraine. "
        "Tbilisi received candidate status in December 2023."
    ),
    "armenia.txt": (
        "Armenia and the CSTO\n\nBy Aram Example\n\n"
        "Armenia froze its participation in the CSTO in 2024. "
        "Yerevan said the alliance had failed to defend it in 2022."
    ),
}
QUESTION = "When did Georgia apply for membership of the European Union?"
EXPECTED = "March 2022"

RENDER = """
import json, sys
import rag, ui
from rag.prompts import answer_messages, load_prompt
from rag.settings import Settings
from rag.types import Chunk, DocumentMeta, Passage

prompts_dir = Settings(_env_file=None).prompts_dir
names = sorted(p.stem for p in prompts_dir.glob("*.md"))
text = "Georgia applied in March 2022."
meta = DocumentMeta(doc_id="d", source="d.txt", content_hash="0" * 64, title="T", author="A")
chunk = Chunk("d:0", "d", 0, text, 0, len(text))
messages = answer_messages("When?", [Passage(chunk, meta, 1.0, 1)], prompts_dir)
variables = {n: sorted(load_prompt(n, prompts_dir).variables) for n in names}
json.dump({"rag": rag.__file__, "ui": ui.__file__, "prompts_dir": str(prompts_dir),
           "templates": variables, "answer_roles": [m["role"] for m in messages],
           "answer_has_passage": "March 2022" in messages[-1]["content"]}, sys.stdout)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="install dependencies too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rag-wheel-check-"))
    try:
        wheel = build_wheel(tmp)
        check_contents(wheel)
        python = install(wheel, tmp / "venv", full=args.full)
        use_installed(python, tmp / "work")
    except CheckFailed as failure:
        print(f"wheel check FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"wheel check passed in {time.perf_counter() - started:.0f} s")
    return 0


class CheckFailed(Exception):
    pass


@contextmanager
def step(name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; its output in the failure message when it exits non-zero."""
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise CheckFailed(
            f"{' '.join(command)} exited {done.returncode}\n{done.stdout[-3000:]}"
            f"{done.stderr[-3000:]}"
        )
    return done.stdout


def source_files() -> list[str]:
    """The checkout as a clean clone plus uncommitted work would have it."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT)
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def build_wheel(tmp: Path) -> Path:
    """A wheel built from a copy, so no stale build/ folder in the checkout leaks into it."""
    with step("copy sources and build the wheel"):
        source = tmp / "src"
        for name in source_files():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
        command += ["--no-build-isolation", "--wheel-dir", str(tmp / "dist"), str(source)]
        run(command, cwd=tmp)
    wheels = sorted((tmp / "dist").glob("rag-*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"expected one rag wheel in {tmp / 'dist'}, found {wheels}")
    return wheels[0]


def check_contents(wheel: Path) -> None:
    """Every file of the packages (code, prompts, UI assets, data, templates) ships."""
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    expected = {
        name
        for name in source_files()
        if name.split("/", 1)[0] in PACKAGES and "__pycache__" not in name
    }
    missing = sorted(expected - shipped)
    if missing:
        raise CheckFailed(
            f"{wheel.name} lacks {', '.join(missing)}: add them to "
            "[tool.setuptools.package-data] in pyproject.toml"
        )
    print(f"  {wheel.name}: {len(shipped)} files, all {len(expected)} package files in it")


def install(wheel: Path, venv: Path, *, full: bool) -> Path:
    with step("fresh venv and install" + (" with dependencies" if full else "")):
        base = Path(getattr(sys, "_base_executable", sys.executable))
        run([str(base), "-m", "venv", str(venv)], cwd=venv.parent)
        python = venv / "bin" / "python"
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        if full:
            run([*pip, str(wheel)], cwd=venv.parent)
        else:
            run([*pip, "--no-deps", "--no-index", str(wheel)], cwd=venv.parent)
            purelib = run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=venv.parent,
            ).strip()
            # Appended after the venv's own site-packages: the installed rag wins, and the
            # editable install's finder (a .pth in that folder) is not run from here.
            reuse = sysconfig.get_paths()["purelib"]
            (Path(purelib) / "zz_reuse_dependencies.pth").write_text(reuse + "\n")
    return python


def clean_env() -> dict[str, str]:
    """No PYTHONPATH (the checkout must not be importable) and no HF_* / TRANSFORMERS_*
    variables: the installed package alone must keep the model off the hub."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and not k.startswith(("HF_", "TRANSFORMERS_", "RAG_"))
    }
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


def use_installed(python: Path, work: Path) -> None:
    env = clean_env()
    rag = str(python.parent / "rag")
    work.mkdir()
    venv = python.parent.parent.resolve()
    with step("imports and prompt templates"):
        found = json.loads(run([str(python), "-c", RENDER], cwd=work, env=env))
        for key in ("rag", "ui", "prompts_dir"):
            if not Path(found[key]).resolve().is_relative_to(venv):
                raise CheckFailed(f"{key} comes from {found[key]}, not from the venv {venv}")
        if not found["templates"] or not all(found["templates"].values()):
            raise CheckFailed(f"templates missing or without variables: {found['templates']}")
        if found["answer_roles"] != ["system", "user"] or not found["answer_has_passage"]:
            raise CheckFailed(f"the answer prompt rendered wrongly: {found}")
    print(f"  templates: {', '.join(found['templates'])}")
    with step("rag ingest (two small files)"):
        docs = work / "docs"
        docs.mkdir()
        for name, text in DOCS.items():
            (docs / name).write_text(text, encoding="utf-8")
        run([rag, "ingest", "docs"], cwd=work, env=env)
    with step("rag ask"):
        answer = json.loads(run([rag, "ask", QUESTION, "--json"], cwd=work, env=env))
        if answer["refused"] or EXPECTED not in answer["answer"] or not answer["citations"]:
            raise CheckFailed(f"rag ask did not answer {QUESTION!r} with a citation: {answer}")
    with step("rag serve (page answers 200)"):
        serve(rag, work, env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(rag: str, work: Path, env: dict[str, str]) -> None:
    """Start `rag serve`, wait for the page, check it carries the packaged CSS and JS."""
    port = free_port()
    log = work / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [rag, "serve", "--port", str(port)], cwd=work, env=env, stdout=out, stderr=out
        )
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/", server, log)
        css = (ROOT / "ui" / "style.css").read_text(encoding="utf-8")
        marker = next(line.strip() for line in css.splitlines() if line.strip().endswith("{"))
        if marker.rstrip("{").strip() not in page:
            raise CheckFailed(f"the page does not carry ui/style.css (looked for {marker!r})")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for_page(url: str, server: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed(f"rag serve exited {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return str(response.read().decode("utf-8", "replace"))
        except OSError:
            pass
        time.sleep(1)
    raise CheckFailed(f"{url} did not answer 200 within 180 s:\n{log.read_text()[-3000:]}")


if __name__ == "__main__":
    sys.exit(main())

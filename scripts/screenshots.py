"""Screenshots of each tab of the app, at desktop (1280 px) and narrow (420 px) widths.

    python scripts/screenshots.py [--out docs/screenshots] [--index PATH] [--eval-limit 12]

Launches the app on a free loopback port over the project index (build it first: `make
index`), drives a headless Chromium with Playwright (the system `chromium`; `playwright
install` is not needed), and writes <tab>-<desktop|narrow>.png. The Evaluate tab runs the
first --eval-limit questions of eval/questions.jsonl; its saved run goes to a temporary
folder, not eval/runs/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent

WIDTHS = {"desktop": 1280, "narrow": 420}
QUESTION = "What is Russia's role in Armenia?"
FOLLOW_UP = "And what about Georgia?"
COMPARE_QUESTION = "How has Russia's position in the South Caucasus changed?"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eval_subset(source: Path, limit: int, folder: Path) -> Path:
    """The first `limit` questions, taking the types in turn so each type shows."""
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line]
    by_type: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_type.setdefault(str(row["type"]), []).append(row)
    picked: list[dict[str, object]] = []
    while len(picked) < min(limit, len(rows)):
        for group in by_type.values():
            if group and len(picked) < limit:
                picked.append(group.pop(0))
    target = folder / "questions-sample.jsonl"
    target.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return target


def shoot(url: str, out: Path, chromium: str, has_compare: bool) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for label, width in WIDTHS.items():
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(url, wait_until="load")
                page.wait_for_selector("#chat")

                def snap(name: str, page=page, label=label) -> None:
                    path = out / f"{name}-{label}.png"
                    page.wait_for_timeout(400)
                    page.screenshot(path=str(path), full_page=True)
                    saved.append(path)
                    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

                snap("ask-start")
                box = page.locator("#question textarea")
                for text in (QUESTION, FOLLOW_UP):
                    box.fill(text)
                    box.press("Enter")
                    page.wait_for_function(
                        "n => document.querySelectorAll('#chat .message-row, #chat .message')"
                        ".length >= n && !document.querySelector('#chat .pending')",
                        arg=2,
                        timeout=180_000,  # the first answer waits for the model to load
                    )
                    page.wait_for_selector("#sources .source-card", timeout=60_000)
                    page.wait_for_timeout(800)
                page.wait_for_timeout(800)
                cites = page.locator("#chat a.cite")
                if cites.count():
                    cites.last.click()
                    page.wait_for_timeout(900)
                page.evaluate(
                    "() => { const log = document.querySelector('#chat [role=log]');"
                    " if (log) log.scrollTop = log.scrollHeight; window.scrollTo(0, 0); }"
                )
                snap("ask")

                page.get_by_role("tab", name="Compare").click()
                page.locator("#compare-question textarea").fill(COMPARE_QUESTION)
                page.locator("#compare-question textarea").press("Enter")
                if has_compare:
                    page.wait_for_selector("#comparison tr.perspective", timeout=120_000)
                else:
                    page.wait_for_timeout(2000)
                snap("compare")

                page.get_by_role("tab", name="Evaluate").click()
                page.get_by_role("button", name="Run evaluation").click()
                page.wait_for_selector("#eval-status .report", timeout=300_000)
                page.wait_for_timeout(1200)
                # the slider "Passages per question (k)" matches "Per question" too
                pick = page.get_by_role("combobox", name="Per question: pick one")
                pick.click()
                page.get_by_role("option").nth(1).click()
                page.wait_for_selector("#drilldown .drill", timeout=30_000)
                snap("evaluate")

                page.get_by_role("tab", name="Library").click()
                page.wait_for_selector("#library table.library")
                page.get_by_text("Settings in force", exact=False).click()
                snap("library")
                page.close()
        finally:
            browser.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--index", type=Path, default=None, help="index folder (RAG_INDEX_DIR)")
    parser.add_argument("--eval-limit", type=int, default=12)
    args = parser.parse_args()

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed: apt-get install -y chromium", file=sys.stderr)
        return 2

    from rag.assistant import Assistant
    from rag.settings import Settings
    from ui.app import launch

    settings = Settings(index_dir=args.index) if args.index else Settings()
    assistant = Assistant(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rag-screens-") as tmp:
        folder = Path(tmp)
        sample = eval_subset(ROOT / "eval" / "questions.jsonl", args.eval_limit, folder)
        port = free_port()
        demo = launch(
            assistant,
            port=port,
            prevent_thread_lock=True,
            quiet=True,
            runs_dir=folder / "runs",
            eval_set=sample,
        )
        try:
            print("Screenshots:")
            shoot(f"http://127.0.0.1:{port}/", args.out, chromium, hasattr(assistant, "compare"))
        finally:
            demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

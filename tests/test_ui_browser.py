"""The app in a real headless Chromium (Playwright): ask a question, follow a citation to
its source card, compare the authors. Screenshots go to test-artifacts/ (gitignored).

Needs the system `chromium` (Debian: apt-get install -y chromium); skipped without it.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import re
import shutil
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import eval_subset, free_port, llm_assistant
from playwright.sync_api import expect

from rag.assistant import Assistant

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
QUESTION = "Why has Russia lost influence in the South Caucasus?"
COMPARE_QUESTION = "How has Russia's position in the South Caucasus changed?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install -y chromium); "
        "Playwright drives the system browser",
    ),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


@pytest.fixture(scope="module")
def app_url(demo_app_url: str) -> str:
    return demo_app_url + "/"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    """A fresh page on the app; fails the test if it fetched anything off this machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    remote: list[str] = []

    def watch(request: Any) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http://", "https://")) and host not in ("127.0.0.1", None):
            remote.append(request.url)

    tab.on("request", watch)
    tab.goto(app_url, wait_until="load")
    tab.wait_for_selector("#chat")
    tab.wait_for_selector("#question textarea")
    yield tab
    context.close()
    assert not remote, f"the page fetched remote resources: {remote}"


@contextlib.contextmanager
def hostile_site() -> Iterator[str]:
    """A page of another origin (http://localhost:<another port>/), served by a thread."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<p>cat pictures</p>")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), Page) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://localhost:{server.server_address[1]}/"
        finally:
            server.shutdown()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_ask_then_follow_a_citation_to_its_source_card(page: Any) -> None:
    # example questions greet the first visit
    assert page.get_by_text(QUESTION.split("?")[0][:30], exact=False).count() >= 1

    box = page.locator("#question textarea")
    box.fill(QUESTION)
    box.press("Enter")
    page.wait_for_selector("#chat a.cite", timeout=60_000)
    page.wait_for_selector("#sources .source-card")

    cites = page.locator("#chat a.cite")
    assert cites.count() >= 1
    link = cites.last
    href = link.get_attribute("href")
    assert href and href.startswith("#source-")
    card = page.locator(href)
    assert card.count() == 1
    assert card.locator("mark").count() >= 1  # the cited sentence is highlighted

    link.click()
    page.wait_for_function(
        "id => document.getElementById(id).classList.contains('active')", arg=href[1:]
    )
    page.wait_for_timeout(700)  # smooth scrolling
    assert page.evaluate("location.hash") == href
    assert len(page.context.pages) == 1  # no new tab, no navigation
    visible = page.evaluate(
        """id => {
            const card = document.getElementById(id).getBoundingClientRect();
            const panel = document.getElementById('sources').getBoundingClientRect();
            const top = Math.max(panel.top, 0), bottom = Math.min(panel.bottom, innerHeight);
            return card.top < bottom && card.bottom > top;
        }""",
        href[1:],
    )
    assert visible, "the source card was not scrolled into view"
    shot(page, "ask-citation")


def test_compare_shows_one_row_per_author(page: Any, demo_assistant: Assistant) -> None:
    if not hasattr(demo_assistant, "compare"):
        pytest.skip("Assistant.compare has not landed yet")
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-question textarea").fill(COMPARE_QUESTION)
    page.locator("#compare-question textarea").press("Enter")
    page.wait_for_selector("#comparison tr.perspective", timeout=120_000)
    authors = page.locator("#comparison tr.perspective").evaluate_all(
        "rows => rows.map(r => r.dataset.author)"
    )
    expected = demo_assistant.compare(COMPARE_QUESTION, backend="extractive")
    assert len(authors) == len(expected.perspectives) >= 2
    known = [a for a in authors if a]
    assert len(set(known)) == len(known)  # one row per author
    assert page.locator("#comparison h3", has_text="Where they agree").count() == 1
    assert page.locator("#comparison h3", has_text="Where they diverge").count() == 1
    shot(page, "compare")


def test_uploads_work_from_the_app_and_are_refused_from_another_page(
    browser: Any, page: Any, app_url: str, tmp_path: Path
) -> None:
    from gradio.utils import get_upload_folder

    uploads = Path(get_upload_folder())
    mine = tmp_path / f"own-{tmp_path.name}.txt"
    mine.write_text("uploaded from the app's own page", encoding="utf-8")
    page.get_by_role("tab", name="Library").click()
    # The app accepts its own page's upload (the file may be added and deleted at once, so
    # the answer is checked, not the folder).
    with page.expect_response(lambda r: "gradio_api/upload" in r.url) as answered:
        page.locator("#tab-library input[type=file]").set_input_files(str(mine))
    assert answered.value.status == 200, "the app's own upload was refused"

    # a page of another origin, served on this machine too (a page from the web is
    # stopped by the browser itself before the app sees it)
    context = browser.new_context()
    hostile = context.new_page()
    with hostile_site() as site:
        hostile.goto(site)
    name = f"hostile-{tmp_path.name}.txt"
    sent = hostile.evaluate(
        """async ([url, name]) => {
            const form = new FormData();
            form.append("files", new Blob(["hostile"]), name);
            const options = {method: "POST", body: form, mode: "no-cors"};
            return (await fetch(url + "gradio_api/upload", options)).type;
        }""",
        [app_url, name],
    )
    context.close()
    assert sent == "opaque"  # the browser sent it and the app answered (403, unreadable here)
    assert not list(uploads.glob(f"*/{name}")), "a page of another origin could upload"


# ------------------------------------------------ Evaluate progress, contrast, names


def run_small_evaluation(page: Any, eval_set: Path) -> None:
    page.get_by_role("tab", name="Evaluate").click()
    page.locator('#tab-evaluate input[accept=".jsonl"]').set_input_files(str(eval_set))
    uploaded = page.get_by_role("radio", name="An uploaded JSONL file")
    for _ in range(100):  # the upload selects it
        if uploaded.is_checked():
            break
        page.wait_for_timeout(100)
    assert uploaded.is_checked()
    page.get_by_role("button", name="Run evaluation").click()


def test_evaluate_shows_one_progress_indicator_and_opens_the_report(
    page: Any, tmp_path: Path
) -> None:
    run_small_evaluation(page, eval_subset(tmp_path, {"f01", "f02", "f03", "u08"}))
    page.wait_for_selector(".progress-text", timeout=30_000)
    shown = page.evaluate(
        """() => [...document.querySelectorAll(
                '.progress-text, .progress-bar, .progress-level, .eta-bar, .meta-text'
            )].filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
              .map(e => e.className.split(' ')[0] + ' in #' + (e.closest('[id]') || {}).id)"""
    )
    assert shown, "no progress was shown during the run"
    assert [s for s in shown if s.startswith("progress-text")] == ["progress-text in #eval-status"]
    assert all(s.endswith("in #eval-status") for s in shown), shown
    shot(page, "evaluate-progress")

    link = page.locator("#eval-status .report-link a")
    link.wait_for(timeout=120_000)
    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    assert report.url.endswith("/report.html") and "/runs/" in report.url
    assert report.locator("table").count() >= 1  # the run's report, rendered as a page
    report.close()


def test_every_text_meets_wcag_aa_contrast(browser: Any, app_url: str) -> None:
    walker = (Path(__file__).parent / "contrast.js").read_text(encoding="utf-8")
    offenders: list[str] = []
    for theme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{app_url}?__theme={theme}", wait_until="load")
        page.wait_for_selector("#chat")

        def check(view: str, page: Any = page, theme: str = theme) -> None:
            page.wait_for_timeout(300)
            page.wait_for_function("!document.querySelector('.pending, .generating')")
            # A component that was pending fades back in: measure once the fade is over
            # (finite transitions only; a spinner's endless animation never ends).
            page.wait_for_function(
                """() => document.getAnimations().every(a => a.playState !== 'running'
                    || !isFinite(a.effect.getComputedTiming().endTime))"""
            )
            for _ in range(5):  # a transient state (a refresh on load) passes; a colour not
                found = page.evaluate(walker, 4.5)
                if not found:
                    break
                page.wait_for_timeout(1000)
            offenders.extend(f"{theme} {view}: {line}" for line in found)

        check("ask")
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#question textarea").press("Enter")
        page.wait_for_selector("#sources .source-card", timeout=60_000)
        page.locator("#sources details.more summary").first.click()
        page.get_by_role("button", name="Options").click()
        check("answer")
        page.get_by_role("tab", name="Compare").click()
        page.locator("#compare-question textarea").fill(COMPARE_QUESTION)
        page.locator("#compare-question textarea").press("Enter")
        page.wait_for_selector("#comparison tr.perspective", timeout=120_000)
        check("compare")
        page.get_by_role("tab", name="Evaluate").click()
        check("evaluate")
        page.get_by_role("tab", name="Library").click()
        page.get_by_role("button", name="Settings in force (read-only)").click()
        check("library")
        context.close()
    assert not offenders, "text under 4.5:1 contrast:\n" + "\n".join(offenders)


def test_text_boxes_are_named_by_their_labels(page: Any) -> None:
    # expect() retries until the timeout: the label is attached after the box renders.
    ask = page.get_by_role("textbox", name="Question", exact=True)
    expect(ask).to_have_count(1, timeout=10_000)
    assert ask.get_attribute("placeholder", timeout=5_000)
    expect(page.get_by_label("Question", exact=True)).to_have_count(1, timeout=10_000)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-question textarea").wait_for()
    compare = page.get_by_role("textbox", name="Question", exact=True)  # the visible one
    expect(compare).to_have_count(1, timeout=10_000)
    assert compare.evaluate("e => e.closest('[id]').id") == "compare-question"
    tree = page.locator("body").aria_snapshot()
    assert 'textbox "Textbox' not in tree and 'textbox "Question Ask"' not in tree
    assert 'textbox "Question Compare"' not in tree


def test_an_llm_answer_streams_into_the_chat(
    browser: Any, demo_assistant: Assistant, fake_openai: Any
) -> None:
    from ui.app import launch

    assistant = llm_assistant(
        demo_assistant, demo_assistant.embedder, fake_openai.base_url, llm_timeout_s=10.0
    )
    chunks = ["Russia lost ", "influence as ", "Azerbaijan grew ", "stronger [1]."]
    fake_openai.stream(chunks, pause_s=0.8)
    port = free_port()
    demo = launch(assistant, port=port, prevent_thread_lock=True, quiet=True, warm=False)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#question textarea").press("Enter")
        bot = page.locator("#chat .bot").last
        seen: list[str] = []
        for _ in range(200):
            text = bot.inner_text() if bot.count() else ""
            if text and (not seen or seen[-1] != text):
                seen.append(text)
            if page.locator("#chat a.cite").count():
                break
            page.wait_for_timeout(50)
        partial = [t for t in seen if "▍" in t]
        assert len(partial) >= 2, seen  # the text grew while the model wrote it
        assert all(len(a) < len(b) for a, b in itertools.pairwise(partial))
        assert "Russia lost" in partial[0] and "[1]" not in partial[0]
        page.wait_for_selector("#chat a.cite")
        assert "▍" not in bot.inner_text() and "Azerbaijan grew stronger" in bot.inner_text()
    finally:
        context.close()
        demo.close()


def ask(page: Any, question: str = QUESTION) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_selector("#chat a.cite", timeout=60_000)
    page.wait_for_selector("#sources .source-card")


def saved_conversation(page: Any) -> None:
    """Wait until the browser's store holds a conversation (written after the answer)."""
    page.wait_for_function("() => localStorage.getItem('rag-conversations')", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('#past-conversations input').value.length > 0"
    )


def test_copy_message_puts_plain_text_and_references_on_the_clipboard(
    page: Any, app_url: str
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url[:-1])
    ask(page)
    bot = page.locator("#chat [data-testid=bot]").last
    bot.hover()
    page.locator("#chat button[aria-label='Copy message']").last.click()
    page.wait_for_timeout(300)
    copied = page.evaluate("navigator.clipboard.readText()")
    answer, _, references = copied.partition("\n\nReferences\n")
    assert re.search(r"\[\d+\]", answer), copied
    assert "<" not in copied and "\\" not in copied and "href" not in copied
    cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer)})
    lines = references.splitlines()
    assert [int(re.match(r"\[(\d+)\] ", line).group(1)) for line in lines] == cited  # type: ignore[union-attr]
    # `[n] Title — Author, Outlet, date, URL`, as much as the document's metadata says
    assert all(re.match(r"\[\d+\] \S.*", line) for line in lines)
    assert any(re.match(r"\[\d+\] .+ — .+, ", line) for line in lines), references
    # what a screen reader is given is the text as it reads, not its Markdown source
    label = bot.get_attribute("aria-label")
    assert label.startswith("bot's message: ") and "<a" not in label and "\\" not in label
    # a question copies as typed, without Markdown escapes
    page.locator("#chat [data-testid=user]").last.hover()
    page.locator("#chat button[aria-label='Copy message']").first.click()
    page.wait_for_timeout(300)
    assert page.evaluate("navigator.clipboard.readText()") == QUESTION


def test_conversations_survive_a_reload_and_can_be_reopened_or_deleted(page: Any) -> None:
    ask(page)
    first = page.locator("#chat [data-testid=bot]").last.inner_text()
    saved_conversation(page)

    page.reload(wait_until="load")  # the conversation and its sources come back
    page.wait_for_selector("#chat a.cite", timeout=30_000)
    assert page.locator("#chat [data-testid=bot]").last.inner_text() == first
    link = page.locator("#chat a.cite").last
    href = link.get_attribute("href")
    link.click()
    page.wait_for_function(
        "id => document.getElementById(id).classList.contains('active')", arg=href[1:]
    )

    page.get_by_role("button", name="New conversation").click()
    page.wait_for_function("() => !document.querySelector('#chat [data-testid=bot]')")
    expect(page.locator("#sources .source-card")).to_have_count(0)
    page.locator("#past-conversations input").click()
    options = page.get_by_role("option")
    expect(options).to_have_count(1)
    assert QUESTION[:40] in options.first.inner_text()
    options.first.click()  # reopened
    page.wait_for_selector("#chat a.cite")
    page.wait_for_selector("#sources .source-card")
    assert page.locator("#chat [data-testid=bot]").last.inner_text() == first

    page.get_by_role("button", name="Delete").click()
    page.wait_for_function("() => !document.querySelector('#chat [data-testid=bot]')")
    page.wait_for_function(
        "() => !localStorage.getItem('rag-conversations') || "
        "!document.querySelector('#past-conversations input').value"
    )
    page.wait_for_timeout(500)
    page.reload(wait_until="load")
    page.wait_for_selector("#chat")
    page.wait_for_timeout(1500)
    assert page.locator("#chat [data-testid=bot]").count() == 0
    page.locator("#past-conversations input").click()
    assert page.get_by_role("option").count() == 0


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


RECT = "e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }"  # noqa: E501


@pytest.mark.parametrize("width", [420, 1280])
def test_each_answers_sources_are_one_tap_away_at_phone_and_desktop_width(
    browser: Any, app_url: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(app_url, wait_until="load")
        page.wait_for_selector("#chat")
        ask(page)
        ask(page, "And what about Georgia?")
        page.wait_for_function(
            "() => document.querySelectorAll('#chat a.sources-link').length >= 2"
        )
        shot(page, f"ask-{width}")

        # one tap on an earlier answer's "Sources" shows its cards in the viewport
        page.locator("#chat a.sources-link").first.click()
        page.wait_for_timeout(1000)  # smooth scrolling
        group = page.locator("#sources [id^='answer-']").nth(1)
        assert group.evaluate("e => e.closest('details').open")  # the earlier answer's cards
        box = group.evaluate(RECT)
        assert 0 <= box["top"] < 900, box
        card = group.locator("xpath=..").locator(".source-card").first.evaluate(RECT)
        assert card["top"] < 900 and card["bottom"] > 0, card
        shot(page, f"ask-sources-{width}")

        # the chat's scroll arrow covers no text
        page.locator("#chat [role=log]").hover()
        page.mouse.wheel(0, -600)
        page.wait_for_selector("#chat .scroll-down-button-container button")
        arrow = page.locator("#chat .scroll-down-button-container button").evaluate(RECT)
        texts = page.evaluate(
            """() => {
                const out = [];
                const walk = document.createTreeWalker(
                    document.querySelector('#chat [role=log]'), NodeFilter.SHOW_TEXT);
                for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                    if (!n.textContent.trim()) continue;
                    const range = document.createRange();
                    range.selectNodeContents(n);
                    for (const r of range.getClientRects())
                        out.push({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
                }
                return out;
            }"""
        )
        assert texts and not [t for t in texts if overlaps(t, arrow)], arrow

        # the upload box's label leaves its icon visible
        page.get_by_role("tab", name="Library").click()
        label = page.locator("#tab-library [data-testid=block-label]").first.evaluate(RECT)
        icon = page.locator("#tab-library [data-testid=upload-icon]").first.evaluate(RECT)
        assert not overlaps(label, icon), (label, icon)
        shot(page, f"library-{width}")
    finally:
        context.close()

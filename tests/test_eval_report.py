"""The HTML report of an eval run (`rag.evaluation.report`): synthetic runs, no model."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from rag.errors import RunError
from rag.evaluation.records import QuestionResult, RunSummary
from rag.evaluation.report import format_figure, highlight, link_citations, render_report
from rag.evaluation.runs import write_report
from rag.evaluation.scores import BY_NAME, format_number

SCRIPT = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PASSAGE_1 = (
    "In 2023 Armenia stopped taking part in CSTO exercises. Yerevan froze its participation "
    "in the CSTO in February 2024, citing the bloc's failure to act."
)
QUOTE_1 = "Yerevan froze its participation in the CSTO in February 2024"
PASSAGE_2 = "Russia's influence in the South Caucasus declined after 2020."
PASSAGE_EVIL = f"A passage with markup {SCRIPT} & an ampersand, and <b>bold</b>."


def _span(text: str, quote: str) -> list[int]:
    start = text.index(quote)
    return [start, start + len(quote)]


def sample_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A small run: two factual questions (one weak), a comparative and an unanswerable."""
    summary: dict[str, Any] = {
        "set": "eval/questions.jsonl",
        "k": 5,
        "backend": "extractive",
        "created": "2026-11-26T01:00:00",
        "duration_s": 31.2,
        "settings": {"embedding_model": "all-MiniLM-L6-v2", "chunk_size": 800, "hybrid": True},
        "overall": {
            "n": 3,
            "recall": 0.8943,
            "n_recall": 3,
            "mrr": 0.75,
            "n_mrr": 3,
            "key_hit": 0.5,
            "n_key_hit": 2,
            "false_refusal": 0.0,
            "n_false_refusal": 3,
            "retrieval_ms": 19.64,
            "n_retrieval_ms": 4,
        },
        "by_type": {
            "factual": {
                "n": 2,
                "recall": 0.75,
                "n_recall": 2,
                "mrr": 0.75,
                "n_mrr": 2,
                "key_hit": 0.5,
                "n_key_hit": 2,
                "retrieval_ms": 18.2,
                "n_retrieval_ms": 2,
            },
            "comparative": {"n": 1, "recall": 1.0, "n_recall": 1, "author_coverage": 1.0},
            "unanswerable": {"n": 1, "abstained": 1.0, "n_abstained": 1},
        },
        "answers": {"answer_key_hit_rate": 0.5, "n_keyed": 2, "nested": {"skip": 1}},
        "perspectives": {"author_coverage": 1.0, "false_addresses": 0},
        "judge": {"model": "judge-7b", "faithfulness": 0.67},
        "latency_ms": {"search_p50": 18.2, "search_p95": 25.0, "answer_p50": 40.1},
    }
    rows: list[dict[str, Any]] = [
        {
            "id": "f01",
            "type": "factual",
            "question": "When did Armenia freeze its CSTO participation?",
            "evidence": [{"quote": QUOTE_1, "doc_id": "doc", "start": 60, "end": 120}],
            "retrieved": [
                {
                    "rank": 1,
                    "chunk_id": "other#0",
                    "doc_id": "other",
                    "title": "Other",
                    "author": None,
                    "url": None,
                    "score": 0.91,
                    "text": PASSAGE_2,
                    "gold": [],
                },
                {
                    "rank": 2,
                    "chunk_id": "doc#3",
                    "doc_id": "doc",
                    "title": "Armenia and the CSTO",
                    "author": "Melvin",
                    "url": "https://example.org/armenia",
                    "score": 0.83,
                    "text": PASSAGE_1,
                    "gold": [_span(PASSAGE_1, QUOTE_1)],
                },
            ],
            "scores": {
                "recall": 1.0,
                "mrr": 0.5,
                "key_hit": 1.0,
                "citation_recall": 1.0,
                "false_refusal": 0.0,
                "retrieval_ms": 18.2,
                "answer_ms": 40.1,
                "prompt_tokens": None,
            },
            "answer": {
                "text": "Armenia froze its participation in February 2024 [1].",
                "refused": False,
                "backend": "extractive",
                "notice": None,
                "citations": [{"n": 1, "chunk_id": "doc#3", "quote": QUOTE_1}],
                "claims": [
                    {
                        "text": "Armenia froze its participation in February 2024",
                        "cited": [1],
                        "supported": True,
                        "score": 0.83,
                        "irrelevant": [],
                    }
                ],
            },
            "perspectives": None,
            "judge": {
                "faithfulness": 1.0,
                "claims": [{"claim": "Armenia froze it", "verdict": 1, "reason": "stated"}],
                "generated_questions": ["When did Armenia freeze it?"],
                "errors": ["answer_relevance: judge timed out"],
            },
            "errors": ["answer_relevance: judge timed out"],
        },
        {
            "id": "f02",
            "type": "factual",
            "question": f"What does {SCRIPT} do?",
            "evidence": [{"quote": "never retrieved", "doc_id": "doc", "start": 0, "end": 15}],
            "retrieved": [
                {
                    "rank": 1,
                    "chunk_id": "evil#0",
                    "doc_id": "evil",
                    "title": f"Evil {SCRIPT}",
                    "author": SCRIPT,
                    "url": "javascript:alert(1)",
                    "score": 0.5,
                    "text": PASSAGE_EVIL,
                    "gold": [],
                }
            ],
            "scores": {
                "recall": 0.5,
                "key_hit": 0.0,
                "citation_recall": 0.0,
                "false_refusal": 0.0,
                "retrieval_ms": 20.0,
                "answer_ms": 55.5,
            },
            "answer": {
                "text": f"It says {SCRIPT} [1] and [7], in [2024].",
                "refused": False,
                "backend": "openai",
                "notice": f"notice {SCRIPT}",
                "citations": [
                    {"n": 1, "chunk_id": "evil#0", "quote": SCRIPT},
                    {"n": 7, "chunk_id": "gone#1", "quote": None},
                ],
            },
            "perspectives": None,
            "judge": None,
            "errors": [f"error {SCRIPT}", f"notice {SCRIPT}"],
        },
        {
            "id": "c01",
            "type": "comparative",
            "question": "How do the authors see Turkey's role?",
            "evidence": [{"quote": "Russia's influence", "doc_id": "other", "start": 0, "end": 18}],
            "retrieved": [
                {
                    "rank": 1,
                    "chunk_id": "other#0",
                    "doc_id": "other",
                    "title": "Other",
                    "author": "Ana",
                    "url": "http://example.com/other",
                    "score": 0.7,
                    "text": PASSAGE_2,
                    "gold": [_span(PASSAGE_2, "Russia's influence")],
                }
            ],
            "scores": {"recall": 1.0, "author_coverage": 1.0, "retrieval_ms": 21.0},
            "answer": None,
            "perspectives": {
                "addressed": ["Ana", "Melvin"],
                "gold_authors": ["Ana"],
                "false_addresses": ["Melvin"],
                "coverage": 1.0,
                "attribution": 1.0,
            },
            "judge": None,
            "errors": [],
        },
        {
            "id": "u01",
            "type": "unanswerable",
            "question": "What is the recipe for khachapuri?",
            "evidence": [],
            "retrieved": [],
            "scores": {"abstained": 1.0, "retrieval_ms": 19.0, "answer_ms": 12.0},
            "answer": {
                "text": "The documents do not answer this question.",
                "refused": True,
                "backend": "extractive",
                "notice": None,
                "citations": [],
            },
        },
    ]
    return summary, rows


def render(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The report of a run given as its JSON (summary.json and the rows of results.jsonl)."""
    return render_report(RunSummary.from_json(summary), [QuestionResult.from_json(r) for r in rows])


class Tree(HTMLParser):
    """Checks nesting of the container tags and collects ids, links and table cells."""

    CHECKED = frozenset(
        (
            *("html", "head", "body", "main", "section", "header", "nav", "details", "summary"),
            *("table", "thead", "tbody", "tr", "th", "td", "ul", "ol", "li", "dl", "figure"),
            *("figcaption", "svg", "div", "p", "span", "a", "mark", "q", "title"),
        )
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []
        self.tables: list[list[list[tuple[str, str | None]]]] = []
        self._cell: list[str] | None = None
        self._cell_title: str | None = None
        self.marks: list[str] = []
        self._mark: list[str] | None = None
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.starts.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(attributes["id"] or "")
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell, self._cell_title = [], attributes.get("title")
        elif tag == "mark":
            self._mark = []
        if tag in self.CHECKED:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(("".join(self._cell).strip(), self._cell_title))
            self._cell = None
        if tag == "mark" and self._mark is not None:
            self.marks.append("".join(self._mark))
            self._mark = None
        if tag not in self.CHECKED:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.data.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._mark is not None:
            self._mark.append(data)


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    return tree


@pytest.fixture(scope="module")
def html() -> str:
    return render(*sample_run())


def test_well_formed(html: str) -> None:
    tree = parse(html)
    assert tree.errors == []
    assert tree.stack == []
    assert html.count("<details") == html.count("</details>") == 4
    assert html.count("<table") == html.count("</table>")
    assert len(tree.ids) == len(set(tree.ids)), "duplicate ids"


def test_summary_table(html: str) -> None:
    table = parse(html).tables[0]
    labels = [text for text, _ in table[1]]
    assert labels[:2] == ["type", "n"]
    assert "evidence recall@k" in labels[2]
    assert any("false refusal" in label and "better" in label for label in labels)
    assert not any("prompt tokens" in label or "citation recall" in label for label in labels)
    body = {row[0][0]: row for row in table[2:]}
    assert list(body) == ["factual", "comparative", "unanswerable", "overall"]
    column = {label.split(" ↓")[0]: i for i, label in enumerate(labels)}
    overall = body["overall"]
    assert overall[1][0] == "3"
    assert overall[column["evidence recall@k"]] == ("0.894", "n = 3")
    assert overall[column["retrieval ms"]] == ("19.6", "n = 4")
    assert overall[column["answer-key hit"]] == ("0.500", "n = 2")
    assert body["factual"][column["evidence recall@k"]][0] == "0.750"
    assert body["unanswerable"][column["evidence recall@k"]][0] == "—"
    assert body["unanswerable"][column["abstention (unanswerable)"]][0] == "1.000"
    # The extra blocks show the scalar figures only, and the judge model is in the header.
    assert "answer key hit rate" in html
    assert "nested" not in html
    assert "judge-7b" in html
    assert "embedding_model" in html and "all-MiniLM-L6-v2" in html


def test_gold_spans_marked_exactly(html: str) -> None:
    tree = parse(html)
    assert QUOTE_1 in tree.marks
    assert "Russia&#39;s influence" not in tree.marks and "Russia's influence" in tree.marks
    start, end = _span(PASSAGE_1, QUOTE_1)
    expected = f"{escape(PASSAGE_1[:start])}<mark>{escape(QUOTE_1)}</mark>{escape(PASSAGE_1[end:])}"
    assert expected in html
    # A passage without gold spans has no mark.
    assert str(escape(PASSAGE_EVIL)) in html


def test_highlight_merges_clamps_and_escapes() -> None:
    text = "a <b> c d e"
    assert str(highlight(text, [[2, 5], [4, 7], [100, 200], [9, 50], ["x", 1]])) == (
        "a <mark>&lt;b&gt; c</mark> d<mark> e</mark>"
    )
    assert str(highlight(text, [])) == "a &lt;b&gt; c d e"


def test_untrusted_text_is_escaped(html: str) -> None:
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    tree = parse(html)
    assert not any(tag == "script" for tag, _ in tree.starts)
    assert not any(tag == "b" for tag, _ in tree.starts)
    # A non-http(s) source URL is shown as text, never as a link.
    hrefs = [a.get("href") or "" for tag, a in tree.starts if tag == "a"]
    assert not any(h.lower().startswith("javascript:") for h in hrefs)


def test_no_external_resources(html: str) -> None:
    for tag, attributes in parse(html).starts:
        for name, value in attributes.items():
            if value and re.match(r"\s*(https?:)?//", value):
                assert (tag, name) == ("a", "href"), f"<{tag} {name}={value!r}>"
    assert tag_count(html, "link") == 0
    assert "@import" not in html and "url(" not in html
    # The source links of the passages are there, as plain links.
    assert 'href="https://example.org/armenia"' in html


def tag_count(html: str, tag: str) -> int:
    return sum(1 for t, _ in parse(html).starts if t == tag)


def test_citations_link_to_passages(html: str) -> None:
    tree = parse(html)
    ids = set(tree.ids)
    internal = [
        a["href"] for tag, a in tree.starts if tag == "a" and (a.get("href") or "")[:1] == "#"
    ]
    assert internal
    for href in internal:
        assert href is not None and href[1:] in ids, href
    # [1] of f01 cites doc#3, retrieved at rank 2.
    assert '<a class="cite" href="#q-f01-p2">1</a>' in html
    # [7] of f02 cites a passage that was not retrieved: shown, not linked; [2024] is no
    # citation at all.
    assert re.search(r'\[<span class="cite dangling" title="[^"]*">7</span>\]', html)
    assert ", in [2024]." in html


def test_link_citations_groups() -> None:
    out = str(link_citations("a [1, 2, 5] b [3] [9] <i>", {1: "x", 2: None, 3: "y"}))
    assert '[<a class="cite" href="#x">1</a>, <span class="cite dangling"' in out
    assert "</span>, 5] b" in out
    assert '[<a class="cite" href="#y">3</a>] [9] &lt;i&gt;' in out


def test_details_of_a_question(html: str) -> None:
    f01 = html[html.index('id="q-f01"') :]
    f01 = f01[: f01.index("</details>")]
    assert "When did Armenia freeze it?" in f01  # the judge's generated questions
    assert f01.count("judge timed out") == 1  # copied into the row's errors: shown once
    assert "0.83" in f01  # the claim's support score
    f02 = html[html.index('id="q-f02"') :]
    f02 = f02[: f02.index("</details>")]
    assert f02.count("notice &lt;script&gt;") == 1
    assert f02.count("error &lt;script&gt;") == 1


def test_passages_beyond_k_are_marked() -> None:
    summary, rows = sample_run()
    summary["k"] = 1
    html = render(summary, rows)
    assert html.count(">beyond k</span>") == 1  # f01's rank-2 passage


def test_flagged_questions_first(html: str) -> None:
    assert html.index('id="q-f02"') < html.index('id="q-f01"')
    assert "⚠" in html[html.index('id="q-f02"') : html.index('id="q-f01"')]
    # Types in the summary's order.
    positions = [html.index(f'id="type-{t}"') for t in ("factual", "comparative", "unanswerable")]
    assert positions == sorted(positions)


def test_charts(html: str) -> None:
    assert html.count('class="chart bars"') >= 4  # recall, mrr, key hit, abstention, ...
    assert html.count('class="chart histogram"') == 2
    assert "p50" in html and "p95" in html
    assert "retrieval time (ms)" in html


def test_empty_run_does_not_crash() -> None:
    summary, rows = sample_run()
    for row in rows:
        row["scores"] = {"recall": row["scores"].get("recall")}
    html = render(summary, rows)
    assert html.count(">no data</text>") == 2
    bare = render({}, [])
    assert parse(bare).errors == []
    assert "no data" in bare


def test_single_latency_value() -> None:
    summary, rows = sample_run()
    html = render(summary, rows[:1])
    assert "p50 18.2 ms" in html and "p95 18.2 ms" in html


def write_run(folder: Path, summary: Any, rows: list[dict[str, Any]]) -> None:
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    (folder / "results.jsonl").write_text(lines, encoding="utf-8")


def test_write_report(tmp_path: Path) -> None:
    summary, rows = sample_run()
    write_run(tmp_path, summary, rows)
    path = write_report(tmp_path)
    assert path == tmp_path / "report.html"
    assert path.read_text(encoding="utf-8") == render(summary, rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.html",
        "results.jsonl",
        "summary.json",
    ]


def test_write_report_errors(tmp_path: Path) -> None:
    summary, rows = sample_run()
    write_run(tmp_path, summary, rows)
    (tmp_path / "results.jsonl").unlink()
    with pytest.raises(RunError, match=r"results\.jsonl is missing"):
        write_report(tmp_path)
    (tmp_path / "results.jsonl").write_text('{"id": "a", "scores": {}}\n\nnot json\n')
    with pytest.raises(RunError, match=r"results\.jsonl:3: not valid JSON"):
        write_report(tmp_path)
    (tmp_path / "results.jsonl").write_text("[1]\n", encoding="utf-8")
    with pytest.raises(RunError, match=r"results\.jsonl:1: expected a JSON object"):
        write_report(tmp_path)
    (tmp_path / "summary.json").write_text("[]", encoding="utf-8")
    with pytest.raises(RunError, match=r"summary\.json: expected a JSON object"):
        write_report(tmp_path)
    (tmp_path / "summary.json").unlink()
    with pytest.raises(RunError, match=r"summary\.json is missing"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()
    assert not list(tmp_path.glob(".report-*"))


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_opens_offline_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    summary, rows = sample_run()
    write_run(tmp_path, summary, rows)
    url = write_report(tmp_path).as_uri()
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "request",
                lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url),
            )
            page.goto(url, wait_until="load")
            details = page.locator("details#q-f01")
            assert details.get_attribute("open") is None
            assert not page.locator("#q-f01-p2").is_visible()
            details.locator("summary").click()
            assert details.get_attribute("open") is not None
            details.locator('.answer a.cite[href="#q-f01-p2"]').click()
            assert page.locator("#q-f01-p2").is_visible()
            assert page.evaluate("location.hash") == "#q-f01-p2"
        finally:
            browser.close()
    assert problems == []


def test_one_number_format_for_shares_deltas_and_times() -> None:
    recall = BY_NAME["recall"]
    assert format_number(0.89449) == recall.format(0.89449) == "0.894"
    assert format_number(-0.0001) == "0.000"  # never -0.000
    assert format_number(0.05, signed=True) == recall.format(0.05, signed=True) == "+0.050"
    assert format_number(None) == recall.format(None) == "–"
    assert recall.format(-0.0001) == "0.000"
    assert recall.format(None, missing="—") == "—"
    assert format_figure("answer_ms_p50", 19.64) == "19.6"
    assert format_figure("tokens_total", 1234.5) == "1234.50"
    assert format_figure("questions", 71) == "71"

"""Metadata a file states about itself, and the catalog that overrides it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rag.errors import CatalogError, IngestError
from rag.ingest import Catalog, load_catalog
from rag.ingest.catalog import CatalogEntry
from rag.ingest.metadata import (
    ExtractedMeta,
    merge,
    meta_from_front_matter,
    meta_from_html,
    meta_from_pdf,
    meta_from_text,
    parse_byline,
    parse_date,
    split_front_matter,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-11-18 12:00:00 +0800", "2024-11-18"),
        ("July 3, 2025", "2025-07-03"),
        ("AUG 10 2025", "2025-08-10"),
        ("10 August 2025", "2025-08-10"),
        ("Sept. 1st, 2024", "2024-09-01"),
        ("2025/3/4", "2025-03-04"),
        ("D:20250304101500+01'00'", "2025-03-04"),
        (dt.date(2025, 1, 2), "2025-01-02"),
        (dt.datetime(2025, 1, 2, 23, 59), "2025-01-02"),
        ("03/04/2025", None),  # day/month order is ambiguous
        ("February 30, 2025", None),
        ("no date here", None),
        (None, None),
    ],
)
def test_parse_date(value: object, expected: str | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Written by Ali Askerov", ("Ali Askerov", None)),
        ("By AzeMedia Published July 3, 2025 10 Min Read", ("AzeMedia", "2025-07-03")),
        ("By Jean de la Fontaine", ("Jean de la Fontaine", None)),
        ("By John Smith | Updated on 3 May 2024", ("John Smith", "2024-05-03")),
        ("ALI ASKEROV, AUG 10 2025", ("Ali Askerov", "2025-08-10")),
        ("By using this site, you agree to the Privacy Policy and Terms of Use.", None),
        ("By 2030, the corridor should carry more freight.", None),
        ("By Monday, the army had left.", None),
        ("Written by hand, the letter arrived.", None),
        ("NATO, EU", None),
    ],
)
def test_parse_byline(line: str, expected: tuple[str, str | None] | None) -> None:
    assert parse_byline(line) == expected


def test_front_matter_is_parsed_and_removed() -> None:
    text = (CORPUS / "003_d0be66f4cb85011a.txt").read_text(encoding="utf-8")
    front, body = split_front_matter(text, Path("003.txt"))
    assert front["title"] == "Retying The Caucasian Knot"
    assert not body.startswith("---")
    assert "layout: post" not in body
    assert body.lstrip().startswith("_This paper explores")
    meta = meta_from_front_matter(front)
    assert meta == ExtractedMeta(
        title="Retying The Caucasian Knot", author="Neil Melvin", date="2024-11-18"
    )


def test_front_matter_value_types() -> None:
    front, body = split_front_matter(
        "---\ntitle: A Title\nauthors: [Ann Lee, Bo Chen]\ndate: 2025-01-02\n"
        "url: https://example.org/a\n---\nBody text.\n",
        Path("a.md"),
    )
    assert body == "Body text.\n"
    assert meta_from_front_matter(front) == ExtractedMeta(
        title="A Title", author="Ann Lee, Bo Chen", date="2025-01-02", url="https://example.org/a"
    )


def test_leading_horizontal_rule_is_not_front_matter() -> None:
    text = "---\nThe war began in 2020. It ended soon after.\n---\nMore text."
    assert split_front_matter(text, Path("a.txt")) == ({}, text)


def test_invalid_front_matter_is_an_error_naming_the_file() -> None:
    with pytest.raises(IngestError, match=r"broken\.md.*front matter is not valid YAML"):
        split_front_matter("---\ntitle: [unclosed\n---\nText.", Path("broken.md"))


BILLION_LAUGHS = (
    "---\ntitle: Laughs\n"
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "author: *i\n---\nText."
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (BILLION_LAUGHS, "uses a YAML alias (*name) (line 4), which is not allowed"),
        ("---\ntitle: x\nauthor: " + "[" * 5000 + "]" * 5000 + "\n---\nText.", "deeper than 20"),
        (
            "---\ntitle: x\n" + "".join("  " * i + f"k{i}:\n" for i in range(30)) + "---\nText.",
            "nests deeper than 20 levels",
        ),
        ("---\ntitle: x\nnotes: " + "y" * 70_000 + "\n---\nText.", "over the 65,536 allowed"),
    ],
    ids=["alias bomb", "deep flow nesting", "deep block nesting", "too large"],
)
def test_hostile_front_matter_is_a_one_line_refusal_of_the_file(text: str, reason: str) -> None:
    with pytest.raises(IngestError, match=r"hostile\.md") as refused:
        split_front_matter(text, Path("hostile.md"))
    assert reason in refused.value.reason and "\n" not in refused.value.reason


def test_front_matter_anchors_without_aliases_still_load() -> None:
    front, body = split_front_matter("---\ntitle: &t Hello\n---\nText.", Path("a.md"))
    assert front == {"title": "Hello"} and body == "Text."


def test_meta_from_text_urls_and_bylines() -> None:
    leading = "\n".join(
        [
            "Notice line",
            "",
            "<https://www.e-ir.info/2025/08/10/opinion/>",
            "ALI ASKEROV, AUG 10 2025",
            "Body sentence that is long enough to be prose in the text.",
        ]
    )
    assert meta_from_text(leading) == ExtractedMeta(
        author="Ali Askerov", date="2025-08-10", url="https://www.e-ir.info/2025/08/10/opinion/"
    )
    trailing = "Title\n\n  • Iraj Iskenderov\n\nBody.\n\nhttps://jam-news.net/article/\n"
    assert meta_from_text(trailing) == ExtractedMeta(
        author="Iraj Iskenderov", url="https://jam-news.net/article/"
    )
    consent = "By using this site, you agree to the Privacy Policy and Terms of Use.\nBody."
    assert meta_from_text(consent) == ExtractedMeta()


def test_meta_from_text_bare_by_line_only_before_the_body() -> None:
    prose = "This is an article sentence that is long enough to count as prose."
    late = "\n".join([prose, prose, prose, "By John Smith"])
    assert meta_from_text(late).author is None
    assert meta_from_text("\n".join(["Title", "By John Smith", prose])).author == "John Smith"


def test_meta_from_html_reads_title_and_meta_tags() -> None:
    html = (FIXTURES / "article.html").read_text(encoding="utf-8")
    assert meta_from_html(html, Path("article.html")) == ExtractedMeta(
        title="Border talks resume in Geneva",
        author="Nino Beridze",
        outlet="Caucasus Monitor",
        date="2025-03-04",
        url="https://monitor.example.org/2025/03/border-talks-resume",
    )


def test_meta_from_pdf_info() -> None:
    info = {"/Title": "Peace Talks", "/Author": "Jane Roe", "/CreationDate": "D:20250304"}
    assert meta_from_pdf(info) == ExtractedMeta(
        title="Peace Talks", author="Jane Roe", date="2025-03-04"
    )
    junk = {"/Title": "Microsoft Word - draft3.docx", "/CreationDate": "garbage"}
    assert meta_from_pdf(junk) == ExtractedMeta()
    assert meta_from_pdf(None) == ExtractedMeta()


def test_merge_takes_the_first_stated_value() -> None:
    first = ExtractedMeta(title="From front matter")
    second = ExtractedMeta(title="From text", author="From byline")
    assert merge(first, second) == ExtractedMeta(title="From front matter", author="From byline")


# --------------------------------------------------------------------------- catalog


def test_real_catalog_loads() -> None:
    catalog = load_catalog(CORPUS / "catalog.toml")
    entry = catalog.entry_for("002_350488f4c5f50c02.txt")
    assert entry is not None
    assert entry.author == "Vasif Huseynov"
    assert entry.resolve("author", "AzeMedia") == "Vasif Huseynov"
    assert entry.resolve("url", "https://extracted.example/") is None  # url = "" : unknown
    assert catalog.entry_for("missing.txt") is None


def test_entry_resolution_present_empty_and_missing() -> None:
    entry = CatalogEntry(title="Catalog title", author="")
    assert entry.resolve("title", "Extracted") == "Catalog title"
    assert entry.resolve("author", "Extracted") is None
    assert entry.resolve("date", "2025-01-01") == "2025-01-01"


def test_missing_catalog_is_empty(tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path / "catalog.toml")
    assert catalog.entry_for("anything.txt") is None
    assert Catalog().entry_for("anything.txt") is None


def test_toml_date_literal_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text('[documents."a.txt"]\ndate = 2025-07-03\n', encoding="utf-8")
    entry = load_catalog(path).entry_for("a.txt")
    assert entry is not None and entry.date == "2025-07-03"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[documents."a.txt"]\nauthr = "X"\n', r'documents\."a\.txt".*unknown field .authr.'),
        ('[documents."a.txt"]\nauthor = 3\n', r'documents\."a\.txt".*"author" must be a string'),
        ('[documents."a.txt"]\ndate = "3 July"\n', r'documents\."a\.txt".*"date".*YYYY-MM-DD'),
        ('[documents."a.txt"]\ndate = "20250703"\n', r'"date".*YYYY-MM-DD'),
        ('[documents."a.txt"]\nurl = "jam-news.net"\n', r'documents\."a\.txt".*"url".*http'),
        ('[documents."a.txt"]\nurl = "javascript:alert(1)"\n', r'"url".*http'),
        ('[documents."a.txt"]\nurl = "https:///no-host"\n', r'"url".*http'),
        ('[docs."a.txt"]\ntitle = "X"\n', r"unknown top-level key.*'docs'"),
        ('documents = "x"\n', r'"documents" must be a table'),
        ('[documents]\n"a.txt" = "title"\n', r'documents\."a\.txt" must be a table'),
        ('[documents."a.txt"\ntitle = "X"\n', r"not valid TOML"),
    ],
)
def test_catalog_errors_name_file_document_and_field(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(CatalogError, match=expected) as caught:
        load_catalog(path)
    assert str(path) in str(caught.value)

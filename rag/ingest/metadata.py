"""Metadata a file states about itself: front matter, bylines, URL lines, HTML meta tags and
PDF document info.

Extraction only reports what the file says; the catalog has the last word (see
`catalog.py`). Dates come out as ISO `YYYY-MM-DD` or not at all: a date we cannot read for
certain is better left unknown than guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from rag.errors import IngestError
from rag.urls import safe_url


@dataclass(frozen=True)
class ExtractedMeta:
    """Metadata found in a file; None means the file does not say."""

    title: str | None = None
    author: str | None = None
    outlet: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    url: str | None = None


def merge(*metas: ExtractedMeta) -> ExtractedMeta:
    """Field by field, the first source that states a value wins (most reliable first)."""
    values: dict[str, str | None] = {}
    for f in fields(ExtractedMeta):
        values[f.name] = next(
            (getattr(m, f.name) for m in metas if getattr(m, f.name) is not None), None
        )
    return ExtractedMeta(**values)


# ---------------------------------------------------------------------------- dates

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<year>\d{4})/(?P<mon>\d{1,2})/(?P<day>\d{1,2})(?!\d)"),
    re.compile(r"\bD:(?P<year>\d{4})(?P<mon>\d{2})(?P<day>\d{2})"),  # PDF date strings
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})\b", re.I),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(?P<year>\d{{4}})\b", re.I),
)


def parse_date(value: object) -> str | None:
    """ISO date for a date object or the first unambiguous date in a short string.

    Numeric day/month orders other than year-first (03/04/2025) are ambiguous across
    locales and deliberately not read.
    """
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    for pattern in _DATE_PATTERNS:
        match = pattern.search(value)
        if not match:
            continue
        groups = match.groupdict()
        month = _MONTHS[groups["month"].lower()] if groups.get("month") else int(groups["mon"])
        try:
            return dt.date(int(groups["year"]), month, int(groups["day"])).isoformat()
        except ValueError:
            continue
    return None


# ---------------------------------------------------------------------------- text lines

_PARTICLE = r"(?:de|van|von|der|den|al|el|bin|da|du|la|le|di|dos)"
_STOP = r"(?!(?:Published|Updated|Posted|On|Min)\b)"
_NAME_WORD = rf"{_STOP}[A-Z][\w’'.-]*"
_NAME = rf"{_NAME_WORD}(?:\s+(?:{_NAME_WORD}|{_PARTICLE})){{0,4}}"

_URL_LINE = re.compile(r"^\s*<?(?P<url>https?://[^\s<>]+?)>?\s*$")
_WRITTEN_BY = re.compile(rf"^\s*Written by\s+(?P<name>{_NAME})\s*$")
_BY_LINE = re.compile(
    rf"^\s*By\s+(?P<name>{_NAME})\s*"
    r"(?:[|,·–—-]\s*)?"
    r"(?:(?:Published|Updated|Posted)(?:\s+on)?:?\s+(?P<date>.*?))?"
    r"\s*(?i:\d+\s+min(?:ute)?s?\s+read)?\s*$"
)
_CAPS_NAME_DATE = re.compile(
    r"^\s*(?P<name>[A-Z][A-Z’'.-]+(?:\s+[A-Z][A-Z’'.-]+){1,3}),\s*(?P<date>[A-Z0-9 ,.]+)$"
)
# A byline is a short line. Longer ones are not tried: the patterns' lazy date followed by
# optional runs of digits and spaces backtrack quadratically on a long line.
_MAX_BYLINE_CHARS = 300
_BULLET_NAME = re.compile(rf"^\s*[•·▪]\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,3}})\s*$")


def parse_url_line(line: str) -> str | None:
    """The URL when the whole line is one URL, bare or in angle brackets (`<https://...>`)."""
    match = _URL_LINE.match(line)
    return match.group("url") if match else None


def parse_byline(line: str) -> tuple[str, str | None] | None:
    """(author, ISO date or None) when the whole line is a byline, else None.

    Recognised: "Written by X", "By X", "By X Published July 3, 2025 10 Min Read" and a
    print header "ALI ASKEROV, AUG 10 2025". "By" must be followed by capitalised name
    words, so "By using this site, ..." or "By 2030, ..." are not bylines.
    """
    if len(line) > _MAX_BYLINE_CHARS:
        return None
    if match := _WRITTEN_BY.match(line):
        return match.group("name"), None
    if match := _BY_LINE.match(line):
        name = match.group("name")
        date_text = match.group("date")
        date = parse_date(date_text) if date_text else None
        if date_text and date is None:
            return None
        return name, date
    if (match := _CAPS_NAME_DATE.match(line)) and (date := parse_date(match.group("date"))):
        return match.group("name").title(), date
    return None


def parse_bullet_name(line: str) -> str | None:
    """A lone bullet holding only a personal name ("  • Iraj Iskenderov"): a web byline."""
    match = _BULLET_NAME.match(line)
    return match.group("name") if match else None


def meta_from_text(text: str) -> ExtractedMeta:
    """Author, date and URL stated in plain text.

    A URL line counts at the start or the end; a bulleted name right under the headline
    counts as the author. A byline with a date ("By X Published July 3, 2025"), a "Written
    by X" running header and a print header ("NAME, DATE") count anywhere; a bare "By X"
    only before the article body (its third prose line), where it cannot be a quote.
    """
    lines = [line for line in text.split("\n") if line.strip()]
    head, tail = lines[:8], lines[-2:]
    url = next((u for line in head + tail if (u := parse_url_line(line))), None)
    author: str | None = None
    date: str | None = None
    prose_seen = 0
    for index, line in enumerate(lines):
        byline = parse_byline(line)
        if byline is None and index < 4:
            name = parse_bullet_name(line)
            byline = (name, None) if name else None
        if byline is None:
            prose_seen += is_prose(line)
            continue
        bare = byline[1] is None and line.lstrip().startswith("By ")
        if bare and prose_seen >= 3:
            continue
        author = author or byline[0]
        date = date or byline[1]
        if author and date:
            break
    return ExtractedMeta(author=author, date=date, url=url)


SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*$")


def is_prose(line: str) -> bool:
    """A line that reads as running text: a sentence of 8+ words, or any line of 25+ words.

    Cleaning never removes such a line on generic grounds (only specific block rules may),
    so real article sentences survive even when they resemble boilerplate.
    """
    words = line.split()
    return len(words) >= 25 or (len(words) >= 8 and bool(SENTENCE_END.search(line.rstrip())))


# ---------------------------------------------------------------------------- front matter

_FRONT_MATTER = re.compile(
    r"\A(?:\ufeff)?---[ \t]*\n(?P<body>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S
)
_YAML_KEY_LINE = re.compile(r"^[A-Za-z_][\w-]*\s*:")


MAX_FRONT_MATTER_CHARS = 65_536
MAX_FRONT_MATTER_DEPTH = 20


class _Refused(yaml.YAMLError):
    """Valid YAML that front matter may not use."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases and with a nesting limit.

    Front matter is a few `key: value` lines. An alias (`*name`) repeats a node by
    reference, so nested aliases expand exponentially (a 1 KB "billion laughs" became a
    1.9-billion-character author in 355 s and 5.8 GB); deep nesting overflows the
    recursive composer (RecursionError). Both are refused while composing, before
    anything is built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        line: int = self.peek_event().start_mark.line  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            raise _Refused("uses a YAML alias (*name)", line)
        if self._depth >= MAX_FRONT_MATTER_DEPTH:
            raise _Refused(f"nests deeper than {MAX_FRONT_MATTER_DEPTH} levels", line)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """(front-matter fields, text without them). No front matter gives ({}, text).

    A leading `---` block counts as front matter only when its first line is `key: value`,
    so a text that merely opens with a horizontal rule is left alone. Invalid YAML in a
    block that does look like front matter is an error, not silently indexed as text.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    body = match.group("body")
    first = next((ln for ln in body.split("\n") if ln.strip() and not ln.startswith("#")), "")
    if not _YAML_KEY_LINE.match(first):
        return {}, text
    if len(body) > MAX_FRONT_MATTER_CHARS:
        raise IngestError(
            path,
            f"front matter is {len(body):,} characters, over the {MAX_FRONT_MATTER_CHARS:,} "
            "allowed; shorten it or remove the --- block",
        )
    try:
        loaded = yaml.load(body, Loader=_FrontMatterLoader)  # a SafeLoader, see the class
    except _Refused as exc:
        raise IngestError(
            path,
            f"front matter {exc.problem} (line {exc.line + 2}), which is not allowed; write the "
            "values out plainly or remove the --- block",
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise IngestError(
            path,
            f"front matter is not valid YAML{where} ({problem}); fix it or remove the --- block",
        ) from exc
    if not isinstance(loaded, dict):
        raise IngestError(
            path, "front matter must be `key: value` lines; fix it or remove the --- block"
        )
    return {str(k): v for k, v in loaded.items()}, text[match.end() :]


def _text_value(value: object) -> str | None:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        names = [v for v in (_text_value(item) for item in value) if v]
        return ", ".join(names) or None
    if isinstance(value, Mapping):  # e.g. author: {name: ..., email: ...}
        return _text_value(value.get("name"))
    return None


def meta_from_front_matter(front: Mapping[str, Any]) -> ExtractedMeta:
    """Title, author, outlet, date and URL from common Jekyll/Hugo front-matter keys."""

    def first(*keys: str) -> Any:
        return next((front[k] for k in keys if front.get(k) not in (None, "")), None)

    url = _text_value(first("url", "canonical_url", "canonical", "source_url", "link"))
    return ExtractedMeta(
        title=_text_value(first("title")),
        author=_text_value(first("author", "authors", "byline")),
        outlet=_text_value(first("outlet", "publisher", "site_name", "source")),
        date=parse_date(first("date", "published", "publishdate", "pubDate", "published_at")),
        url=safe_url(url),
    )


# ---------------------------------------------------------------------------- HTML and PDF


def meta_from_html(html: str, path: Path) -> ExtractedMeta:
    """<title>/og:title, author meta, og:site_name, published time and canonical link.

    Uses trafilatura's `extract_metadata` without its "extensive" date search, which would
    guess a date from any number in the page.
    """
    from trafilatura import extract_metadata

    try:
        found = extract_metadata(html, extensive=False)
    except Exception as exc:  # trafilatura/lxml raise many types; report, never hide
        raise IngestError(
            path, f"cannot read the HTML metadata ({type(exc).__name__}: {exc}); check the file"
        ) from exc
    url = _text_value(getattr(found, "url", None))
    return ExtractedMeta(
        title=_text_value(getattr(found, "title", None)),
        author=_text_value(getattr(found, "author", None)),
        outlet=_text_value(getattr(found, "sitename", None)),
        date=parse_date(getattr(found, "date", None)),
        url=safe_url(url),
    )


_JUNK_PDF_TITLE = re.compile(
    r"(?i)^(untitled|document\d*|microsoft \w+ - .*|.*\.(docx?|pdf|indd|odt|rtf))$"
)


def meta_from_pdf(info: Mapping[str, Any] | None) -> ExtractedMeta:
    """Title, author and creation date from a PDF's document information dictionary.

    Word-processor placeholders ("Microsoft Word - draft.docx", "untitled") are not titles.
    The raw date string is parsed here, so a malformed date is simply unknown.
    """
    if info is None:
        return ExtractedMeta()
    title = _text_value(info.get("/Title"))
    if title and _JUNK_PDF_TITLE.match(title):
        title = None
    raw_date = info.get("/CreationDate")
    return ExtractedMeta(
        title=title,
        author=_text_value(info.get("/Author")),
        date=parse_date(str(raw_date)) if raw_date is not None else None,
    )

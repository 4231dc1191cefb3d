"""Checks on a generated answer: citation markers, unsafe markup, the refusal phrase.

Pure functions on strings; no I/O.

Citation markers recognised (one *group* is one pair of square brackets):

* `[1]`, and several groups side by side: `[1][3]`, `[1] [3]`
* lists: `[1, 2]`, `[1,2]`, `[1; 2]`
* ranges: `[1-3]` or `[1–3]` (en dash) meaning 1, 2, 3; a range may span at most
  `MAX_RANGE` numbers and must ascend, otherwise the group is not a citation
* an optional label in front of the numbers, as weak models write it: `[Passage 2]`,
  `[passages 1, 3]`, `[passages 1 and 3]`, `[Source 4]`, `[doc 1]`, `[Document 2-3]`

Not citations: `[1](https://...)` (a markdown link label), `[^1]` (a footnote), `[a]`,
`[1.5]`, `[]`, and numbers that are part of a bigger bracketed text (`[see 1]`).

`validate_citations` rewrites every citation group into the canonical form `[1][3]`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from rag.sentences import split_sentences

__all__ = [
    "MAX_RANGE",
    "CitationCheck",
    "is_cannot_answer",
    "parse_citations",
    "strip_unsafe_markup",
    "validate_citations",
]

MAX_RANGE = 50

_ITEM = r"\d{1,4}(?:\s*[-–]\s*\d{1,4})?"
_GROUP_TEMPLATE = (
    r"\[\s*(?:(?:passages?|sources?|docs?|documents?)\s*)?"
    rf"({_ITEM}(?:(?:\s*[,;]\s*(?:and\s+)?|\s+and\s+){_ITEM})*)\s*\]"
    r"(?!\()"  # `[1](url)` is a link
)
_GROUP = re.compile(_GROUP_TEMPLATE.replace("(\\d", "(?P<body>\\d", 1), re.IGNORECASE)
# A run of groups separated by nothing or by blanks, rewritten as one unit.
_ANY_GROUP = _GROUP_TEMPLATE.replace("(\\d", "(?:\\d", 1)
_RUN = re.compile(rf"{_ANY_GROUP}(?:[ \t]*{_ANY_GROUP})*", re.IGNORECASE)
_NUMBER_OR_RANGE = re.compile(r"(\d{1,4})(?:\s*[-–]\s*(\d{1,4}))?")


def _numbers_in_group(body: str) -> list[int] | None:
    """The numbers a group's body cites, or None if the body is not a valid citation."""
    numbers: list[int] = []
    for m in _NUMBER_OR_RANGE.finditer(body):
        low = int(m.group(1))
        if m.group(2) is None:
            numbers.append(low)
            continue
        high = int(m.group(2))
        if high < low or high - low + 1 > MAX_RANGE:
            return None
        numbers.extend(range(low, high + 1))
    return numbers


def _groups(text: str) -> Iterable[tuple[re.Match[str], list[int]]]:
    for m in _GROUP.finditer(text):
        numbers = _numbers_in_group(m.group("body"))
        if numbers is not None:
            yield m, numbers


def _unique(numbers: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(numbers))


def parse_citations(text: str) -> list[int]:
    """Every number cited in `text`, each once, in order of first appearance.

    The numbers are taken as written (`[0]` and `[99]` are included); use
    `validate_citations` to check them against the passages given.
    """
    return _unique(n for _, numbers in _groups(text) for n in numbers)


@dataclass(frozen=True)
class CitationCheck:
    """The outcome of `validate_citations`.

    `text`: the answer with citations to passages that were not given removed and every
    citation group rewritten as `[1][3]`; `cited`: valid passage numbers in order of first
    use; `removed`: the invalid numbers that were dropped, in order of first appearance;
    `uncited_sentences`: sentences of `text` that state something but cite nothing.
    """

    text: str
    cited: tuple[int, ...]
    removed: tuple[int, ...]
    uncited_sentences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.removed and not self.uncited_sentences


def validate_citations(text: str, n_passages: int) -> CitationCheck:
    """Check the citation markers of `text` against passages numbered 1..`n_passages`."""
    cited: list[int] = []
    removed: list[int] = []

    def rewrite(run: re.Match[str]) -> str:
        groups = list(_groups(run.group(0)))
        if len(groups) != len(_GROUP.findall(run.group(0))):
            return run.group(0)  # holds something like `[3-1]`: not a citation, leave it
        numbers = [n for _, group_numbers in groups for n in group_numbers]
        keep = _unique(n for n in numbers if 1 <= n <= n_passages)
        cited.extend(keep)
        removed.extend(n for n in numbers if not 1 <= n <= n_passages)
        return "".join(f"[{n}]" for n in keep)

    cleaned = _RUN.sub(rewrite, text)
    if removed:
        cleaned = _tidy(cleaned)
    valid = _unique(cited)

    uncited: list[str] = []
    for start, end in split_sentences(cleaned):
        sentence = cleaned[start:end]
        if not _needs_citation(sentence):
            continue
        if not any(1 <= n <= n_passages for n in parse_citations(sentence)):
            uncited.append(sentence)
    return CitationCheck(
        text=cleaned,
        cited=tuple(valid),
        removed=tuple(_unique(removed)),
        uncited_sentences=tuple(uncited),
    )


def _tidy(text: str) -> str:
    """Remove the blanks a dropped marker leaves: `claim [7].` -> `claim.`. Runs of blanks
    are collapsed first, so no pattern rescans a long run (linear)."""
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]([.,;:!?])", r"\1", text)
    return re.sub(r"[ \t]$", "", text, flags=re.MULTILINE)


_MIN_CLAIM_WORDS = 4
_ABOUT_THE_SOURCES = re.compile(
    r"\b(?:passages?|documents?|sources?|texts?|context)\b[^.!?]*"
    r"\b(?:do|does|did)\s*(?:not|n['’]t)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _needs_citation(sentence: str) -> bool:
    """Whether a sentence makes a claim that ought to carry a citation."""
    bare = _GROUP.sub("", sentence).strip()
    if bare.endswith("?") or bare.rstrip("\"'”’)»").endswith("?"):
        return False  # a question
    if len(_WORD.findall(bare)) < _MIN_CLAIM_WORDS:
        return False  # a fragment, heading or list label
    if is_cannot_answer(bare):
        return False
    # "The passages do not say when ..." is about the sources, not a claim from them.
    return not _ABOUT_THE_SOURCES.search(bare)


# --- the refusal phrase ---------------------------------------------------------------

_REFUSAL = re.compile(
    r"(?:answer\s*:\s*)?"
    r"(?:(?:i\s*a?m\s+|i['’]m\s+)?sorry\s*,?\s*(?:but\s+)?)?"
    r"(?:unfortunately\s*,?\s*)?"
    r"(?:the\s+)?(?:provided\s+|given\s+|supplied\s+|available\s+|above\s+)?"
    r"(?:documents?|passages?|sources?|texts?|context)\s+"
    r"(?:do|does)\s*(?:not|n['’]t)\s+"
    r"(?:answer|address|contain\s+(?:an?\s+|the\s+)?answer\s+to)\s+"
    r"(?:this|that|the|your)(?:\s+(?:question|query))?",
    re.IGNORECASE,
)


def is_cannot_answer(text: str) -> bool:
    """Whether `text` is (a small variation of) the refusal phrase, and nothing else.

    Tolerates case, surrounding whitespace, quotes, markdown emphasis, trailing punctuation,
    citation markers, `don't`, `passages`/`sources` for `documents`, a trailing `question`,
    and a leading `Sorry,` or `Answer:`. A refusal followed by more text is not a refusal.
    """
    bare = _GROUP.sub("", text)
    bare = re.sub(r"\s+", " ", bare).strip()
    bare = bare.strip(" \"'“”‘’*_`")
    bare = bare.rstrip(" .!")
    bare = bare.strip(" \"'“”‘’*_`")
    return _REFUSAL.fullmatch(bare) is not None


# --- unsafe markup --------------------------------------------------------------------

_URL_IN_PARENS = r"(?:[^()\s>]|\([^()\s]*\))*"  # allows one level of balanced parentheses
_MD_IMAGE = re.compile(
    rf"!\[[^\[\]\n]{{0,1000}}\]\(\s*<?(?P<url>{_URL_IN_PARENS})>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)"
)
_MD_REF_IMAGE = re.compile(r"!\[[^\[\]\n]{0,1000}\]\[[^\[\]\n]{0,200}\]")
_MD_LINK = re.compile(
    r"(?<!!)\[(?P<text>[^\[\]\n]{0,1000})\]\("
    rf"\s*<?(?P<url>{_URL_IN_PARENS})>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)"
)
_MD_REF_DEF = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]*<?(?P<url>\S+?)>?(?:[ \t]+.*)?$", re.MULTILINE)
_HTML_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_HTML_LINK = re.compile(
    r"<a\b[^>]*?\bhref\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<uq>[^\s>]+))[^>]*>"
    r"(?P<text>(?:[^<]|<(?!/?a\b))*?)</a\s*>",
    re.IGNORECASE | re.DOTALL,
)
_ACTIVE_ELEMENTS = (
    "script|style|iframe|object|svg|video|audio|picture|form|textarea|noscript|template|math"
)
_HTML_ELEMENT = re.compile(
    rf"<(?P<tag>{_ACTIVE_ELEMENTS})\b[^>]*>(?:[^<]|<(?!/?(?P=tag)\b))*?</(?P=tag)\s*>",
    re.IGNORECASE | re.DOTALL,
)
_HTML_LONE_TAG = re.compile(
    rf"</?(?P<tag>{_ACTIVE_ELEMENTS}|embed|source|link|meta|base|input|button|frame|frameset|a)"
    r"\b[^>]*>",
    re.IGNORECASE,
)
_AUTOLINK = re.compile(r"<(?P<url>(?:(?:https?|ftp)://|www\.)[^>\s]+)>", re.IGNORECASE)
_BARE_URL = re.compile(
    r"(?P<url>(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+?)(?=[.,;:!?)\]}'\"]*(?:\s|$))",
    re.IGNORECASE,
)


# A host and a path without a scheme ("attacker.example/login"): a reader types it in. It
# starts a token only, and its host part cannot backtrack (possessive), so it stays linear.
_DOMAIN_PATH = re.compile(
    r"(?<![\w@./:-])(?P<url>(?:[a-z0-9-]++\.)++[a-z]{2,63}/[^\s<>\"'`]*?)"
    r"(?=[.,;:!?)\]}'\"]*(?:\s|$))",
    re.IGNORECASE,
)


def _http(url: str) -> str | None:
    """The URL as a browser reads it (entities decoded, `www.` given a scheme), if http(s)."""
    url = html.unescape(url.strip())
    if url.lower().startswith("www."):
        url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _where(url: str) -> str:
    """A removed URL as a notice names it: host and path, no scheme (not a live link)."""
    target = _http(url)
    if target is None:
        return url.strip()[:60] or "an empty URL"
    parts = urlsplit(target)
    host, path = parts.hostname or "", parts.path.rstrip("/")
    shown = path if len(host + path) <= 60 else "/…" + path[-max(12, 58 - len(host)) :]
    return host + shown + ("?…" if parts.query else "")


def strip_unsafe_markup(text: str, allowed_urls: set[str]) -> tuple[str, list[str]]:
    """Remove images, active HTML and every link that is not one of `allowed_urls`.

    * Markdown images (`![alt](url)`, `![alt][ref]`) and HTML `<img>` tags are removed
      entirely, whatever their URL.
    * Markdown links, HTML `<a>` links and `<url>` autolinks keep their text but lose the
      URL unless it equals one of `allowed_urls` exactly (after HTML entities are decoded);
      bare URLs are removed unless equal. The caller allows the URLs of the passages the
      answer cites: a document cannot vouch for its host, so another page of the same site
      (which a planted instruction could name) is removed too. Only http(s) URLs can be
      allowed (`javascript:`, `data:`, relative URLs never are).
    * Active HTML elements (`<script>`, `<iframe>`, `<svg>`, `<form>`, ...) are removed
      with their content; lone tags of that kind (and `<embed>`, `<meta>`, ...) too.

    Returns the cleaned text and one note per removal, e.g. `removed image evil.com/p.png`.
    """
    cleaner = _Cleaner({url for u in allowed_urls if (url := _http(u))})
    out = text.replace("\x00", "")
    out = _MD_IMAGE.sub(cleaner.drop_image, out)
    out = _MD_REF_IMAGE.sub(cleaner.drop_ref_image, out)
    out = _HTML_IMG.sub(cleaner.drop_html_img, out)
    out = _HTML_LINK.sub(cleaner.html_link, out)
    out = _HTML_ELEMENT.sub(cleaner.drop_element, out)
    out = _HTML_LONE_TAG.sub(cleaner.drop_element, out)
    out = _MD_LINK.sub(cleaner.md_link, out)
    out = _MD_REF_DEF.sub(cleaner.ref_def, out)
    out = _AUTOLINK.sub(cleaner.autolink, out)
    out = _BARE_URL.sub(cleaner.bare_url, out)
    out = _DOMAIN_PATH.sub(cleaner.bare_url, out)
    if cleaner.notes:
        out = _tidy(out)
        out = re.sub(r"\(\s*\)", "", out)  # "(see URL)" left as "()"
        out = _tidy(out).strip()
    out = re.sub("\x00(\\d+)\x00", lambda m: cleaner.kept[int(m.group(1))], out)
    return out, cleaner.notes


class _Cleaner:
    """The replacements of `strip_unsafe_markup`, one per pattern, noting each removal.
    Allowed links are swapped for numbered placeholders so later passes leave them be."""

    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        self.notes: list[str] = []
        self.kept: list[str] = []

    def keep(self, s: str) -> str:
        self.kept.append(s)
        return f"\x00{len(self.kept) - 1}\x00"

    def is_allowed(self, url: str) -> bool:
        target = _http(url)
        return target is not None and target in self.allowed

    @staticmethod
    def where(url: str) -> str:
        return _where(url)

    def drop_image(self, m: re.Match[str]) -> str:
        self.notes.append(f"removed image {self.where(m.groupdict().get('url') or '')}".rstrip())
        return ""

    def drop_ref_image(self, m: re.Match[str]) -> str:
        self.notes.append("removed image (reference)")
        return ""

    def drop_html_img(self, m: re.Match[str]) -> str:
        src = re.search(r"\bsrc\s*=\s*[\"']?([^\"'\s>]*)", m.group(0), re.IGNORECASE)
        self.notes.append(f"removed image {self.where(src.group(1)) if src else '(html)'}")
        return ""

    def drop_element(self, m: re.Match[str]) -> str:
        self.notes.append(f"removed HTML <{m.group('tag').lower()}> element")
        return ""

    def _link(self, m: re.Match[str], url: str, what: str, kept_text: str) -> str:
        label_ok = all(self.is_allowed(u.group("url")) for u in _BARE_URL.finditer(kept_text))
        if self.is_allowed(url) and label_ok:
            return self.keep(m.group(0))
        suffix = " (kept its text)" if kept_text else ""
        self.notes.append(f"removed {what} to {self.where(url)}{suffix}")
        return kept_text

    def html_link(self, m: re.Match[str]) -> str:
        url = m.group("dq") or m.group("sq") or m.group("uq") or ""
        return self._link(m, url, "link", m.group("text"))

    def md_link(self, m: re.Match[str]) -> str:
        return self._link(m, m.group("url"), "link", m.group("text"))

    def ref_def(self, m: re.Match[str]) -> str:
        return self._link(m, m.group("url"), "link definition", "")

    def autolink(self, m: re.Match[str]) -> str:
        return self._link(m, m.group("url"), "URL", "")

    def bare_url(self, m: re.Match[str]) -> str:
        url = m.group("url")
        if self.is_allowed(url):
            return m.group(0)
        self.notes.append(f"removed URL to {self.where(url)}")
        return ""

"""Rule-based, explainable removal of web and print boilerplate from captured text.

Every rule is a small named function that returns the indices of the lines it removes;
`clean_text` applies them all and reports each removed line with the name of the first
rule that claimed it, so a user can see why any line went.

Safety principle: a line that reads as prose (`metadata.is_prose`: a sentence of 8+
words, or 25+ words) is never removed on generic grounds such as being short or repeated. Only rules
that recognise a specific phrase (a consent prompt, a conversion notice, a trailing
publisher disclaimer) or a delimited block (a related-articles list, a site footer) may
remove a sentence.
"""

from __future__ import annotations

import functools
import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.ingest.metadata import (
    SENTENCE_END,
    is_prose,
    parse_bullet_name,
    parse_byline,
    parse_date,
    parse_url_line,
)
from rag.invisible import describe, strip_invisible


@dataclass(frozen=True)
class Removal:
    """One removed line and the rule that removed it (or, for a rule that removes
    characters, what it removed and how many)."""

    rule: str
    line: str
    count: int = 1


@dataclass(frozen=True)
class CleanResult:
    """Cleaned text plus the removed lines, in document order."""

    text: str
    removed: tuple[Removal, ...]


@dataclass(frozen=True)
class Context:
    """What every rule sees: the original lines (right-stripped) and the document title."""

    lines: tuple[str, ...]
    title: str | None = None

    @functools.cached_property
    def nonblank(self) -> list[int]:
        """Indices of the non-blank lines, for rules that count lines from either end."""
        return [i for i, line in enumerate(self.lines) if line.strip()]

    @functools.cached_property
    def bare(self) -> tuple[str, ...]:
        """`_bare` of every line, computed once for all rules."""
        return tuple(_bare(line) for line in self.lines)

    @functools.cached_property
    def prose(self) -> tuple[bool, ...]:
        """`is_prose` of every line, computed once for all rules."""
        return tuple(is_prose(line) for line in self.lines)


Rule = Callable[[Context], set[int]]

_BULLET = re.compile(r"^\s*[•·▪◦►‣]\s*")


def _bare(line: str) -> str:
    """The line without bullet, surrounding space and repeated inner whitespace."""
    return " ".join(_BULLET.sub("", line).split())


def _key(line: str) -> str:
    return _bare(line).casefold()


def _lines_where(ctx: Context, test: Callable[[str], bool], *, protect: bool = True) -> set[int]:
    """Indices of non-blank lines whose bare text passes `test` (prose lines skipped)."""
    prose = ctx.prose
    return {
        i for i, bare in enumerate(ctx.bare) if bare and not (protect and prose[i]) and test(bare)
    }


def _full_match(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?i)^(?:" + "|".join(patterns) + r")\s*[.!:]?$")


# --------------------------------------------------------------------------- phrase rules

_CONVERSION_NOTICE = re.compile(
    r"(?i)\bthis (?:pdf|document|file|page|version) (?:is|was|has been) "
    r"(?:auto(?:matically)?[- ]?generated|generated automatically|converted)"
    r"|\bmay contain (?:some )?conversion errors"
    r"|\bplease refer to the official version\b"
)


def conversion_notice(ctx: Context) -> set[int]:
    """Converter notices: "This PDF is auto-generated for reference only ..."."""
    return _lines_where(ctx, lambda s: bool(_CONVERSION_NOTICE.search(s)), protect=False)


_CONSENT_PHRASE = re.compile(
    r"(?i)\bby (?:using|continuing to use|browsing|visiting|accessing) (?:this|our) "
    r"(?:web ?)?site\b|\b(?:this|our) (?:web ?)?site uses cookies\b|\bwe use cookies\b"
)
_COOKIE = re.compile(r"(?i)\bcookies?\b")
_CONSENT_WORD = re.compile(r"(?i)\b(?:you agree|you consent|accept|consent|preferences|settings)\b")
_CONSENT_BUTTON = _full_match(
    r"accept(?: all)?(?: cookies)?",
    r"reject(?: all)?",
    r"decline",
    r"i agree",
    r"agree",
    r"got it",
    r"ok",
    r"allow(?: all)?(?: cookies)?",
    r"(?:manage|cookie) (?:cookie )?(?:preferences|settings|options)",
)


def _cookie_prompt(s: str) -> bool:
    """ "cookie" and then a consent word: two searches, where one pattern (`cookies?.*consent`)
    rescans the rest of the line from every "cookie" on it (quadratic)."""
    cookie = _COOKIE.search(s)
    return cookie is not None and _CONSENT_WORD.search(s, cookie.end()) is not None


def cookie_consent(ctx: Context) -> set[int]:
    """Cookie and terms-consent prompts ("By using this site, you agree ...") and their
    lone buttons ("Accept"). A site-addressed phrase ("by using this site", "we use
    cookies") removes even a sentence-like line of up to 40 words; an article sentence
    that merely mentions cookies has no such phrase and is kept."""
    addressed = _lines_where(
        ctx, lambda s: len(s.split()) <= 40 and bool(_CONSENT_PHRASE.search(s)), protect=False
    )
    prompts = _lines_where(ctx, _cookie_prompt)
    return addressed | prompts | _lines_where(ctx, lambda s: bool(_CONSENT_BUTTON.match(s)))


_SIGN_IN = _full_match(
    r"welcome back!?",
    r"sign in(?: to your account)?",
    r"log ?in(?: to your account)?",
    r"lost your password\??",
    r"forgot(?: your)? password\??",
    r"remember me",
    r"create an account",
    r"register",
    r"sign up",
    r"log ?out",
    r"sign out",
    r"my account",
    r"don[’']t have an account\?.*",
    r"username or e-?mail(?: address)?",
    r"password",
)


def sign_in_prompt(ctx: Context) -> set[int]:
    """Account prompts: "Welcome Back!", "Sign in to your account", "Lost your password?"."""
    return _lines_where(ctx, lambda s: bool(_SIGN_IN.match(s)))


_NETWORK = (
    r"(?:facebook|twitter|x|linkedin|whatsapp|telegram|instagram|youtube|pinterest|reddit|vk"
    r"|email|e-mail|print|copy link)"
)
_SHARE = _full_match(
    r"follow us(?: on .{1,40})?",
    r"share(?: this)?(?: article| post| story| page)?(?: on .{1,20})?",
    r"share via",
    r"tweet",
    rf"{_NETWORK}(?:\s+{_NETWORK})*",
)


def share_follow(ctx: Context) -> set[int]:
    """Share and follow buttons: "Follow US", "Share", rows of network names."""
    return _lines_where(ctx, lambda s: bool(_SHARE.match(s)))


_CHROME = _full_match(
    r"search(?: for)?",
    r"font resizer\w*",
    r"menu",
    r"main menu",
    r"close",
    r"home",
    r"skip to (?:main )?content",
    r"toggle navigation",
    r"(?:back|scroll) to top",
    r"load more",
    r"read more",
    r"subscribe(?: now)?",
    r"newsletter",
    r"advertisement",
    r"sponsored",
)
_LOGO = re.compile(r"(?i)(?:^|[\s_.-])logo(?:\d*|s)(?:$|[\s_.-])")


def _doubled(s: str) -> bool:
    """A name rendered twice ("Aze.MediaAze.Media"): compared directly, because the
    backreference pattern for it backtracks quadratically on a long line."""
    half, odd = divmod(len(s), 2)
    return not odd and half >= 3 and not s[0].isspace() and s[:half] == s[half:]


def site_chrome(ctx: Context) -> set[int]:
    """Page furniture: "Search", "Font ResizerAa", logo alt-text ("Azemedia new logo",
    "aze-media-logo-ag1") and a site name rendered twice ("Aze.MediaAze.Media")."""

    def test(s: str) -> bool:
        short_logo = len(s.split()) <= 6 and bool(_LOGO.search(s))
        return bool(_CHROME.match(s)) or short_logo or _doubled(s)

    return _lines_where(ctx, test)


_LEGAL_ITEM = (
    r"(?:privacy(?: policy| notice| statement)?|terms(?: (?:and|&) conditions| of (?:use|service))?"
    r"|cookies? policy|disclaimer|imprint|impressum|accessibility(?: statement)?"
    r"|contact(?: us)?|about(?: us)?|advertise(?: with us)?|sitemap|editorial policy|who we are)"
)
_LEGAL = re.compile(rf"(?i)^{_LEGAL_ITEM}(?:\s*[|/·•,]\s*{_LEGAL_ITEM})*$")


def legal_links(ctx: Context) -> set[int]:
    """Footer link lists: "Privacy Policy", "Terms and Conditions", "Cookies Policy"."""
    return _lines_where(ctx, lambda s: bool(_LEGAL.match(s)))


# --------------------------------------------------------------------------- line shapes


def navigation_menu(ctx: Context) -> set[int]:
    """Runs of three or more short bullet lines ("  • Home", "  • Opinion"): a site menu.

    Only web-capture bullets (•, ·, ▪ ...) count; Markdown "-"/"*" lists are content.
    """
    removed: set[int] = set()
    run: list[int] = []
    for i, line in enumerate([*ctx.lines, ""]):
        item = bool(_BULLET.match(line)) and len(_bare(line).split()) <= 4
        if item and not SENTENCE_END.search(line):
            run.append(i)
            continue
        if len(run) >= 3:
            removed.update(run)
        run = []
    return removed


_CRUMB_SEPARATOR = re.compile(r"\s+[>›»]\s+")


def breadcrumb(ctx: Context) -> set[int]:
    """Breadcrumb trails: "Aze.Media > Opinion > The South Caucasus is set for ..."."""

    def test(s: str) -> bool:
        parts = _CRUMB_SEPARATOR.split(s)
        return (
            len(parts) >= 3
            and len(parts[0].split()) <= 3
            and all(0 < len(p.split()) <= 15 for p in parts)
        )

    return _lines_where(ctx, test)


_MIN_READ = re.compile(r"(?i)^\d+\s+min(?:ute)?s?\s+read$")
_PUBLISHED = re.compile(r"(?i)^(?:published|updated|posted)(?: on)?:?\s+(?P<date>.+)$")


def byline(ctx: Context) -> set[int]:
    """Byline lines: "Written by X", "By X Published DATE N Min Read", a print header
    "ALI ASKEROV, AUG 10 2025", "Published: DATE", "N Min Read", a bulleted author name
    right under the headline, and a lone author-name line just above a "By X" line."""
    removed: set[int] = set()
    nonblank = ctx.nonblank
    for rank, i in enumerate(nonblank):
        line = _bare(ctx.lines[i])
        if is_prose(ctx.lines[i]):
            continue
        found = parse_byline(line)
        if found is None and rank < 4 and parse_bullet_name(ctx.lines[i]):
            removed.add(i)
            continue
        published = _PUBLISHED.match(line)
        if _MIN_READ.match(line) or (published and parse_date(published.group("date"))):
            removed.add(i)
            continue
        if found is None:
            continue
        removed.add(i)
        if rank > 0:
            previous = nonblank[rank - 1]
            if _key(ctx.lines[previous]) == found[0].casefold():
                removed.add(previous)
    return removed


_DATE_LABEL_WORD = re.compile(r"^[A-Z][\w.-]*$")


def dateline(ctx: Context) -> set[int]:
    """Teaser date labels: "Opinion July 7, 2025", "July 8, 2025 9 Min Read",
    "AzeMedia July 3, 2025 July 3, 2025" (a date plus at most three label words)."""

    def test(s: str) -> bool:
        if len(s.split()) > 12 or SENTENCE_END.search(s) or not parse_date(s):
            return False
        rest = re.sub(r"(?i)\b\d+\s+min(?:ute)?s?\s+read\b", " ", s)
        for _ in range(3):  # a label may repeat the date (published and updated)
            rest = _strip_first_date(rest)
        words = rest.replace(",", " ").split()
        return len(words) <= 3 and all(_DATE_LABEL_WORD.match(w) for w in words)

    return _lines_where(ctx, test)


_ANY_DATE = re.compile(
    r"(?i)\b(?:\d{4}-\d{2}-\d{2}|\d{4}/\d{1,2}/\d{1,2}"
    r"|[a-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+[a-z]{3,9}\.?,?\s+\d{4})\b"
)


def _strip_first_date(text: str) -> str:
    for match in _ANY_DATE.finditer(text):
        if parse_date(match.group()):
            return text[: match.start()] + " " + text[match.end() :]
    return text


_MD_IMAGE_LINE = re.compile(r"^(?:!\[[^\]]*\]\([^)]*\)\s*)+$")
_HTML_IMAGE_LINE = re.compile(r"(?i)^<img\b[^>]*>$|^\[(?:image|img|photo)(?::[^\]]*)?\]$")


def image_reference(ctx: Context) -> set[int]:
    """Image embeds: Markdown `![image01](https://...)`, `<img>` tags, "[Image]" stubs.

    Figure captions ("Figure 1: ... Source: ...") stay: the text refers to them.
    """
    return _lines_where(ctx, lambda s: bool(_MD_IMAGE_LINE.match(s) or _HTML_IMAGE_LINE.match(s)))


_IMAGE_EXTENSION = re.compile(r"(?i)\.(?:jpe?g|png|gif|webp|svg|avif|bmp|tiff?)$")
_DIMENSIONS = re.compile(r"\d{2,5}x\d{1,5}\b")
_COMMA_JOINED = re.compile(r"^\w+(?:,\w+){3,}$")
_YEAR = re.compile(r"^(?:19|20)\d{2}$")


def _hash_like(token: str) -> bool:
    """Digits and hex/base-36 runs that only occur in generated file names."""
    if token.isdigit():
        return len(token) >= 5 and not _YEAR.match(token)
    digits = sum(c.isdigit() for c in token)
    if re.fullmatch(r"(?i)[0-9a-f]{6,}", token):
        return digits >= 2 and digits < len(token)
    return len(token) >= 16 and token.isalnum() and digits >= 3


def image_file_name(ctx: Context) -> set[int]:
    """Image file names and alt-text left where a picture was: "... afp pool.jpg",
    "Southern caucasus en.1000x0", "Beautiful,national,state,flags", hash-like lines
    ("426082d1 a9e4 ... pojkz9...", "1751655102 986642bab...")."""

    def test(s: str) -> bool:
        tokens = s.split()
        if len(tokens) > 12 or SENTENCE_END.search(s):
            return False
        hashes = sum(_hash_like(t) for t in tokens)
        return bool(
            _IMAGE_EXTENSION.search(s)
            or _DIMENSIONS.search(s)
            or _COMMA_JOINED.match(s)
            or hashes >= 2
            or (hashes > 0 and hashes * 4 >= len(tokens))
        )

    return _lines_where(ctx, test)


_CREDIT = re.compile(
    r"(?i)^(?:photo|photograph|image|picture|credit|photo credit|illustration)s?\s*(?::|by\b)"
    r"|(?:getty images|afp|reuters|ap photo|shutterstock|tass|epa)(?:/[\w ]+)?$"
)


def photo_credit(ctx: Context) -> set[int]:
    """Stand-alone photo credits and captions: "Photo: ...", "... / Getty Images"."""
    return _lines_where(ctx, lambda s: len(s.split()) <= 15 and bool(_CREDIT.search(s)))


_COPYRIGHT = re.compile(r"(?i)^(?:©|\(c\)\s|copyright\b)|\ball rights reserved\b")


def copyright_footer(ctx: Context) -> set[int]:
    """Copyright footers: "© 2021 Aze.Media – Daily Digest", "All rights reserved"."""
    return _lines_where(ctx, lambda s: len(s.split()) <= 20 and bool(_COPYRIGHT.search(s)))


# Starts only where a run of address characters starts, and never gives back what a run
# took: one pass over a line, where the plain pattern rescans a long run from each of its
# characters (quadratic: 160,000 characters without a space took 95 s).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++")


def contact_email(ctx: Context) -> set[int]:
    """Short contact lines built around an address: "Email: editor@aze.media"."""
    return _lines_where(ctx, lambda s: len(s.split()) <= 6 and bool(_EMAIL.search(s)))


def source_url(ctx: Context) -> set[int]:
    """A line holding only a URL at the start (first 8 lines) or end (last 2) of the text:
    where the capture tool recorded the source. Metadata extraction reads it first."""
    nonblank = ctx.nonblank
    edges = nonblank[:8] + nonblank[-2:]
    return {i for i in edges if parse_url_line(ctx.lines[i])}


_MARKUP_LINE = re.compile(r"^(?:<[^<>]+>\s*)+$|^<!--.*-->$")


def stray_markup(ctx: Context) -> set[int]:
    """Lines that are only tags, like Jekyll's `<excerpt/>` or `<!-- more -->`."""
    return _lines_where(ctx, lambda s: bool(_MARKUP_LINE.match(s)) and parse_url_line(s) is None)


_PAGE_NUMBER = re.compile(
    r"(?i)^(?:page\s+)?\d{1,3}(?:\s*(?:of|/)\s*\d{1,3})?$|^[-–—]\s*\d{1,3}\s*[-–—]$"
)


def page_number(ctx: Context) -> set[int]:
    """Page numbers left by print conversion: "12", "Page 3 of 9", "- 4 -". Four digits
    are left alone: a year on its own line is more likely than page 1000."""
    return _lines_where(ctx, lambda s: bool(_PAGE_NUMBER.match(s)))


_LOWER_FRAGMENT = re.compile(r"^[a-z][a-z-]*(?: [a-z][a-z-]*)?$")


def stray_fragment(ctx: Context) -> set[int]:
    """A lone one- or two-word lower-case label between blank lines ("commonspace"):
    source tags and widget labels. Headings and sentences are never all lower-case
    fragments on a line of their own."""
    lines = ctx.lines

    def isolated(i: int) -> bool:
        before = i == 0 or not lines[i - 1].strip()
        after = i == len(lines) - 1 or not lines[i + 1].strip()
        return before and after

    return {i for i in _lines_where(ctx, lambda s: bool(_LOWER_FRAGMENT.match(s))) if isolated(i)}


def running_header(ctx: Context) -> set[int]:
    """Running headers and repeated labels: a short non-sentence line seen 2+ times, and
    the document title repeated as a line after its first use.

    The first copy stays when it is the headline that print headers repeat: the given
    title, or a stand-alone, unbulleted, title-like line among the first ten lines.
    Skipped: Markdown headings, label lines ending in ":" and lines without letters
    ("* * *"), which legitimately repeat.
    """
    lines = ctx.lines
    counts = Counter(_key(line) for line in lines if line.strip())
    title = " ".join(ctx.title.split()).casefold() if ctx.title else None
    head = set(ctx.nonblank[:10])
    removed: set[int] = set()
    seen: set[str] = set()
    for i, line in enumerate(lines):
        key = _key(line)
        if not key:
            continue
        first = key not in seen
        seen.add(key)
        if key == title:
            if not first:
                removed.add(i)
            continue
        if (
            counts[key] < 2
            or is_prose(line)
            or len(key.split()) > 12
            or not any(c.isalpha() for c in key)
            or key.startswith("#")
            or key.endswith(":")
        ):
            continue
        if first and i in head and _is_headline(lines, i):
            continue
        removed.add(i)
    return removed


def _is_headline(lines: Sequence[str], i: int) -> bool:
    """A stand-alone, unbulleted line in title case or capitals."""
    alone = (i == 0 or not lines[i - 1].strip()) and (
        i == len(lines) - 1 or not lines[i + 1].strip()
    )
    text = lines[i].strip()
    return alone and not _BULLET.match(lines[i]) and (_is_title_case(text) or _is_all_caps(text))


# --------------------------------------------------------------------------- blocks

_RELATED_MARKER = _full_match(
    r"you (?:might|may) also like",
    r"related(?: articles| posts| stories| news| content)?",
    r"new articles",
    r"latest(?: articles| news| posts| stories)?",
    r"more stories",
    r"read also",
    r"recommended(?: for you| articles| stories)?",
    r"most (?:read|popular)",
    r"popular(?: posts| articles| stories)?",
    r"trending(?: now)?",
    r"more from [\w .-]{1,40}",
)


def related_block(ctx: Context) -> set[int]:
    """Related-article blocks ("You Might Also Like", "New articles", "Related"): the
    marker and every following line up to the next prose line or Markdown heading, i.e.
    the teaser list of other articles' titles, image names and dates. Teaser titles are
    not prose (no final full stop), so the block ends where real paragraphs resume."""
    removed: set[int] = set()
    i = 0
    lines = ctx.lines
    while i < len(lines):
        if not _RELATED_MARKER.match(_bare(lines[i])):
            i += 1
            continue
        removed.add(i)
        i += 1
        while i < len(lines) and not is_prose(lines[i]) and not lines[i].lstrip().startswith("#"):
            if lines[i].strip():
                removed.add(i)
            i += 1
    return removed


_FOOTER_MARKER = _full_match(
    r"useful links",
    r"quick links",
    r"important links",
    r"connect with us",
    r"stay connected",
    r"get in touch",
    r"follow us on social media",
)
_FOOTER_MAX_PROSE = 2


def footer_block(ctx: Context) -> set[int]:
    """A site footer: from a marker such as "Useful links" in the last 40 % of the text to
    the end, when at most two prose lines follow (a site's self-description)."""
    lines = ctx.lines
    start = int(len(lines) * 0.6)
    for i in range(start, len(lines)):
        if _FOOTER_MARKER.match(_bare(lines[i])):
            tail = range(i, len(lines))
            if sum(is_prose(lines[j]) for j in tail) <= _FOOTER_MAX_PROSE:
                return {j for j in tail if lines[j].strip()}
    return set()


_DISCLAIMER = re.compile(
    r"(?i)\bsolely the responsibility of\b|\bdoes? not necessarily (?:reflect|represent)\b"
    r"|\b(?:is|was|were|are) (?:funded|co-funded|financed|supported) by\b"
    r"|\bwith the (?:financial )?support of\b|\bthe views (?:and opinions )?expressed\b"
    r"|\bis a media project\b"
)


def publisher_disclaimer(ctx: Context) -> set[int]:
    """The outlet's project or funding disclaimer among the last three lines ("... is a
    media project ...", "solely the responsibility of the authors", "funded by")."""
    return {i for i in ctx.nonblank[-3:] if _DISCLAIMER.search(ctx.lines[i])}


RULES: tuple[Rule, ...] = (
    conversion_notice,
    cookie_consent,
    sign_in_prompt,
    share_follow,
    site_chrome,
    legal_links,
    copyright_footer,
    contact_email,
    navigation_menu,
    breadcrumb,
    byline,
    source_url,
    image_reference,
    stray_markup,
    image_file_name,
    photo_credit,
    page_number,
    publisher_disclaimer,
    related_block,
    footer_block,
    dateline,
    stray_fragment,
    running_header,
)
"""Rules in attribution order: a line removed by several rules is reported under the
first. Every rule sees the original lines, so the order never changes what is removed."""


def invisible_characters(text: str) -> tuple[str, Removal | None]:
    """Tag characters, zero-width characters and bidi controls (`rag.invisible`): text no
    reader sees but a model reads, dropped from the whole text and counted in one Removal."""
    kept, removed = strip_invisible(text)
    if not removed:
        return text, None
    return kept, Removal("invisible_characters", describe(removed), sum(removed.values()))


MAX_RUN_CHARS = 500
# A run of non-space characters that starts a run (the lookbehind keeps the scan linear).
_OVERLONG_RUN = re.compile(rf"(?<!\S)\S{{{MAX_RUN_CHARS + 1},}}")


def overlong_runs(text: str) -> tuple[str, Removal | None]:
    """Runs of over 500 characters without a space (no word or link is that long: inline
    data, a hash dump, a hostile line) carry nothing to retrieve and would cost thousands of
    word pieces to chunk and embed; dropped, counted in one Removal with the first one's
    start."""
    found = 0
    first = ""

    def drop(match: re.Match[str]) -> str:
        nonlocal found, first
        found += 1
        first = first or match.group()[:60]
        return ""

    kept = _OVERLONG_RUN.sub(drop, text)
    if not found:
        return text, None
    return kept, Removal("overlong_runs", f"{first}… ({found} runs)", found)


def clean_text(text: str, title: str | None = None) -> CleanResult:
    """Remove invisible characters, overlong runs and boilerplate lines; collapse runs of
    blank lines.

    `title` (from the catalog or the file's metadata) lets `running_header` drop the title
    where a print header repeats it, while keeping its first use as the headline.
    """
    text, invisible = invisible_characters(text)
    text, overlong = overlong_runs(text)
    ctx = Context(tuple(line.rstrip() for line in text.split("\n")), title)
    claimed: dict[int, str] = {}
    for rule in RULES:
        for i in sorted(rule(ctx)):
            claimed.setdefault(i, rule.__name__)
    kept = "\n".join(line for i, line in enumerate(ctx.lines) if i not in claimed)
    cleaned = re.sub(r"\n{3,}", "\n\n", kept).strip()
    removed = tuple(Removal(claimed[i], ctx.lines[i].strip()) for i in sorted(claimed))
    by_characters = tuple(r for r in (invisible, overlong) if r is not None)
    return CleanResult(cleaned, removed + by_characters)


# --------------------------------------------------------------------------- PDF text


def strip_page_furniture(pages: Sequence[str]) -> tuple[list[str], tuple[Removal, ...]]:
    """Drop running headers/footers: a line among the first or last three lines of a page
    that recurs (digits ignored, so "Page 2" matches "Page 3") on at least two pages and
    at least half of them; prose lines never count. Works per page, before page texts are
    joined and unwrapped."""
    split = [[line.rstrip() for line in page.split("\n")] for page in pages]

    def edge_keys(lines: list[str]) -> set[str]:
        content = [line for line in lines if line.strip() and not is_prose(line)]
        return {_furniture_key(line) for line in content[:3] + content[-3:]}

    counts = Counter(key for lines in split for key in edge_keys(lines))
    threshold = max(2, (len(pages) + 1) // 2)
    furniture = {key for key, n in counts.items() if n >= threshold and key}
    removed: list[Removal] = []
    kept_pages: list[str] = []
    for lines in split:
        edges = edge_keys(lines)
        kept: list[str] = []
        for line in lines:
            key = _furniture_key(line)
            if key in furniture and key in edges:
                removed.append(Removal("page_furniture", line.strip()))
            else:
                kept.append(line)
        kept_pages.append("\n".join(kept))
    return kept_pages, tuple(removed)


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).casefold())


def unwrap_lines(page: str) -> str:
    """Re-join a PDF page's hard-wrapped lines into paragraphs separated by blank lines.

    A line ends its paragraph when it is blank, when it ends a sentence and is clearly
    shorter than the page's usual line, or when it is a short line without final
    punctuation (a heading). "demarca-" + "tion" is de-hyphenated.
    """
    lines = [" ".join(line.split()) for line in page.split("\n")]
    lengths = [len(line) for line in lines if line]
    if not lengths:
        return ""
    width = statistics.quantiles(lengths, n=5)[-1] if len(lengths) >= 2 else lengths[0]
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current.endswith(("-", "\u00ad")) and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        short = len(line) < 0.8 * width
        ends_sentence = bool(SENTENCE_END.search(line)) or line.endswith(":")
        heading_like = len(line) < 0.6 * width and not re.search(r"[,;:\-]$", line)
        if short and (ends_sentence or heading_like):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def clean_pdf_pages(pages: Sequence[str], title: str | None = None) -> CleanResult:
    """PDF page texts to clean text: page furniture, unwrapping, then `clean_text`."""
    kept, furniture = strip_page_furniture(pages)
    text = ""
    for page in (unwrap_lines(page) for page in kept):
        if not page:
            continue
        # A paragraph running over the page break continues in lower case.
        carry_on = bool(text) and not SENTENCE_END.search(text) and page[:1].islower()
        if not text:
            text = page
        elif carry_on and text.endswith(("-", "\u00ad")):
            text = text[:-1] + page
        elif carry_on:
            text += " " + page
        else:
            text += "\n\n" + page
    result = clean_text(text, title)
    return CleanResult(result.text, furniture + result.removed)


# --------------------------------------------------------------------------- headings

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>\S.*)$")
_EMPHASIS_LINE = re.compile(r"^(\*\*|__|\*|_)(?P<text>[^*_].*?)\1$")
_NO_HEADING_END = re.compile(r"[.,;:!?]$")
_MINOR_WORD = re.compile(
    r"(?i)^(?:a|an|and|as|at|but|by|for|from|in|into|nor|of|on|or|over|per|than|the|to|up"
    r"|via|vs|with)$"
)


def _is_title_case(text: str) -> bool:
    words = re.findall(r"[^\W\d_][\w’'-]*", text)
    if not words or not words[0][0].isupper():
        return False
    return all(w[0].isupper() or _MINOR_WORD.match(w) for w in words)


def _is_all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


def find_headings(text: str) -> tuple[tuple[int, str], ...]:
    """(offset, heading) for section headings in cleaned text, in order.

    Recognised: Markdown `#` headings; stand-alone (blank line before and after) lines
    that are ALL CAPS ("DELAYED RESPONSE FROM THE CSTO"), wholly emphasised ("_Turkey_")
    or short and title-cased ("Countries of the South Caucasus") without final
    punctuation; and the headline: a short first line without final punctuation.
    """
    lines = text.split("\n")
    headings: list[tuple[int, str]] = []
    offset = 0
    first_content = next((i for i, line in enumerate(lines) if line.strip()), -1)
    for i, line in enumerate(lines):
        start = offset
        offset += len(line) + 1
        stripped = line.strip()
        if not stripped:
            continue
        if match := _MD_HEADING.match(line):
            # Closing hashes stripped in Python: as a pattern (`.+?\s*#*\s*$`) a long run
            # of spaces or hashes backtracks cubically.
            text = match.group("text").rstrip()
            headings.append((start, text.rstrip("#").rstrip() or text))
            continue
        alone = (i == 0 or not lines[i - 1].strip()) and (
            i == len(lines) - 1 or not lines[i + 1].strip()
        )
        if not alone or len(stripped.split()) > 25:
            continue
        emphasis = _EMPHASIS_LINE.match(stripped)
        inner = emphasis.group("text").strip() if emphasis else stripped
        words = len(inner.split())
        if _is_all_caps(inner) and words <= 15 and not inner.endswith((".", ",", ";")):
            headings.append((start, inner))
        elif _NO_HEADING_END.search(inner) or parse_url_line(inner):
            continue
        elif i == first_content or (words <= 12 and (emphasis or _is_title_case(inner))):
            headings.append((start, inner))
    return tuple(headings)

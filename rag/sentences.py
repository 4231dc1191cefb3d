"""A fast rule-based sentence splitter that returns character spans.

`split_sentences(text)` returns `(start, end)` pairs such that `text[start:end]` is one
sentence with surrounding whitespace stripped; spans are ascending and never overlap, and
they index into the text exactly as given (nothing is normalised first).

Rules, in the order they are applied:

* Blocks: a blank line always ends a sentence, and so does a line break before a list item
  (`- `, `* `, `+ `, `• `, `1. `, `1) `) or before/after a markdown heading line (`# ...`).
  A single line break inside a paragraph does not (wrapped text stays one sentence).
* A sentence ends at `.`, `!`, `?`, `...` or `…`, followed by any closing quotes or brackets
  (`" ' ” ’ ) »`) and by any citation markers such as `[1]`, `[1][2]`, `[1, 2]`, `[1-3]`
  (also after a space: `claim. [1]`), which therefore belong to the sentence before.
* ... but only when whitespace (or the end of the text) follows, so `3.5`, `U.S.A`,
  `example.com` and `e.g.,` never split, and never when the next word starts lowercase.
* A period does not end a sentence after a title or similar abbreviation (`Dr.`, `Mr.`,
  `Prof.`, `St.`, `e.g.`, `i.e.`, `vs.`, `cf.`, ...), after a reference or month
  abbreviation followed by a number (`No. 5`, `p. 12`, `Fig. 3`, `Jan. 5`), after a single
  capital initial (`J. K. Rowling`, `John F. Kennedy`), after a dotted acronym (`U.S.`,
  `a.m.`, `Ph.D.`), or after a list number at the start of a line (`1. First`), unless
  the next word is a common sentence opener (`The`, `It`, `In`, ...), which makes
  `... in the U.S. The next year ...` split while `the U.S. Senate` does not.
"""

from __future__ import annotations

import re

__all__ = ["sentences", "split_sentences"]

# Terminal punctuation, then closing quotes/brackets, then citation markers.
_CITE = r"\[\s*\d{1,4}(?:\s*[-–,]\s*\d{1,4})*\s*\]"
_END = re.compile(
    r"(?P<punct>(?:\.{3}|…|[.!?])+)"
    r"(?P<close>[\"'”’)»]*)"
    rf"(?P<cites>(?:[ \t]*{_CITE})*)"
)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Never a sentence end: titles and abbreviations that precede a word.
_TITLES = _word_set(
    """
    dr mr mrs ms mx prof st mt ft gen sen rep gov lt col capt cmdr sgt rev hon pres adm maj
    messrs mme mlle e.g i.e viz cf vs approx ca incl esp resp dept univ
    """
)
# Not a sentence end when a number (or an opening parenthesis) follows: `No. 5`, `p. 12`.
_BEFORE_NUMBER = _word_set(
    """
    no nos vol vols p pp fig figs ch chap sec art eq eqs ref refs ed eds ver op al
    jan feb mar apr jun jul aug sep sept oct nov dec
    """
)
# Acronyms written with periods whose inner letters are not single letters.
_DOTTED_WORDS = frozenset({"ph.d", "m.sc", "b.sc", "m.a", "b.a", "ll.m", "d.phil"})
_ACRONYM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_INITIAL = re.compile(r"[A-Z]")

# Capitalised words that usually open a sentence; after an acronym or initial they make the
# period a sentence end.
_OPENERS = _word_set(
    """
    a an the this that these those there here it its he she his her they their them we our
    i you your my one two three some many most several both each every all no not none
    but and or so yet however although though while when whenever after before since as at
    by for from in into on of to with without if because then also other another such
    according meanwhile moreover furthermore nevertheless instead thus therefore still
    what which who why how where during despite unlike like until
    """
)

_WORD_BEFORE = re.compile(r"(\S+)\Z")
_NON_SPACE = re.compile(r"\S")
_NEXT_WORD = re.compile(r"[\"'“‘(\[«]*([A-Za-z]+)")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return the `(start, end)` character span of every sentence in `text`."""
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _blocks(text):
        _split_block(text, block_start, block_end, spans)
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of `text` as strings (see `split_sentences`)."""
    return [text[start:end] for start, end in split_sentences(text)]


def _blocks(text: str) -> list[tuple[int, int]]:
    """Split at hard breaks; returns `(start, end)` ranges of the text between them."""
    cuts: list[tuple[int, int]] = []
    for m in re.finditer(r"\n[ \t]*\n\s*", text):
        cuts.append((m.start(), m.end()))
    # Single line breaks that end a block: before list items and headings, after headings.
    for m in re.finditer(r"\n", text):
        pos = m.start()
        line_start = text.rfind("\n", 0, pos) + 1
        this_line = text[line_start:pos]
        next_end = text.find("\n", pos + 1)
        next_line = text[pos + 1 : next_end if next_end != -1 else len(text)]
        if (
            re.match(r"[ \t]*#", this_line)
            or re.match(r"[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]", next_line)
            or re.match(r"[ \t]*#", next_line)
        ):
            cuts.append((pos, pos + 1))
    cuts.sort()
    blocks: list[tuple[int, int]] = []
    pos = 0
    for cut_start, cut_end in cuts:
        if cut_start < pos:  # a blank-line cut already covers this newline
            continue
        blocks.append((pos, cut_start))
        pos = cut_end
    blocks.append((pos, len(text)))
    return blocks


def _split_block(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    sentence_start = start
    for m in _END.finditer(text, start, end):
        if _is_boundary(text, m, end):
            _add(text, sentence_start, m.end(), spans)
            sentence_start = m.end()
    _add(text, sentence_start, end, spans)


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def _is_boundary(text: str, m: re.Match[str], block_end: int) -> bool:
    after = m.end()
    following = _NON_SPACE.search(text, after, block_end)
    if following is None:
        return True  # end of the block
    if following.start() == after:
        return False  # no blank after: 3.5, U.S.A, example.com, e.g.,
    nxt = following.group(0)
    if nxt.islower():
        return False
    if m.group("punct") != ".":
        return True  # ! ? ... … followed by a non-lowercase start
    window_start = max(0, m.start() - 40)
    before = _WORD_BEFORE.search(text, window_start, m.start())
    if before is None:
        return True
    token = before.group(1).lstrip("\"'“‘([«")
    lowered = token.lower()
    next_word_match = _NEXT_WORD.match(text, following.start(), min(block_end, after + 80))
    next_word = next_word_match.group(1).lower() if next_word_match else ""
    if lowered in _TITLES:
        return False
    if lowered in _BEFORE_NUMBER and (nxt.isdigit() or nxt == "("):
        return False
    if _ACRONYM.fullmatch(token) or lowered in _DOTTED_WORDS or _INITIAL.fullmatch(token):
        return next_word in _OPENERS
    if token.isdigit() and len(token) <= 3:
        line_start = text.rfind("\n", 0, before.start()) + 1
        if not text[line_start : before.start()].strip():
            return False  # "1. First item" at the start of a line
    return True

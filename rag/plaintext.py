"""Markdown source shown as the plain text a reader sees: heading marks, emphasis
delimiters, rules, list markers, block quotes, link targets, images and escapes removed.

Indexed text keeps its Markdown (chunking reads the headings) and citation quotes are
exact substrings of it, so the syntax goes only when text is shown. `PlainText.origin`
maps every shown character back to its index in the source, so a span located in the
source (a cited sentence) is highlighted on exactly the characters it covers.

Deliberately narrow: emphasis never spans lines nor opens inside a word (`snake_case`,
`2*3*4` stay), HTML stays for the renderers to escape, and reference links are left
alone (`[1][2]` are citations).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# What a pass keeps of one match: slices of the match's text (start, end in the text
# being rewritten) or literal text with the index of the character it stands for.
Piece = tuple[int, int] | tuple[str, int]
Keep = Callable[[re.Match[str]], Sequence[Piece]]


@dataclass(frozen=True)
class PlainText:
    """Shown text; `origin[i]` is the index in the source of `text[i]`."""

    text: str
    origin: tuple[int, ...]

    def marked(self, spans: Iterable[tuple[int, int]]) -> list[tuple[str, bool]]:
        """The text cut into runs, each flagged when its characters came from inside one of
        the source `spans` (start inclusive, end exclusive)."""
        ranges = sorted(spans)
        runs: list[tuple[str, bool]] = []
        for char, at in zip(self.text, self.origin, strict=True):
            inside = any(start <= at < end for start, end in ranges)
            if runs and runs[-1][1] == inside:
                runs[-1] = (runs[-1][0] + char, inside)
            else:
                runs.append((char, inside))
        return runs


def _drop(_m: re.Match[str]) -> Sequence[Piece]:
    return ()


def _group(n: int) -> Keep:
    return lambda m: (m.span(n),)


def _bullet(m: re.Match[str]) -> Sequence[Piece]:
    return (m.span(1), ("• ", m.start(2)))


_M = re.MULTILINE
_LINK = re.compile(r"\[([^\[\]\n]+)\]\((?:[^()\s]|\([^()\s]*\))*(?:[ \t]+\"[^\"\n]*\")?\)")
_PASSES: tuple[tuple[re.Pattern[str], Keep], ...] = (
    # block syntax, at the start of a line
    (re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$", _M), _drop),  # --- rule
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", _M), _group(1)),  # # head
    (re.compile(r"^[ \t]{0,3}>[ \t]?", _M), _drop),  # > quote
    (re.compile(r"^([ \t]*)([*+-])[ \t]+", _M), _bullet),  # * item
    # inline syntax
    (re.compile(r"!\[[^\[\]\n]*\]\([^()\s]*(?:[ \t]+\"[^\"\n]*\")?\)"), _drop),  # image
    (_LINK, _group(1)),  # [text](https://target "title")
    (re.compile(r"<(https?://[^<>\s]+)>"), _group(1)),  # <https://autolink>
    (re.compile(r"(`+)(?=\S)(.+?)(?<=\S)\1"), _group(2)),  # `code`
    (re.compile(r"(?<![\w*\\])\*\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*\*(?![\w*])"), _group(1)),
    (re.compile(r"(?<![\w\\])__(?=[^\s_])(.+?)(?<=[^\s_\\])__(?!\w)"), _group(1)),
    (re.compile(r"(?<![\w~\\])~~(?=[^\s~])(.+?)(?<=[^\s~\\])~~(?![\w~])"), _group(1)),
    (re.compile(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?![\w*])"), _group(1)),
    (re.compile(r"(?<![\w\\])_(?=[^\s_])(.+?)(?<=[^\s_\\])_(?!\w)"), _group(1)),
    (re.compile(r"\\([!-/:-@\[-`{-~])"), _group(1)),  # \* escapes
    (re.compile(r"\n(?:[ \t]*\n){2,}"), lambda m: (("\n\n", m.start()),)),  # blank runs
)


def _rewrite(text: str, origin: list[int], pattern: re.Pattern[str], keep: Keep) -> str:
    """One pass: every match replaced by what `keep` keeps of it; `origin` updated."""
    out: list[str] = []
    mapped: list[int] = []
    cursor = 0
    for m in pattern.finditer(text):
        out.append(text[cursor : m.start()])
        mapped += origin[cursor : m.start()]
        for piece in keep(m):
            if isinstance(piece[0], str):
                literal, at = piece
                out.append(literal)
                mapped += [origin[at]] * len(literal)
            else:
                start, end = piece
                out.append(text[start:end])
                mapped += origin[start:end]
        cursor = m.end()
    out.append(text[cursor:])
    mapped += origin[cursor:]
    origin[:] = mapped
    return "".join(out)


def plain_markdown(source: str) -> PlainText:
    """The text a reader of the rendered Markdown sees, stripped of surrounding blanks."""
    text, origin = source, list(range(len(source)))
    for pattern, keep in _PASSES:
        text = _rewrite(text, origin, pattern, keep)
    lead = len(text) - len(text.lstrip())
    stripped = text.strip()
    return PlainText(stripped, tuple(origin[lead : lead + len(stripped)]))


def plain(source: str) -> str:
    """`plain_markdown(source).text`: for text shown without any highlight."""
    return plain_markdown(source).text

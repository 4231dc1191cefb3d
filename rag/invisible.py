"""Invisible Unicode: characters a reader cannot see but a model or a search index reads.

Tag characters (U+E0000-E007F) spell ASCII text no one sees ("ASCII smuggling"); zero-width
characters split words so that a filter misses them; bidirectional controls reorder what a
terminal or a page shows. None carries meaning in an article, so ingest drops them, except
a zero-width joiner or non-joiner between two letters of a script that uses them (Persian,
Indic scripts) and a joiner between emoji, where it is part of the glyph."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_KINDS = {
    "tag": "\U000e0000-\U000e007f",
    "zero-width": "\u200b-\u200d\u2060-\u2064\ufeff\u180e\u034f",
    "bidi control": "\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069",
    "format": "\u206a-\u206f\ufff9-\ufffb",
}
_INVISIBLE = re.compile("[" + "".join(_KINDS.values()) + "]")
_KIND_OF = {kind: re.compile(f"[{chars}]") for kind, chars in _KINDS.items()}
_JOINERS = "\u200c\u200d"


def _joins_letters(before: str, after: str) -> bool:
    """Two letters (or marks) of a script beyond Latin, which may need a (non-)joiner."""
    return all(c and unicodedata.category(c)[0] in "LM" and not _latin(c) for c in (before, after))


def _latin(c: str) -> bool:
    code = ord(c)
    return code < 0x0250 or 0x1E00 <= code <= 0x1EFF


def _emoji(c: str) -> bool:
    """A pictograph, a presentation selector or a skin-tone modifier."""
    if not c:
        return False
    return unicodedata.category(c) == "So" or c == "\ufe0f" or 0x1F3FB <= ord(c) <= 0x1F3FF


def _kept(text: str, at: int) -> bool:
    c = text[at]
    if c not in _JOINERS:
        return False
    before = text[at - 1] if at else ""
    after = text[at + 1] if at + 1 < len(text) else ""
    return _joins_letters(before, after) or (c == "\u200d" and _emoji(before) and _emoji(after))


def strip_invisible(text: str) -> tuple[str, Counter[str]]:
    """The text without invisible characters, and how many of each kind went. Linear."""
    removed: Counter[str] = Counter()

    def drop(match: re.Match[str]) -> str:
        if _kept(text, match.start()):
            return match.group(0)
        char = match.group(0)
        removed[next(k for k, pattern in _KIND_OF.items() if pattern.match(char))] += 1
        return ""

    if not _INVISIBLE.search(text):
        return text, removed
    return _INVISIBLE.sub(drop, text), removed


def describe(removed: Counter[str]) -> str:
    """What went, for a cleaning report: `63 tag characters, 1 bidi control`."""
    nouns = {kind: kind if kind == "bidi control" else f"{kind} character" for kind in _KINDS}
    return ", ".join(
        f"{n} {nouns[kind]}{'' if n == 1 else 's'}" for kind, n in removed.most_common()
    )

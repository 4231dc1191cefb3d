"""Text for a terminal: what a user or a document controls is shown as it is, never obeyed.

File names, titles, questions and passages can hold escape sequences (ESC, CSI) that move
the cursor, retitle the window or hide text, and bidi controls that reorder a line. The
command line prints such text through `printable`, which writes every control character as
a visible escape (`\\x1b`, `\\u202e`); rich markup is never parsed from it (the CLI builds
`rich.text.Text`, not markup strings)."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text
# (bidi controls, zero-width characters, line and paragraph separators, tag characters).
_CONTROL = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    "\ufff9-\ufffb\U000e0000-\U000e007f"
)
_ONE_LINE = re.compile(f"[\t\n{_CONTROL}]")
_LINES = re.compile(f"[{_CONTROL}]")


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object, *, multiline: bool = False) -> str:
    """The text with every control character written as a visible escape; newlines and
    tabs are kept only where `multiline` (a passage, an answer), else escaped too."""
    return (_LINES if multiline else _ONE_LINE).sub(_escape, str(text))

"""Turn the raw bytes of a text file into `str`, or refuse with a reason a user can act on.

Accepted: UTF-8 (with or without BOM), UTF-16/UTF-32 with a BOM, and Windows-1252 (the
superset of latin-1 that legacy Western files use). Anything else is refused rather than
decoded into mojibake, because wrong characters would be indexed, quoted and cited as if
they were the author's words.

Windows-1252 maps almost every byte to some character, so "it decoded" proves nothing.
Before accepting a Windows-1252 reading we apply three documented heuristics:

1. UTF-8 signature: if most non-ASCII bytes form valid UTF-8 multi-byte sequences, the file
   is UTF-8 with a few damaged bytes (e.g. one stray latin-1 byte), not a Windows-1252 file.
   Western text in Windows-1252 almost never happens to contain such sequences ("Ã©").
2. Non-ASCII share: Western European prose is mostly ASCII (French and German run at a few
   per cent accented letters). When more than 30 % of the non-space characters are
   non-ASCII, the bytes are another script (Shift-JIS, GBK, Windows-1251, ...).
3. Implausible mixes: letters glued to symbols that real Western text never puts inside a
   word (two non-ASCII characters in a row where one is a symbol such as "‚", "±", "¤",
   "¨"; or "ƒ" followed by a letter). These are what double-byte encodings turn into.
"""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata
from pathlib import Path

from rag.errors import IngestError

RESAVE_HINT = "not UTF-8, UTF-16 with BOM or Windows-1252 text; re-save it as UTF-8"

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# A valid UTF-8 multi-byte sequence (no overlongs, no surrogates).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)

_MAX_CONTROL_SHARE = 0.01  # more control characters than this: a binary file
_MAX_NON_ASCII_SHARE = 0.30  # heuristic 2
_MAX_ODD_PAIR_SHARE = 0.05  # heuristic 3, relative to the non-ASCII characters

# Non-letters that legitimately touch letters or each other in Western prose.
_TYPOGRAPHIC = set("“”‘’„«»‹›–—…\u00a0°·•©®™€£§¶†‡%¿¡")
# Spacing diacritics and odd symbols that never sit inside a Western word.
_ODD_SYMBOLS = set("ˆ˜¨¯¸´¤¦±¹²³¼½¾µ¬")
_ALLOWED_CONTROLS = {"\t", "\n", "\r", "\f"}


def decode_bytes(raw: bytes, path: Path) -> str:
    """Decode a text file's bytes; newlines become "\\n" and the text is NFC-normalised.

    Raises IngestError (naming `path`) for binary content and undecodable or implausible
    bytes, so a bad file is reported instead of indexed as garbage.
    """
    return normalize_text(_check_controls(_decode(raw, path), path))


def normalize_text(text: str) -> str:
    """Newlines as "\\n" and NFC, so equal-looking text is equal for search and quoting."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


def _decode(raw: bytes, path: Path) -> str:
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    path,
                    f"starts with a {codec.upper()} byte-order mark but byte {exc.start} is "
                    f"invalid in that encoding; re-save it as UTF-8",
                ) from exc
    if b"\x00" in raw:
        raise IngestError(
            path,
            "contains NUL bytes, so it looks like a binary file, not text (UTF-16 text "
            "without a byte-order mark looks the same); export it as UTF-8 text",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        return _decode_windows_1252(raw, path, utf8_error)


def _decode_windows_1252(raw: bytes, path: Path, utf8_error: UnicodeDecodeError) -> str:
    """Accept the Windows-1252 reading only when it looks like Western text."""
    high_bytes = sum(1 for b in raw if b >= 0x80)
    utf8_bytes = sum(len(m.group()) for m in _UTF8_SEQUENCE.finditer(raw))
    if utf8_bytes and utf8_bytes * 2 >= high_bytes:
        raise IngestError(
            path,
            f"mostly UTF-8 but byte {utf8_error.start} is not valid UTF-8 (a damaged or "
            "mixed-encoding file); repair that byte or re-save the file as UTF-8",
        ) from utf8_error
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise IngestError(path, f"{RESAVE_HINT} (byte {exc.start} is undefined)") from exc
    problem = implausible_western_text(text)
    if problem:
        raise IngestError(path, f"{RESAVE_HINT} (as Windows-1252 it reads as {problem})")
    return text


def implausible_western_text(text: str) -> str | None:
    """Why `text` (a Windows-1252 reading) cannot be real Western text, or None if it can."""
    visible = [c for c in text if not c.isspace()]
    non_ascii = [c for c in visible if ord(c) > 0x7F]
    if not non_ascii:
        return None
    if len(non_ascii) > _MAX_NON_ASCII_SHARE * len(visible):
        return "mostly accented letters and symbols, which suggests another script"
    odd = 0
    for a, b in itertools.pairwise(text):
        odd += (a == "ƒ" and b.isalpha()) or _odd_pair(a, b)
    if odd >= 2 and odd > _MAX_ODD_PAIR_SHARE * len(non_ascii):
        return "letters mixed with stray symbols, which suggests a double-byte encoding"
    return None


def _odd_pair(a: str, b: str) -> bool:
    """Two adjacent non-ASCII characters that Western text would not put side by side."""
    if ord(a) <= 0x7F or ord(b) <= 0x7F or a.isspace() or b.isspace():
        return False
    if a in _ODD_SYMBOLS or b in _ODD_SYMBOLS:
        return True
    return not ((a.isalpha() or a in _TYPOGRAPHIC) and (b.isalpha() or b in _TYPOGRAPHIC))


def _check_controls(text: str, path: Path) -> str:
    """Refuse text that is mostly control characters; drop the odd stray one.

    A few stray controls (a DOS end-of-file mark, a bell from a terminal capture) say
    nothing about the content and would only confuse tokenisers, so they are dropped.
    """
    controls = sum(
        1 for c in text if unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS
    )
    if controls == 0:
        return text
    if controls > _MAX_CONTROL_SHARE * len(text):
        raise IngestError(
            path,
            f"{controls} control characters in {len(text)} characters: this looks like a "
            "binary file, not text; export it as plain UTF-8 text",
        )
    return "".join(c for c in text if unicodedata.category(c) != "Cc" or c in _ALLOWED_CONTROLS)

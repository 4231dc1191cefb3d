"""Name variants: "Türkiye" is Turkey, "the Kremlin" and "Moscow" stand for Russia, "Baku"
for Azerbaijan, "Armenians" are Armenia's.

Writers name the same actor many ways, so a check of whether a sentence is about the
question's subject (answerability) or whether an author addresses it (perspectives) must
compare canonical names, not strings. Countries, demonyms, capitals and spellings come
from `data/places.tsv` (generated from countryinfo, MIT); metonyms and organisations from
the hand-written `data/names.tsv`. Matching is case-sensitive ("turkey" the bird and "us"
the pronoun are not names) and takes plural and possessive forms ("Armenians", "Russia's").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Later tables override earlier ones: "Brussels" is the EU in politics, not Belgium.
_TABLES = ("data/places.tsv", "data/names.tsv")


@lru_cache(maxsize=1)
def variant_table() -> dict[str, str]:
    """Every known variant (as written) -> its canonical name."""
    table: dict[str, str] = {}
    for name in _TABLES:
        text = resources.files("rag").joinpath(name).read_text(encoding="utf-8")
        found: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            canonical, *others = (part.strip() for part in line.split("\t"))
            for variant in (canonical, *others):
                if variant:
                    # Within a table the first line wins: "Chinese" is China's, not Macau's.
                    found.setdefault(variant, canonical)
                    bare = variant.removeprefix("the ")
                    if bare != variant:
                        found.setdefault(bare[:1].upper() + bare[1:], canonical)
        table.update(found)
    return table


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """The canonical names that are countries (the first column of data/places.tsv)."""
    text = resources.files("rag").joinpath(_TABLES[0]).read_text(encoding="utf-8")
    return frozenset(
        line.split("\t", 1)[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    names = sorted(variant_table(), key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in names)
    # plural / possessive endings: Armenians, Russia's, Russia’s
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?:s|['’]s)?(?![\w-])")


@dataclass(frozen=True)
class NameMention:
    start: int
    end: int
    text: str
    canonical: str


def _canonical_of(found: str) -> str | None:
    table = variant_table()
    for candidate in (found, re.sub(r"['’]s$", "", found), found.removesuffix("s")):
        if candidate in table:
            return table[candidate]
    return None


def find_names(text: str) -> list[NameMention]:
    """Known names in a text, longest match first, with their canonical form."""
    found = []
    for match in _pattern().finditer(text):
        canonical = _canonical_of(match.group(0))
        if canonical is not None:
            found.append(NameMention(match.start(), match.end(), match.group(0), canonical))
    return found


@lru_cache(maxsize=16384)
def canonical_names(text: str) -> frozenset[str]:
    """The canonical names a text mentions, whichever variant it uses (cached: passages
    and sentences are asked about again and again)."""
    return frozenset(m.canonical for m in find_names(text))


def canonical(name: str) -> str:
    """The canonical form of one name; unknown names are returned unchanged."""
    return _canonical_of(name.strip()) or name.strip()


def variants(name: str) -> frozenset[str]:
    """Every way of writing a name, itself included."""
    target = canonical(name)
    found = {v for v, c in variant_table().items() if c == target}
    return frozenset(found | {name.strip()})

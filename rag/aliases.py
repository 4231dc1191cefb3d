"""Names a question uses for what the documents name otherwise: analysts write "Yerevan" for
Armenia, "the Kremlin" for Russia, "Azerbaijani" for Azerbaijan, "the Moscow-led bloc" for
the CSTO, and a small embedding model does not always know they are the same.

`expand_query` appends the names the question stands for, so BM25, the word matcher and
the dense model all see them: "Why did Baku leave?" -> "Why did Baku leave? (Azerbaijan)".
The question itself is never changed, only extended. Four general sources:

- capitals and seats of government (GeoNames, rag/data/capitals.tsv, and a few institutions);
- demonyms and adjectives of place ("Asian" -> Asia, "Ukrainian" -> Ukraine, "Turkish" ->
  Türkiye), by suffix rules checked against the collection's vocabulary, plus the
  irregular ones in rag/data/demonyms.tsv;
- descriptions of international organisations ("the Moscow-led military alliance" -> CSTO),
  rag/data/descriptors.tsv: the first of its names that the collection uses;
- initialisms: a list of names can stand for the group they name ("Brazil, Russia, India,
  China and South Africa" -> BRICS), kept only when the collection uses the acronym.

Names that come from rules and tables (demonyms, organisations, initialisms) are appended
only when the collection uses them (`known`), so a false friend never reaches the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

# Institutions and places used for a state's government, beyond its capital city.
_INSTITUTIONS = {
    "Kremlin": "Russia",
    "White House": "United States",
    "Pentagon": "United States",
    "Downing Street": "United Kingdom",
    "Élysée": "France",
    "Brussels": "European Union",
    "Ankara": "Türkiye",
}

# Suffixes that turn a place name into its adjective or demonym, and what the place name
# may end with once the suffix is removed: Armenia-n, Iran-ian, Ukrain(e)-ian, Asia-n,
# Azerbaijan-i, Pakistan-i, Europe-an, Chin(a)-ese.
_DEMONYM_RULES = (
    ("ians", ("", "e", "a")),
    ("ian", ("", "e", "a")),
    ("ans", ("", "e", "a")),
    ("an", ("", "e", "a")),
    ("ns", ("",)),
    ("n", ("",)),
    ("is", ("",)),
    ("i", ("",)),
    ("ese", ("", "a")),
)
_CAPITALISED_WORD = re.compile(r"\b[A-ZÀ-Þ][a-zß-ÿ]+\b")
_NAME = r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*"
_NAME_LIST = re.compile(rf"{_NAME}(?:\s*,\s*{_NAME})+,?\s+(?:and|&)\s+{_NAME}")

Known = Callable[[str], bool]


def _table(name: str) -> list[tuple[str, str]]:
    text = resources.files("rag").joinpath(f"data/{name}").read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise ValueError(f"rag/data/{name}:{number}: expected two tab-separated columns")
        key, value = (part.strip() for part in line.split("\t", 1))
        rows.append((key, value))
    return rows


@lru_cache(maxsize=1)
def alias_table() -> dict[str, str]:
    table = dict(_table("capitals.tsv"))
    table.update(_INSTITUTIONS)
    return table


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    names = sorted(alias_table(), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


@lru_cache(maxsize=1)
def _irregular_demonyms() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for demonym, places in _table("demonyms.tsv"):
        table[demonym.casefold()] = tuple(p.strip() for p in places.split(",") if p.strip())
    return table


@lru_cache(maxsize=1)
def _descriptors() -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    return [
        (
            re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE),
            tuple(n.strip() for n in names.split(",") if n.strip()),
        )
        for pattern, names in _table("descriptors.tsv")
    ]


def place_names(word: str, known: Known) -> list[str]:
    """The place a demonym or adjective of place names ("Asian" -> ["Asia"]): the
    irregular table first, else suffix rules whose result the collection knows."""
    irregular = _irregular_demonyms().get(word.casefold())
    if irregular:
        return [p for p in irregular if known(p)]
    found: list[str] = []
    for suffix, endings in _DEMONYM_RULES:
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        stem = word[: -len(suffix)]
        for ending in endings:
            candidate = stem + ending
            if candidate != word and candidate not in found and known(candidate):
                found.append(candidate)
        if found:
            break
    return found


def initialisms(text: str) -> list[str]:
    """Acronyms a list of names could stand for: "Brazil, Russia, India, China and South
    Africa" -> BRICS (first letters of the names) and BRICSA (of every word)."""
    found: list[str] = []
    for match in _NAME_LIST.finditer(text):
        names = [n.strip() for n in re.split(r",|\band\b|&", match.group(0)) if n.strip()]
        first = "".join(n[0] for n in names)
        every = "".join(w[0] for n in names for w in n.split())
        found.extend(a for a in dict.fromkeys((first, every)) if a not in found)
    return found


def _names(name: str, text: str) -> bool:
    return bool(re.search(rf"\b{re.escape(name)}\b", text, re.IGNORECASE))


def expand_query(query: str, known: Known | None = None) -> str:
    """The query with the names it stands for appended, if not named already.

    `known(name)` says whether the collection uses a name; without it, only the capitals,
    institutions and organisation descriptions (fixed tables) are used."""
    added: list[str] = []

    def add(name: str) -> None:
        if not _names(name, query) and name not in added:
            added.append(name)

    table = alias_table()
    for match in _pattern().finditer(query):
        add(table[match.group(1)])
    for pattern, names in _descriptors():
        if pattern.search(query):
            usable = [n for n in names if known is None or known(n)]
            if usable and not any(_names(n, query) for n in names):
                add(usable[0])
    if known is not None:
        for match in _CAPITALISED_WORD.finditer(query):
            for name in place_names(match.group(0), known):
                add(name)
        for acronym in initialisms(query):
            if known(acronym):
                add(acronym)
    return f"{query} ({', '.join(added)})" if added else query

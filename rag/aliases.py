"""Place-name metonyms in queries: analysts write "Yerevan" for Armenia and "the Kremlin"
for Russia, and a small embedding model does not always know they are the same.

`expand_query` appends the country a capital (or a well-known institution) stands for, so
both BM25 and the dense model see it: "Why did Baku leave?" -> "Why did Baku leave?
(Azerbaijan)". Capitals come from GeoNames (rag/data/capitals.tsv); the query text itself is
never changed, only extended."""

from __future__ import annotations

import re
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


@lru_cache(maxsize=1)
def alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    text = resources.files("rag").joinpath("data/capitals.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        capital, country = (part.strip() for part in line.split("\t", 1))
        table[capital] = country
    table.update(_INSTITUTIONS)
    return table


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    names = sorted(alias_table(), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


def expand_query(query: str) -> str:
    """The query with the countries its capitals stand for appended, if not named already."""
    table = alias_table()
    countries: list[str] = []
    for match in _pattern().finditer(query):
        country = table[match.group(1)]
        if country.lower() not in query.lower() and country not in countries:
            countries.append(country)
    return f"{query} ({', '.join(countries)})" if countries else query

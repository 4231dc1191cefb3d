"""What a sentence offers as an answer: dates, quantities (with what they count) and
proper names. Pure recognisers, used to check that a sentence fills the slot a question
asks for ("how many troops" wants a count of troops, not "for over 20 years").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rag.lexical import word_set
from rag.names import canonical_names, find_names

YEAR = re.compile(r"(?<![\d.,])(1[6-9]\d\d|20\d\d)(?![\d.,]?\d)(?!\s*(?:%|per ?cent))")
MONTH = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)\b"
)
SEASON = re.compile(r"\b(spring|summer|autumn|fall|winter)\b", re.IGNORECASE)
DECADE = re.compile(r"\b(?:1[6-9]|20)\d0s\b")

QuantityKind = Literal["percent", "money", "duration", "extent", "count"]

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
    "ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|"
    "dozens|half|a third|a quarter|two-thirds|three-quarters"
)
_NUMBER = re.compile(
    rf"(?P<cur>[$€£₽]\s?)?(?P<num>\d+(?:[.,]\d+)*(?:\s?(?:bn|m|k)\b)?|\b(?:{_NUMBER_WORDS})\b)"
    r"(?P<pct>\s?%|\s(?:per ?cent|percent)\b)?",
    re.IGNORECASE,
)
_UNIT_WORD = re.compile(r"\s*(?:-\s*)?([A-Za-z][A-Za-z-]*)")
_SCALE = frozenset(
    {
        "million",
        "millions",
        "billion",
        "billions",
        "thousand",
        "thousands",
        "hundred",
        "hundreds",
        "trillion",
        "bn",
        "m",
        "k",
    }
)
_MONEY = frozenset(
    {
        "dollar",
        "dollars",
        "euro",
        "euros",
        "manat",
        "ruble",
        "rubles",
        "rouble",
        "roubles",
        "pound",
        "pounds",
        "usd",
        "eur",
        "lari",
        "dram",
        "drams",
        "yuan",
    }
)
_DURATION = frozenset(
    {
        "year",
        "years",
        "month",
        "months",
        "week",
        "weeks",
        "day",
        "days",
        "decade",
        "decades",
        "hour",
        "hours",
        "century",
        "centuries",
        "minute",
        "minutes",
        "year-old",
        "years-old",
    }
)
_MEASURE_PREFIX = frozenset({"square", "cubic", "sq"})
_EXTENT = frozenset(
    {
        "mm",
        "cm",
        "m2",
        "km2",
        "km",
        "kilometre",
        "kilometres",
        "kilometer",
        "kilometers",
        "mile",
        "miles",
        "metre",
        "metres",
        "meter",
        "meters",
        "square",
        "hectare",
        "hectares",
        "acre",
        "acres",
        "sq",
        "cubic",
    }
)


@dataclass(frozen=True)
class Quantity:
    text: str
    kind: QuantityKind
    unit: str  # the word after the number ("troops", "years"), lower case; "" if none
    change: bool = False  # a change ("rose by 17.5%"), not a level ("a 35% share")


_CHANGE_BEFORE = re.compile(
    r"\b(?:ris(?:e|en|es|ing)|rose|increas\w*|grew|grow\w*|fell|fall\w*|drop\w*|declin\w*|"
    r"decreas\w*|jump\w*|surg\w*|plung\w*|shr[aui]nk\w*|up|down|climb\w*|soar\w*)"
    r"(?:\s+\w+){0,2}\s+(?:by\s+)?(?:about\s+|around\s+|roughly\s+|almost\s+|nearly\s+|"
    r"over\s+|more than\s+)?$",
    re.IGNORECASE,
)
_CHANGE_AFTER = re.compile(
    r"^\s*(?:increase|rise|growth|jump|drop|fall|decline|decrease|surge|gain|more|less)\b",
    re.IGNORECASE,
)
CHANGE_WORDS = re.compile(
    r"\b(grow|grew|grown|growth|rise|rose|risen|increase\w*|fall|fell|fallen|declin\w*|drop\w*|"
    r"decreas\w*|change\w*|jump\w*|surge\w*)\b",
    re.IGNORECASE,
)


# Numbers that label rather than count: "Figure 1", "Article 4", "No. 5", "the 1990s".
_LABEL_BEFORE = re.compile(
    r"\b(?:Figure|Fig\.|Table|Chart|Map|Annex|Appendix|Article|Chapter|Section|Part|Point|"
    r"No\.|Nos\.|p\.|pp\.|page|pages|paragraph|Resolution|Protocol|Volume|Vol\.|Issue)\s*$"
)
_RANGE_BEFORE = re.compile(r"(?:1[6-9]|20)\d\d\s*[-–—]\s*$")  # the "94" of "1988–94"


def _is_bare_year(match: re.Match[str], unit: str) -> bool:
    number = match.group("num")
    return (
        bool(re.fullmatch(r"(1[6-9]|20)\d\d", number))
        and not match.group("pct")
        and not match.group("cur")
        and unit not in _SCALE
    )


def quantities(sentence: str) -> list[Quantity]:
    """Numbers that count or measure something (years as dates are not quantities)."""
    found = []
    consumed = 0
    for match in _NUMBER.finditer(sentence):
        if match.start() < consumed:  # "billion" of "$2.5 billion" is that figure's scale
            continue
        rest = sentence[match.end() :]
        consumed = match.end()
        units = []
        for _ in range(3):  # "2.5 billion cubic metres": skip scale words to the unit
            unit_match = _UNIT_WORD.match(rest)
            if not unit_match:
                break
            units.append(unit_match.group(1).lower())
            rest = rest[unit_match.end() :]
            if units[-1] in _SCALE or units[-1] in _MEASURE_PREFIX:
                consumed = len(sentence) - len(rest)
            else:
                break
        unit = next((u for u in units if u not in _SCALE and u not in _MEASURE_PREFIX), "")
        before = sentence[: match.start()]
        if _is_bare_year(match, unit) or _LABEL_BEFORE.search(before):
            continue
        if _RANGE_BEFORE.search(before) and not match.group("pct"):
            continue
        if match.group("num").lower() in {"one", "half"}:  # "one of the", "half the"
            continue
        kind: QuantityKind
        if match.group("pct"):
            kind = "percent"
        elif match.group("cur") or unit in _MONEY:
            kind = "money"
        elif unit in _DURATION:
            kind = "duration"
        elif unit in _EXTENT:
            kind = "extent"
        else:
            kind = "count"
        change = bool(_CHANGE_BEFORE.search(before) or _CHANGE_AFTER.match(sentence[match.end() :]))
        found.append(Quantity(match.group(0).strip(), kind, unit, change))
    return found


def has_date(sentence: str) -> bool:
    return bool(YEAR.search(sentence) or MONTH.search(sentence) or DECADE.search(sentence))


def dates(sentence: str) -> list[str]:
    """Years, months and decades a sentence names, as written."""
    return [
        m.group(0)
        for m in (*YEAR.finditer(sentence), *MONTH.finditer(sentence), *DECADE.finditer(sentence))
    ]


# Capitalised words that open or decorate sentences rather than name anything.
_NOT_NAMES = word_set(
    """
    The A An In On At For From By With As And But Or If When While After Before Since
    During This That These Those It Its Their They He She His Her We Our You Your I My
    However Moreover Meanwhile Although Though Yet Still Thus Hence Therefore Today
    Yesterday Now Then There Here What Which Who Whom Whose Where Why How Such Some Many
    Most Several Both Each Every Other Another All No Not One Two Three Four Five Six
    Seven Eight Nine Ten First Second Third Last Next New Old Mr Mrs Ms Dr Prof
    President Prime Minister Foreign Deputy General Secretary Tsar King Queen Emperor
    Empress Patriarch Senator Ambassador Chancellor Premier Sultan Shah Pope Archbishop
    Bishop Governor Mayor Speaker Chairman Chairwoman Commander Head Chief Director
    Republic Government State States Parliament Ministry Council Union January February
    March April May June July August September October November December Monday Tuesday
    Wednesday Thursday Friday Saturday Sunday Senior Junior Advisor Adviser Lecturer Adjunct
    Fellow Professor Researcher Analyst Editor Correspondent Founder Member Envoy
    Representative Spokesman Spokeswoman Official Prosecutor Attorney Judge Justice
    Inspector Auditor Ombudsman Commissioner Ministers Officials Security Defence Defense
    """
)
# Words that make a capitalised run an organisation, an event or a place, not a person.
_NOT_PERSON = word_set(
    """
    Council Committee Commission Organization Organisation Treaty Security Collective
    Union Party Institute University College School Ministry Bank Fund Agency Forces
    Army Navy Mission Platform Cooperation Regional Federation Republic Kingdom Empire
    Sea Gulf Ocean River Lake Mountains Corridor Route Railway Pipeline Port Airport
    Airlines Company Group Centre Center Foundation Alliance Movement Revolution War
    Summit Agreement Declaration Convention Pact Accord Doctrine Process Format
    Initiative Strategy Programme Program Office Service Services Court Assembly
    Parliament Congress Senate Duma Guard Guards Church Patriarchate Dream Front Bloc
    News Media Times Post Review Journal Press Radio Television TV Online Today
    International National Federal Democratic Socialist Soviet South North East West
    Southern Northern Eastern Western Central Great Greater New
    """
)
_CAPITALISED = re.compile(r"\b[A-Z][\w’'.-]*[\w]|\b[A-Z]\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)[\"'“‘(]?$")


def proper_words(text: str) -> list[str]:
    """Capitalised words that may be part of a name: sentence openers, titles and months
    left out."""
    return [
        m.group(0)
        for m in _CAPITALISED.finditer(text)
        if m.group(0) not in _NOT_NAMES and not _SENTENCE_START.search(text[: m.start()])
    ]


_TITLE = re.compile(
    r"\b(?:President|Prime Minister|Minister|Secretary|Chancellor|Ambassador|Mr|Mrs|Ms|Dr|"
    r"Prof|General|Senator|King|Queen|Tsar|Emperor|Patriarch|Catholicos|leader|head|chief|"
    r"headed by|led by|chaired by)\.?\s+$"
)
_PERSON = re.compile(r"\b[A-Z][\w’'-]+(?:\s+(?:[A-Z]\.\s+)?[A-Z][\w’'-]+)+")


def _separates_names(word: str, places: set[str], common_words: frozenset[str]) -> bool:
    """A title, an opener, a place or a common word: not part of a person's name."""
    return word in _NOT_NAMES or word in places or word.lower() in common_words


def lowercase_words(texts: Iterable[str]) -> frozenset[str]:
    """Words a collection writes in lower case somewhere: common words, so a capitalised
    run made of them ("Joint Staff", "Collective Security") is not a person's name."""
    found: set[str] = set()
    for text in texts:
        found.update(re.findall(r"(?<![\w’'-])[a-z][a-z’'-]+", text))
    return frozenset(found)


def person_names(
    sentence: str, question: str, common_words: frozenset[str] = frozenset()
) -> list[str]:
    """Names of people in a sentence that the question does not contain: runs of two or more
    capitalised words that are not places, organisations or common words ("Richard Moore",
    "Bidzina Ivanishvili"), or a capitalised word after a title ("President Aliyev")."""
    asked = {w.casefold() for w in re.findall(r"[\w’'-]+", question)}
    places = {w for mention in find_names(sentence) for w in mention.text.split()}
    found = []
    for match in _PERSON.finditer(sentence):
        words = match.group(0).split()
        if any(w in _NOT_PERSON for w in words):
            continue  # an organisation, an event or a place
        run: list[str] = []
        for word in [*words, ""]:  # "" closes the last run
            if word and not _separates_names(word, places, common_words):
                run.append(word)
                continue
            if len(run) >= 2 and not any(w.casefold() in asked for w in run):
                found.append(" ".join(run))
            run = []
    runs = [m.group(0).split() for m in _PERSON.finditer(sentence)]
    for match in _CAPITALISED.finditer(sentence):
        word = re.sub(r"['’]s$", "", match.group(0))
        if word in _NOT_NAMES or word.casefold() in asked or canonical_names(word):
            continue
        run = next((r for r in runs if match.group(0) in r), [word])
        named = [w for w in run if w not in _NOT_NAMES]
        if any(w.casefold() in asked for w in named) or word.lower() in common_words:
            continue  # "President Ilham Aliyev" when the question names Aliyev
        if word in " ".join(found):
            continue
        titled = bool(_TITLE.search(sentence[: match.start()]))
        # A lone surname ("In Mackinder's terminology"): not an opener, an acronym, a
        # hyphenated adjective ("Euro-Atlantic") or an organisation's word.
        lone = (
            len(named) == 1
            and len(word) >= 4
            and not word.isupper()
            and "-" not in word
            and word not in _NOT_PERSON
            and not _SENTENCE_START.search(sentence[: match.start()])
        )
        if titled or lone:
            found.append(word)
    return found


def new_names(sentence: str, question: str) -> list[str]:
    """Names in a sentence that the question does not already contain, through variants:
    asked about "Türkiye", a sentence naming "Turkey" offers nothing new."""
    asked_words = {w.casefold() for w in re.findall(r"[\w’'-]+", question)}
    asked_names = canonical_names(question)
    fresh = []
    for mention_canonical in canonical_names(sentence) - asked_names:
        fresh.append(mention_canonical)
    known = {w.casefold() for name in canonical_names(sentence) for w in name.split()}
    for word in proper_words(sentence):
        bare = re.sub(r"['’]s$", "", word)
        head = bare.split("-")[0]  # "Chinese-led" is about what "Chinese" names
        if {bare.casefold(), head.casefold()} & (asked_words | known):
            continue
        if canonical_names(bare) & asked_names or canonical_names(head):
            continue
        fresh.append(bare)
    return fresh

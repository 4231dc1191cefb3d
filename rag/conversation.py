"""Follow-up questions: rewriting "and what about Georgia?" into a question that stands
alone, so retrieval and the answerer see what the user means.

With an LLM configured the condense prompt does this. Offline, a small reading of English
questions does it (no parser, no model; well under a millisecond per question). The
previous turn is read once: the names it mentions, each with a kind (person, place, group,
year, or a plural phrase such as "the authors"), and the shape of the question (wh-word,
auxiliary, subject, verb, rest), from which its topic is phrased ("When did Armenia freeze
its CSTO participation?" -> "Armenia's freezing of its CSTO participation"). Then the first
rule that applies rewrites the follow-up:

1. `swap_in` — "what/how about X?", "and X?", "X?", "and in 2023?": the previous question
   with the mention of X's kind (a person, a place, a date, a group; a peer first: Georgia
   replaces Azerbaijan, Turkey replaces Russia) replaced by X; an author replaces "the
   authors" or is asked "according to X"; a noun phrase that says in full what it asks
   about is asked on its own; with nothing to replace, "regarding X".
2. `ask_again` — a bare "why?", "and when?", "how so?", "why not?": the previous question
   asked with the new wh-word ("When did Armenia freeze ...?" -> "Why did Armenia freeze
   ...?").
3. `resolve_references` — pronouns without an antecedent in the follow-up itself, replaced
   in place by what they most plausibly mean: he/she/his/her -> the person named last (a
   "who" question's answer first), there -> the place named last (where something
   happened before an actor; else the answer's), they/them/their/these/those -> a plural
   or group (the previous subject first, then what a "which countries" question asked
   for), it/that/this -> the previous topic (or, for an acting "it"/"its" or a receiver,
   the previous subject or country), "do so/that/it" -> the previous verb phrase. A
   reference it cannot place keeps its word and gets the previous topic in parentheses.
4. `add_context` — a follow-up that leans on the previous turn without a pronoun ("And how
   did Moscow react?", "really?"): the previous topic in parentheses.

Anything else is already standalone and is returned as typed: no rule fires without a
pronoun that has no antecedent in the follow-up, an elliptical pattern, or a leading
"and/so/then" with nothing new named (name variants count as the same: Moscow/Russia/the
Kremlin, Türkiye/Turkey, capitals and their countries).

A model's rewrite is checked against these rules' (`rewrite_problem`): one that looks like
an answer, or loses what the follow-up and its context are about, is not used.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from rag.aliases import alias_table
from rag.lexical import terms, words

Kind = Literal["person", "place", "group", "name", "year", "phrase"]
Role = Literal["subject", "object", "possessive"]
Wants = Literal["person", "place", "plural", "thing"]

# --- word classes ---------------------------------------------------------------------


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WH = frozenset({"what", "when", "where", "why", "how", "who", "whom", "whose", "which"})
_DO = frozenset({"do", "does", "did"})
_BE = frozenset({"is", "are", "was", "were", "am"})
_HAVE = frozenset({"has", "have", "had"})
_MODAL = frozenset({"can", "could", "will", "would", "should", "may", "might", "must", "shall"})
_AUX = _DO | _BE | _HAVE | _MODAL
_PREPOSITIONS = _wordset(
    "about above across after against along amid among amongst around as at before behind "
    "below beneath beside besides between beyond by despite during except for from in "
    "inside into like near of off on onto out outside over past per regarding since than "
    "through throughout to toward towards under unlike until upon versus via with within "
    "without"
)
_CONNECTIVES = frozenset({"and", "but", "so", "also", "then", "or", "ok", "okay", "well"})
_DETERMINERS = _wordset(
    "the a an this that these those its their his her our my your some any each every "
    "both all no another other such"
)
_PRONOUNS = _wordset("it its they them their theirs he him his she her this that these those there")
_OTHER_FUNCTION = _wordset(
    "i me we us you not no yes please there here just only even still very more most much "
    "many few less least now ever never again too either neither nor whether if because "
    "while although though once unless"
)
# Calendar words are capitalised but name no entity.
_CALENDAR = _wordset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday"
)
_FUNCTION = (
    _WH
    | _AUX
    | _PREPOSITIONS
    | _CONNECTIVES
    | _DETERMINERS
    | _PRONOUNS
    | _OTHER_FUNCTION
    | _CALENDAR
    | {"be", "been", "being", "do", "done", "doing"}
)
# Words after which a new clause starts, so a pronoun there may point back inside the question.
_AUXILIARIES = _wordset(
    "is are was were be been do does did has have had can could will would shall should may "
    "might must"
)
_BOUNDARIES = _wordset(
    ", and but or that which who because after before when while if since although though "
    "once until where whereas"
)
# Imperatives that open a request with a capital letter that is not a name.
_OPENERS = _wordset(
    "tell explain describe compare give list summarise summarize show name say define "
    "outline according"
)

# Base forms of verbs common in questions about politics and texts: where a question's
# subject is a lower-case phrase, the first of these after it is taken as its verb.
_VERBS = _wordset(
    "accept accuse achieve act add affect agree aim allow ally argue arm ask assess attack "
    "avoid back balance ban become begin believe benefit blame block break bring build buy "
    "call cause cede change choose claim close come compare compete complain conclude "
    "condemn consider continue control cooperate cost count create criticise criticize cut "
    "deal decide declare deepen defend demand deny depend deploy describe develop discuss "
    "do drop emphasise emphasize end ensure escalate establish evaluate evolve expand expect "
    "explain face fail fall fear feel fight find fit focus follow force freeze gain get "
    "give go grow happen have hear help hold hope hurt ignore impact implement impose "
    "improve include increase influence insist intend interpret invade invest join keep "
    "lack launch lead learn leave let lift limit link look lose maintain make manage "
    "matter mean mediate meet mention miss move name need negotiate note object occupy "
    "occur offer open oppose pay plan play portray predict prefer present press prevent "
    "promise propose protect provide publish pursue push put raise reach react read "
    "receive recognise recognize recommend reduce refuse regard reject rely remain remove "
    "replace report represent request require respond restore return rise rule run say "
    "see seek seem sell send serve set settle shape share shift show sign signal solve "
    "speak stand start state stay stop strengthen stress succeed suffer suggest supply "
    "support suspend take talk tell tend think threaten trade treat try turn understand "
    "undermine unite use view visit vote want warn weaken win withdraw work worry write "
    "grant lend award owe"
)


def _irregular(text: str) -> dict[str, tuple[str, str]]:
    """ "be was been / begin began begun" -> {"be": ("was", "been"), "begin": ("began", "begun")}"""
    table: dict[str, tuple[str, str]] = {}
    for entry in text.split(" / "):
        base, past, participle = entry.split()
        table[base] = (past, participle)
    return table


# Irregular verbs: base, past tense, past participle.
_IRREGULAR = _irregular(
    "be was been / become became become / begin began begun / break broke broken / "
    "bring brought brought / build built built / buy bought bought / choose chose chosen / "
    "come came come / cut cut cut / deal dealt dealt / do did done / fall fell fallen / "
    "feel felt felt / fight fought fought / find found found / freeze froze frozen / "
    "get got got / give gave given / go went gone / have had had / hear heard heard / "
    "hold held held / hurt hurt hurt / keep kept kept / lead led led / "
    "learn learned learned / leave left left / let let let / lose lost lost / "
    "make made made / mean meant meant / meet met met / put put put / read read read / "
    "rise rose risen / run ran run / say said said / see saw seen / seek sought sought / "
    "sell sold sold / send sent sent / set set set / speak spoke spoken / "
    "stand stood stood / take took taken / tell told told / think thought thought / "
    "understand understood understood / win won won / withdraw withdrew withdrawn / "
    "write wrote written"
)
_IRREGULAR_PAST = {base: forms[0] for base, forms in _IRREGULAR.items()}
_IRREGULAR_PARTICIPLE = {base: forms[1] for base, forms in _IRREGULAR.items()}
_PARTICIPLES = frozenset(_IRREGULAR_PARTICIPLE.values())
_BASE_OF = {v: k for k, v in _IRREGULAR_PAST.items()} | {
    v: k for k, v in _IRREGULAR_PARTICIPLE.items()
}
# Verbs whose last syllable is stressed: they double the final consonant (admitting).
_DOUBLING = _wordset(
    "admit commit compel control occur omit permit prefer refer regret submit transfer"
)
# Verbs of saying and seeing: "what does X say about Y" is about Y, not about X's saying.
_ATTITUDE = _wordset(
    "argue assess believe call characterise characterize claim conclude consider criticise "
    "criticize describe discuss emphasise emphasize evaluate expect explain feel frame "
    "interpret judge mean note portray predict propose recommend regard say see stress "
    "suggest think view warn write"
)
# Verbs whose "it" is an event or a state of affairs rather than an actor.
_EVENT = _wordset(
    "affect begin cause change compare come continue develop end evolve fail go happen "
    "help hurt impact influence last lead look matter mean occur remain seem shape stand "
    "start succeed unfold work"
)
# Adjectives of "it is ADJ that/to ...", where "it" points at nothing.
_EXPLETIVE_ADJECTIVES = _wordset(
    "true possible necessary important clear fair hard easy difficult wise right wrong "
    "realistic surprising enough safe useful worth the"
)
_TITLES = _wordset(
    "President Prime Minister PM Dr Mr Mrs Ms Chancellor Secretary General King Queen "
    "Senator Ambassador Professor Prof Foreign Defence Defense Deputy Vice Speaker Chairman "
    "Leader Pope Patriarch Catholicos Commander Emir Sultan Premier"
)
# Last words of a multi-word name that make it an organisation, a place or an event
# rather than a person ("Eurasian Economic Union", "Middle Corridor").
_ORGANISATION_HEADS = _wordset(
    "Union Organization Organisation Treaty Council Corridor Army Party Bank Forum Alliance "
    "Institute Ministry Parliament Assembly Group Agreement Accord Accords Process Format "
    "Platform Initiative Route Pipeline Railway Service Force Forces Commission Committee "
    "Court Office Government War Republic Federation Kingdom States Emirates Sea Ocean "
    "Mountains Region Summit Declaration Conference Movement Community Company"
)
# Regions and places of the collection's subject that are neither countries nor capitals.
_REGIONS = _wordset(
    "Caucasus Karabakh Nagorno-Karabakh Nakhchivan Zangezur Syunik Abkhazia Crimea Donbas "
    "Europe Asia Eurasia Africa America Balkans Baltics Transcaucasia Caspian"
) | {
    "South Caucasus",
    "North Caucasus",
    "South Ossetia",
    "Central Asia",
    "Middle East",
    "Black Sea",
    "Caspian Sea",
}
# Name variants beyond capitals -> countries (rag.aliases): the same entity, two spellings.
_VARIANTS = {
    "Türkiye": "Turkey",
    "Turkiye": "Turkey",
    "Russian Federation": "Russia",
    "USA": "United States",
    "US": "United States",
    "U.S.": "United States",
    "America": "United States",
    "UK": "United Kingdom",
    "Britain": "United Kingdom",
    "Great Britain": "United Kingdom",
    "European Union": "EU",
}
_PLACE_PREPOSITIONS = frozenset(
    {"in", "at", "to", "from", "into", "across", "near", "inside", "around", "within"}
)
# Prepositions of location: a place after one of these is where something happened.
_LOCATIVE = frozenset({"in", "at", "near", "inside", "around", "within", "across"})
_IRREGULAR_PLURALS = _wordset("people men women children servicemen soldiers media police clergy")
_TIME_NOUNS = _wordset(
    "year years week month day days time times morning summer winter spring autumn"
)

_TOKEN = re.compile(r"[^\W_](?:[\w’'.–-]*[^\W_])?[’']?|[^\w\s]")
_DEMONYMS = re.compile(r"[A-Z][a-z]+(?:ans|anis)")
_YEAR = re.compile(r"(?:1[89]|20)\d\d(?:s|’s|'s)?")
_TRAILING_CONTEXT = re.compile(r"\s*\([^()]*\)\s*([?.!]*)\s*$")

# --- tokens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A word or punctuation mark, with what the rules ask of it computed once."""

    text: str
    start: int
    end: int
    low: str  # lower case, the possessive dropped: "Russia’s" -> "russia"
    possessive: bool
    capitalised: bool  # may begin a name ("CSTO-led" is an adjective, not a name)
    word: bool


def _token(text: str, start: int, end: int) -> Token:
    plain = text.replace("’", "'")
    head, _, tail = text.rpartition("-")
    return Token(
        text=text,
        start=start,
        end=end,
        low=_strip_possessive(plain).lower(),
        possessive=plain.endswith("'s") or (plain.endswith("'") and len(plain) > 2),
        capitalised=text[0].isupper() and not (head and tail[:1].islower()),
        word=text[0].isalnum(),
    )


def _strip_possessive(text: str) -> str:
    if text.endswith(("'s", "’s")):
        return text[:-2]
    if text.endswith(("'", "’")) and len(text) > 2:
        return text[:-1]
    return text


@lru_cache(maxsize=512)
def tokenize(text: str) -> tuple[Token, ...]:
    """Words (with their apostrophes and hyphens) and punctuation marks. Memoised: the rules
    read the same few strings several times per follow-up."""
    return tuple(_token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text))


def core(question: str) -> str:
    """The question without a context added by an earlier rewrite and without its final
    punctuation: what the rules read."""
    text = _TRAILING_CONTEXT.sub(r"\1", question.strip())
    return text.rstrip(" ?.!")


# --- what a question mentions ---------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """A name or plural phrase in a question; `text` is `question[start:end]` with the
    possessive ending dropped and a leading "the" kept ("the West")."""

    text: str
    start: int
    end: int
    kind: Kind
    plural: bool = False
    possessive: bool = False
    modifier: bool = False  # a name used as a noun's modifier: "CSTO" in "CSTO participation"


# Places that stand for a government ("the Kremlin decided"): actors, not locations.
_GOVERNMENTS = frozenset(
    {"Kremlin", "White House", "Pentagon", "Downing Street", "Élysée", "Brussels"}
)


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    """Countries, capitals and the regions above: the names "there" can point at."""
    table = alias_table()
    variants = set(_VARIANTS) | set(_VARIANTS.values())
    return frozenset(set(table) | set(table.values()) | _REGIONS | variants) - _GOVERNMENTS - {"EU"}


def canonical(name: str) -> str:
    """One spelling per entity, so variants are not taken for something new:
    Moscow, the Kremlin, Russia -> Russia; Türkiye, Ankara -> Turkey."""
    bare = _strip_possessive(name.strip())
    bare = bare[4:] if bare.lower().startswith("the ") else bare
    country = alias_table().get(bare, bare)
    return _VARIANTS.get(country, country)


def same_entity(a: str, b: str) -> bool:
    return canonical(a).casefold() == canonical(b).casefold()


@lru_cache(maxsize=16)
def _person_words(known_people: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        word.lower() for name in known_people for word in name.split() if len(word) > 2
    )


def _name_at_start(tokens: Sequence[Token], i: int, known: frozenset[str]) -> bool:
    """Whether a capitalised first word is a name ("Armenia's role?", "Melvin?") rather than
    a word capitalised for starting the sentence ("Really?", "Tell me more")."""
    token = tokens[i]
    if token.low in _OPENERS or token.low in _VERBS:
        return False
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    return (
        token.possessive
        or token.text.isupper()
        or token.low in known
        or _strip_possessive(token.text) in _places()
        or (following is not None and following.word and following.capitalised)
    )


def _name_runs(tokens: Sequence[Token], known: frozenset[str]) -> list[tuple[int, int]]:
    """Token ranges [i, j) of capitalised words that form one name; a possessive ends it."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        opener = i == 0 or (not tokens[i - 1].word and tokens[i - 1].text in "\"'“‘(")
        if (
            token.word
            and token.capitalised
            and token.low not in _FUNCTION
            and not (opener and not _name_at_start(tokens, i, known))
            and not _YEAR.fullmatch(token.text)
        ):
            j = i + 1
            while (
                not tokens[j - 1].possessive
                and j < len(tokens)
                and tokens[j].word
                and tokens[j].capitalised
                and tokens[j].low not in _FUNCTION
            ):
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def _kind_of(
    name: str, tokens: Sequence[Token], i: int, j: int, people: frozenset[str]
) -> Kind | None:
    """The kind of the name tokens[i:j]; None for an adjective such as "Russian troops"."""
    parts = name.split()
    before = tokens[i - 1].low if i > 0 else ""
    after = tokens[j].text if j < len(tokens) else ""
    if name in _GOVERNMENTS:
        return "group"
    if name in _places() or canonical(name) in _places():
        return "place"
    if parts[-1].lower() in people:
        return "person"
    if name.isupper() and len(name) >= 2:
        return "group"
    if _DEMONYMS.fullmatch(name):
        return "group"  # "Armenians", "Azerbaijanis": a people, plural
    if len(parts) == 1 and not tokens[j - 1].possessive and after[:1].islower():
        adjective = re.search(r"(?:[^y]an|ese|ish|ic|i)$", name) is not None
        if adjective and after.lower() not in _FUNCTION and _verb_base(after) is None:
            return None  # "Russian troops", "Azerbaijani side" (but "Pashinyan met")
    if before == "the" or parts[-1] in _ORGANISATION_HEADS:
        return "group"
    if len(parts) >= 2:
        return "person"
    if before in _PLACE_PREPOSITIONS:
        return "place"
    return "name"


def _names(tokens: Sequence[Token], text: str, people: frozenset[str]) -> list[Mention]:
    found: list[Mention] = []
    for i, j in _name_runs(tokens, people):
        titles = [k for k in range(i, j) if _strip_possessive(tokens[k].text) in _TITLES]
        if titles:
            i, forced = titles[-1] + 1, True  # "Azerbaijani President Ilham Aliyev"
            if i >= j:
                continue  # a role without a name: "the Prime Minister of Armenia"
        else:
            forced = False
        name = _strip_possessive(text[tokens[i].start : tokens[j - 1].end])
        kind = "person" if forced else _kind_of(name, tokens, i, j, people)
        if kind is None:
            continue
        start = tokens[i].start
        if kind == "group" and i > 0 and tokens[i - 1].low == "the":
            start = tokens[i - 1].start
        after = tokens[j].low if j < len(tokens) else ""
        modifier = (
            not tokens[j - 1].possessive
            and j < len(tokens)
            and tokens[j].word
            and tokens[j].text[0].islower()
            and after not in _FUNCTION
            and _verb_base(after) is None
        )
        full = text[start : tokens[i].start] + name  # with "the" before a group
        found.append(
            Mention(
                text=full,
                start=start,
                end=start + len(full),
                kind=kind,
                plural=name.split()[-1] in {"States", "Emirates", "Forces", "Accords"}
                or _DEMONYMS.fullmatch(name) is not None,
                possessive=tokens[j - 1].possessive,
                modifier=modifier,
            )
        )
    return found


def _dates(tokens: Sequence[Token], text: str) -> list[Mention]:
    """Years, with the month (and day) written before them: "July 2025", "5 May 2023"."""
    found: list[Mention] = []
    for k, token in enumerate(tokens):
        if not _YEAR.fullmatch(token.text):
            continue
        start = k
        if start > 0 and tokens[start - 1].low in _CALENDAR:
            start -= 1
            if start > 0 and tokens[start - 1].text.isdigit() and len(tokens[start - 1].text) <= 2:
                start -= 1
        begin = tokens[start].start
        found.append(Mention(text[begin : token.end], begin, token.end, "year"))
    return found


def _looks_plural(word: str) -> bool:
    return (
        len(word) > 3
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is", "ics", "news", "'s", "’s"))
        and word not in _FUNCTION
    )


def _plural_phrases(tokens: Sequence[Token], text: str) -> list[Mention]:
    """ "the authors", "the Baltic states", "both countries": plural antecedents of "they"."""
    found: list[Mention] = []
    for i, token in enumerate(tokens):
        if token.low not in {"the", "both"}:
            continue
        for j in range(i + 1, min(i + 4, len(tokens))):
            word = tokens[j]
            if not word.word or word.low in _FUNCTION:
                break
            if _looks_plural(word.text) and word.text[0].islower() and not word.possessive:
                following = tokens[j + 1] if j + 1 < len(tokens) else None
                if following and following.word and _looks_plural(following.text):
                    continue  # "the peace talks" rather than "the peace"
                found.append(
                    Mention(text[token.start : word.end], token.start, word.end, "phrase", True)
                )
                break
    return found


def _coordinated(found: Sequence[Mention], text: str) -> list[Mention]:
    """ "Aliyev and Pashinyan", "Armenia and Azerbaijan": one plural mention of both."""
    pairs: list[Mention] = []
    for left, right in itertools.pairwise(found):
        between = text[left.end : right.start]
        if between.strip().lower() in {"and", "&"} and not left.possessive:
            kind = left.kind if left.kind == right.kind else "group"
            both = text[left.start : right.start] + right.text
            pairs.append(
                Mention(both, left.start, right.end, kind, plural=True, possessive=right.possessive)
            )
    return pairs


def mentions(text: str, known_people: Sequence[str] = ()) -> tuple[Mention, ...]:
    """Names, years and plural phrases of a question, in order of appearance."""
    return _mentions(text, tuple(known_people))


@lru_cache(maxsize=512)
def _mentions(text: str, known_people: tuple[str, ...]) -> tuple[Mention, ...]:
    tokens = tokenize(text)
    names = _names(tokens, text, _person_words(known_people))
    found = names + _dates(tokens, text) + _plural_phrases(tokens, text) + _coordinated(names, text)
    return tuple(sorted(found, key=lambda m: (m.start, -m.end)))


# --- the shape of a question ----------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """A question read as [wh] aux subject verb rest ("When | did | Armenia | freeze |
    its CSTO participation"); a copula has no verb ("What | is | Russia's role in Armenia")."""

    wh: str  # the wh-phrase as written ("How many troops"); "" for a yes/no question
    wh_role: Literal["adverb", "subject", "object", "predicate", ""]
    aux: str
    subject: str
    verb: str
    rest: str
    form: Literal["active", "passive", "progressive", "perfect", "copula"]


def _verb_base(word: str) -> str | None:
    """The base form of a verb form from the lexicon: "froze" -> "freeze", "signed" -> "sign"."""
    word = word.lower()
    if word in _VERBS:
        return word
    if word in _BASE_OF:
        return _BASE_OF[word]
    candidates = []
    if word.endswith("ing"):
        stem = word[:-3]
        candidates += [stem, stem + "e", stem[:-1]]
    if word.endswith("ied"):
        candidates.append(word[:-3] + "y")
    if word.endswith("ed"):
        candidates += [word[:-2], word[:-1], word[:-3]]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s"):
        candidates.append(word[:-1])
    return next((c for c in candidates if c in _VERBS), None)


def _could_be_verb(token: Token, after_noun: bool) -> bool:
    """A verb from the lexicon; after "which countries" any lower-case content word, as the
    verb is what must follow there ("Which countries border Armenia")."""
    if _verb_base(token.low) is not None:
        return True
    return after_noun and token.word and token.text[0].islower() and token.low not in _FUNCTION


def _participle(token: Token) -> bool:
    low = token.text.lower()
    return low in _PARTICIPLES or (low.endswith("ed") and len(low) > 4)


def _gerund_form(token: Token) -> bool:
    low = token.text.lower()
    return low.endswith("ing") and len(low) > 4 and low not in {"during", "morning", "evening"}


def _subject_end(
    tokens: Sequence[Token], start: int, names: Sequence[Mention], perfect: bool
) -> int | None:
    """Where the subject starting at tokens[start] ends (the index of the verb): the first
    base form after it (a participle after has/have/had)."""
    if start >= len(tokens):
        return None
    first = tokens[start]
    if first.low in {"it", "they", "he", "she", "this", "that", "these", "those", "there"}:
        return start + 1
    for name in names:
        if name.start == first.start and not name.possessive:
            end = next(k for k, t in enumerate(tokens) if t.end >= name.end) + 1
            return end if end < len(tokens) else None
    for k in range(start + 1, min(start + 8, len(tokens))):
        low = tokens[k].low
        verb = _participle(tokens[k]) and _verb_base(low) is not None if perfect else low in _VERBS
        if verb and tokens[k - 1].low not in _DETERMINERS and tokens[k].word:
            return k
    return None


@lru_cache(maxsize=512)
def parse_question(question: str) -> Clause | None:
    """The shape of a simple question, or None when it is not one this reading knows."""
    text = core(question)
    tokens = [t for t in tokenize(text) if t.text not in {",", ";", ":"}]
    while tokens and tokens[0].low in _CONNECTIVES:
        tokens = tokens[1:]
    if len(tokens) < 2:
        return None
    names = [m for m in mentions(text) if m.kind != "phrase"]
    lows = [t.low for t in tokens]

    def span(i: int, j: int) -> str:
        return text[tokens[i].start : tokens[j - 1].end] if i < j else ""

    if lows[0] in _WH:
        found = next((k for k in range(1, min(5, len(tokens))) if lows[k] in _AUX), None)
        if found is None:  # "Who signed the deal", "Which country mediated the talks"
            verb_at = 1 if lows[0] in {"who", "what"} else 2
            if verb_at >= len(tokens) or not _could_be_verb(tokens[verb_at], verb_at == 2):
                return None
            return Clause(
                span(0, verb_at), "subject", "", "", tokens[verb_at].text,
                span(verb_at + 1, len(tokens)), "active",
            )  # fmt: skip
        aux_at = found
        wh = span(0, aux_at)
        if lows[0] in {"when", "where", "why"} or (lows[0] == "how" and aux_at == 1):
            role: Literal["adverb", "subject", "object", "predicate", ""] = "adverb"
        else:
            role = "object"
    elif lows[0] in _AUX:
        aux_at, wh, role = 0, "", ""
    else:
        return None
    aux = tokens[aux_at]
    after = aux_at + 1
    if after >= len(tokens):
        return None
    if aux.low in _BE:
        for k in range(after + 1, len(tokens)):
            previous = tokens[k - 1].low
            if previous in _DETERMINERS or tokens[k - 1].possessive or not tokens[k].word:
                continue
            if tokens[k].text[0].isupper():
                continue
            if _participle(tokens[k]) and _verb_base(lows[k]) is not None:
                return Clause(
                    wh, role, aux.text, span(after, k), tokens[k].text,
                    span(k + 1, len(tokens)), "passive",
                )  # fmt: skip
            if _gerund_form(tokens[k]) and _verb_base(lows[k]) is not None:
                return Clause(
                    wh, role, aux.text, span(after, k), tokens[k].text,
                    span(k + 1, len(tokens)), "progressive",
                )  # fmt: skip
        if role == "object" or (lows[0] == "how" and wh):
            role = "predicate"
        return Clause(wh, role, aux.text, span(after, len(tokens)), "", "", "copula")
    end = _subject_end(tokens, after, names, perfect=aux.low in _HAVE)
    if end is None or end >= len(tokens):
        return None
    verb_at = end
    if aux.low in _HAVE and not _participle(tokens[verb_at]):
        return None
    return Clause(
        wh, role, aux.text, span(after, verb_at), tokens[verb_at].text,
        span(verb_at + 1, len(tokens)), "perfect" if aux.low in _HAVE else "active",
    )  # fmt: skip


# --- phrasing: verb forms and the topic of a question ---------------------------------


def _ends_cvc(word: str) -> bool:
    vowels = "aeiou"
    return (
        len(word) >= 3
        and word[-1] not in vowels + "wxy"
        and word[-2] in vowels
        and word[-3] not in vowels
        and len(re.findall(r"[aeiou]+", word)) == 1
    )


def gerund(verb: str) -> str:
    """freeze -> freezing, stop -> stopping, admit -> admitting, see -> seeing."""
    base = _verb_base(verb) or verb.lower()
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")) and len(base) > 2:
        return base[:-1] + "ing"
    if _ends_cvc(base) or base in _DOUBLING:
        return base + base[-1] + "ing"
    return base + "ing"


def past_tense(verb: str) -> str:
    base = _verb_base(verb) or verb.lower()
    if base in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[base]
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ied"
    if _ends_cvc(base) or base in _DOUBLING:
        return base + base[-1] + "ed"
    return base + "ed"


def third_person(verb: str) -> str:
    base = _verb_base(verb) or verb.lower()
    if base in {"have", "be", "do", "go"}:
        return {"have": "has", "be": "is", "do": "does", "go": "goes"}[base]
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


def possessive_of(phrase: str) -> str:
    """Russia -> Russia's, the authors -> the authors'."""
    if phrase.endswith("s") and _looks_plural(phrase.split()[-1]):
        return phrase + "'"
    return phrase + "'s"


def _starts_with_preposition(text: str) -> bool:
    first = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    return first in _PREPOSITIONS or bool(_YEAR.fullmatch(first))


def topic_phrase(clause: Clause) -> str | None:
    """What a question is about, as a noun phrase that can stand in for "it":

    "What is Russia's role in Armenia" -> "Russia's role in Armenia";
    "When was the peace deal signed" -> "the peace deal";
    "What does Melvin say about the corridor" -> "the corridor";
    "What did Azerbaijan demand after the crash" -> "what Azerbaijan demanded after the crash";
    "When did Armenia freeze its CSTO participation"
        -> "Armenia's freezing of its CSTO participation".
    """
    subject, verb, rest = clause.subject, clause.verb, clause.rest
    if clause.form == "copula":
        return subject if clause.wh_role == "predicate" and subject else None
    if clause.form == "passive":
        return subject or None
    if clause.form == "progressive":
        if clause.wh_role == "object":
            return f"what {subject} {clause.aux.lower()} {verb} {rest}".strip()
        return f"{subject} {verb} {rest}".strip()
    base = _verb_base(verb)
    if base is None:
        return None
    if clause.wh_role == "subject":
        if rest and _starts_with_preposition(rest):  # "what happened to the brothers"
            return f"{clause.wh.lower()} {verb} {rest}"
        return rest or None
    if base in _ATTITUDE and rest:
        head, _, tail = rest.partition(" ")
        if head.lower() in {"about", "of", "on", "regarding", "towards", "toward"} and tail:
            return tail
        return rest if _verb_base(rest.split()[-1]) is None else None
    if clause.wh_role == "object":
        relative = "who" if clause.wh.lower() in {"who", "whom"} else "what"
        aux = clause.aux.lower()
        if aux not in _DO:  # "what Azerbaijan has followed", "what Russia could do"
            return f"{relative} {subject} {aux} {verb} {rest}".strip()
        inflected = {"did": past_tense(base), "does": third_person(base)}.get(aux, base)
        return f"{relative} {subject} {inflected} {rest}".strip()
    if not subject or subject.lower() in _PRONOUNS:
        return None
    head = subject.split()[-1]
    if subject[0].islower() and not _looks_plural(head) and head.lower() not in _IRREGULAR_PLURALS:
        return subject  # "How did the 2020 war change ..." is about the war: a thing, not an actor
    joiner = "" if not rest else " " if _starts_with_preposition(rest) else " of "
    return f"{possessive_of(subject)} {gerund(base)}{joiner}{rest}"


def verb_phrase(clause: Clause) -> str | None:
    """The predicate of an active question in its base form, for "do so/it/that":
    "When did Armenia freeze its CSTO participation" -> "freeze its CSTO participation";
    "What did Azerbaijan demand after the crash" -> "demand that after the crash"."""
    if clause.form != "active" or clause.wh_role in {"subject", "predicate"}:
        return None
    base = _verb_base(clause.verb)
    if base is None:
        return None
    if clause.wh_role == "object":
        return f"{base} that {clause.rest}".strip()
    return f"{base} {clause.rest}".strip()


# --- the previous turn, read once -----------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """The previous standalone question and its answer, as the rules read them."""

    question: str  # the core of the previous standalone question
    clause: Clause | None
    mentions: tuple[Mention, ...]
    answer_mentions: tuple[Mention, ...]
    topic: str | None
    known_people: tuple[str, ...] = field(default=())
    answer_set: str | None = None  # "Which Baltic countries ..." -> "the Baltic countries"

    @property
    def subject(self) -> Mention | None:
        """The mention that is (or owns) the previous question's subject: the most
        salient antecedent."""
        if self.clause is None or not self.clause.subject:
            return None
        offset = self.question.find(self.clause.subject)
        for mention in self.mentions:
            if mention.start == offset and mention.kind != "year":
                return mention
        return None

    @property
    def context(self) -> str:
        """What the previous question was about, for a reference that cannot be placed."""
        if self.topic:
            return self.topic
        names = _unique(m.text for m in self.mentions if m.kind != "phrase")
        return ", ".join(names) if names else " ".join(key_words(self.question))


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _first_sentence(answer: str) -> str:
    text = re.sub(r"\s*\[\d+\]", "", answer).strip()
    match = re.search(r"(?<=[.!?])\s+(?=[A-Z])", text)
    return text[: match.start()] if match else text


_ATTRIBUTION = re.compile(
    r",?\s+(?:according\s+to|in\s+the\s+view\s+of|in\s+\S+\s+view|as\s+\S+\s+(?:says|sees\s+it))"
    r"(?:\s+[^,]+)?$",
    re.IGNORECASE,
)


def without_attribution(question: str) -> str:
    """ "Why is Armenia turning away, according to Askerov" -> "Why is Armenia turning away":
    the topic, without whose view it was, which a follow-up may ask of someone else."""
    return _ATTRIBUTION.sub("", question)


def _answer_set(clause: Clause | None) -> str | None:
    """What a "which/what + plural noun" question asks for: the plural "they" of the
    next turn ("Which Baltic countries does Iskenderov mention" -> "the Baltic countries",
    "Which countries border Armenia" -> "the countries that border Armenia")."""
    if clause is None or not clause.wh:
        return None
    first, _, noun = clause.wh.partition(" ")
    if first.lower() not in {"which", "what"} or not noun:
        return None
    head = noun.split()[-1]
    if not (_looks_plural(head) or head in _IRREGULAR_PLURALS):
        return None
    if clause.wh_role == "subject":  # "Which countries border Armenia": what defines them
        return f"the {noun} that {clause.verb} {clause.rest}".strip()
    return f"the {noun}"


def read_turn(previous: str, answer: str = "", known_people: Sequence[str] = ()) -> Turn:
    question = core(previous)
    clause = parse_question(question)
    about = parse_question(without_attribution(question))
    return Turn(
        question=question,
        clause=clause,
        mentions=mentions(question, known_people),
        answer_mentions=mentions(_first_sentence(answer), known_people) if answer else (),
        topic=topic_phrase(about) if about else None,
        known_people=tuple(known_people),
        answer_set=_answer_set(clause),
    )


# --- editing a question ---------------------------------------------------------------

_SINGULAR_AUX = {"do": "does", "are": "is", "were": "was", "have": "has"}
_PLURAL_AUX = {v: k for k, v in _SINGULAR_AUX.items()}


@dataclass(frozen=True)
class Edit:
    """Replace question[start:end] with text."""

    start: int
    end: int
    text: str


def _agree(text: str, start: int, plural: bool) -> Edit | None:
    """The auxiliary right before a replaced subject, made to agree with it."""
    match = re.search(r"(\w+)\s+$", text[:start])
    if match is None:
        return None
    table = _PLURAL_AUX if plural else _SINGULAR_AUX
    word = match.group(1)
    new = table.get(word.lower())
    if new is None:
        return None
    new = new.capitalize() if word[0].isupper() else new
    return Edit(match.start(1), match.end(1), new)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    out = text
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        out = out[: edit.start] + edit.text + out[edit.end :]
    return out[:1].upper() + out[1:]


def _finish(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().rstrip(" ?.!")
    return text[:1].upper() + text[1:] + "?"


def _with_context(question: str, context: str) -> str:
    return f"{question.rstrip(' ?.!')} ({context})?"


def _strip_connective(question: str) -> str:
    tokens = tokenize(question)
    while tokens and tokens[0].low in _CONNECTIVES and len(tokens) > 1:
        question = question[tokens[1].start :]
        tokens = tokenize(question)
    question = question.lstrip(" ,")
    return question[:1].upper() + question[1:]


# --- rule 1: "what about X?", "and X?", "and in 2023?" ---------------------------------

_WHAT_ABOUT = re.compile(
    r"^\s*(?:(?:and|but|so|ok|okay|well)\s*,?\s*)?(?:what|how)\s+about\s+(?P<topic>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_AND_TOPIC = re.compile(
    r"^\s*(?i:and|or|but)\s*,?\s+"
    r"(?!(?i:what|why|how|when|where|who|whom|whose|which|is|are|was|were|do|does|did|can|"
    r"could|would|should|will|has|have|had|it|its|they|them|their|he|she|his|her|this|that|"
    r"these|those|there)\b)"
    r"(?P<topic>(?:(?i:in|for|of|on|at|from|with|by|since|after|before|during|under)\s+)?"
    r"(?:(?:the\s+)?(?:[A-Z]|(?:1[89]|20)\d\d)|the\s+[a-z])[^?]{0,80}?)\s*[?.!]*\s*$"
)


def _replace_mention(question: str, old: Mention, new: str, new_plural: bool = False) -> str:
    """`old` replaced by `new` in the question, the possessive and the verb agreement kept."""
    text = _strip_possessive(new)
    if old.possessive:
        text = possessive_of(text)
    edits = [Edit(old.start, old.end + (_possessive_length(question, old)), text)]
    if old.plural != new_plural:
        agreement = _agree(question, old.start, new_plural)
        if agreement:
            edits.append(agreement)
    return apply_edits(question, edits)


def _possessive_length(question: str, mention: Mention) -> int:
    if not mention.possessive:
        return 0
    tail = question[mention.end : mention.end + 2]
    return 2 if tail in {"'s", "’s"} else 1 if tail[:1] in {"'", "’"} else 0


def _same_kind(new: Mention, old: Mention) -> bool:
    if new.kind == old.kind:
        return True
    return {new.kind, old.kind} <= {"place", "group", "name"} and "name" in {new.kind, old.kind}


def _is_description(topic: str) -> bool:
    """ "the share of Georgian wine exports that went to Russia": a noun phrase that says
    in full what it asks about, so it is asked on its own rather than grafted on."""
    tokens = [t for t in tokenize(topic) if t.word]
    if (
        len(tokens) < 2
        or tokens[0].low not in {"the", "a", "an"}
        or not tokens[1].text[0].islower()
    ):
        return False
    return len(tokens) >= 5 or any(t.low in {"that", "which", "who"} for t in tokens[2:])


def _past(turn: Turn) -> bool:
    clause = turn.clause
    if clause is not None and clause.aux.lower() in {"did", "was", "were", "had"}:
        return True
    return any(t.low in _BASE_OF for t in tokenize(turn.question))


def swap_in(follow_up: str, turn: Turn) -> str | None:
    """ "and what about Georgia?" after "What is Russia's role in Armenia?" -> "What is
    Russia's role in Georgia?": X replaces the previous mention of its own kind."""
    match = _WHAT_ABOUT.match(follow_up) or _AND_TOPIC.match(follow_up)
    if not match:
        return _bare_name(follow_up, turn)
    topic = match.group("topic").strip()
    if _is_description(topic):
        return _finish(f"What {'was' if _past(turn) else 'is'} {topic}")
    if len(topic.split()) > 7:
        return None
    topic = resolve_references(topic, turn) or topic
    topic = core(topic)
    bare_topic = re.sub(
        r"^(?:in|for|of|on|at|from|with|by|since|after|before|during|under)\s+", "", topic
    )
    previous = turn.question
    new = [m for m in mentions(bare_topic, turn.known_people) if not m.modifier]
    whole = new[0] if len(new) == 1 and new[0].text == _strip_possessive(bare_topic) else None
    if whole is None and len(new) == 1 and new[0].kind == "year":
        whole = new[0]
    if whole is not None:
        swapped = _swap_mention(previous, whole, turn)
        if swapped is not None:
            return swapped
    attitude = turn.clause is not None and _verb_base(turn.clause.verb) in _ATTITUDE
    old_topic = turn.topic or ""
    if not new and attitude and old_topic in previous and old_topic not in {"", previous}:
        # "What does Melvin say about Russia's role?" + "what about the corridor?"
        return _finish(previous.replace(old_topic, bare_topic, 1))
    if whole is not None and whole.kind == "year":
        return _finish(f"{previous} in {whole.text}")
    return _finish(f"{previous} regarding {topic}")


def _bare_name(follow_up: str, turn: Turn) -> str | None:
    """ "Melvin?", "Georgia?": a follow-up that is nothing but a new name or date, read as
    "and Melvin?" when it can replace a previous mention."""
    text = core(follow_up)
    found = [m for m in mentions(text, turn.known_people) if m.kind != "phrase"]
    if len(found) != 1 or found[0].start != 0 or found[0].end != len(text):
        return None
    return _swap_mention(turn.question, found[0], turn)


# Entities that stand in for one another in a question: "What about Georgia?" after a
# question on Azerbaijan and Ukraine replaces Azerbaijan, its peer, not the last name.
_PEERS = (
    frozenset({"Armenia", "Azerbaijan", "Georgia"}),
    frozenset(
        {"Russia", "Turkey", "Iran", "United States", "EU", "China", "France", "United Kingdom"}
        | {"Israel", "India", "Pakistan", "Ukraine"}
    ),
)


def _peers_of(name: str) -> frozenset[str]:
    key = canonical(name)
    return next((group for group in _PEERS if key in group), frozenset())


def _swap_mention(previous: str, new: Mention, turn: Turn) -> str | None:
    old = [m for m in turn.mentions if not m.modifier]
    if new.kind == "year":
        years = [m for m in old if m.kind == "year"]
        return _finish(_replace_mention(previous, years[-1], new.text)) if years else None
    if any(same_entity(new.text, m.text) for m in old if m.kind != "year"):
        return None  # the same entity again: not a swap
    if new.kind == "person":
        return _swap_person(previous, new, turn)
    if new.possessive:
        owners = [m for m in old if m.possessive and m.kind not in {"year", "phrase"}]
        if owners:
            return _finish(_replace_mention(previous, owners[0], new.text, new.plural))
    same = [m for m in old if _same_kind(new, m) and m.kind != "year" and not m.plural]
    peers = [m for m in same if canonical(m.text) in _peers_of(new.text)]
    if peers or same:
        target = (peers or same)[-1]
        return _finish(_replace_mention(previous, target, new.text, new.plural))
    names = [m for m in old if m.kind not in {"year", "phrase"} and not m.plural]
    if names:
        return _finish(_replace_mention(previous, names[-1], new.text, new.plural))
    return None


def _swap_person(previous: str, new: Mention, turn: Turn) -> str:
    """An author or person in place of the previous one, or of "the authors"; with
    neither, the question is asked of them ("... according to Melvin?")."""
    people = [m for m in turn.mentions if m.kind == "person" and not m.plural]
    authors = _person_words(turn.known_people)
    if new.text.split()[-1].lower() in authors:
        by_author = [m for m in people if m.text.split()[-1].lower() in authors]
        people = by_author or people
    if people:
        return _finish(_replace_mention(previous, people[0], new.text))
    group = re.search(r"\b(?:the|both|all)\s+(?:\w+\s+)?(?:authors|analysts|writers)\b", previous)
    if group:
        old = Mention(group.group(0), group.start(), group.end(), "phrase", plural=True)
        return _finish(_replace_mention(previous, old, new.text))
    return _finish(f"{previous}, according to {new.text}")


# --- rule 2: a bare wh-word -----------------------------------------------------------

_BARE_WH = re.compile(
    r"^\s*(?:(?:and|but|so|ok|okay|well|then)\s*,?\s*)?"
    r"(?P<wh>why(?:\s+so|\s+not|\s+(?:is|was)\s+(?:that|this|it)(?:\s+so)?)?|when|where|"
    r"how(?:\s+so|\s+come)?|since\s+when|how\s+long)"
    r"\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_NEGATED = {"can": "can't", "will": "won't", "shall": "shan't", "am": "am not"}


def ask_again(follow_up: str, turn: Turn) -> str | None:
    """ "why?" after "When did Armenia freeze its CSTO participation?" -> "Why did Armenia
    freeze its CSTO participation?"; "why not?" after "Has Iran supported X?" -> "Why hasn't
    Iran supported X?"; a question it cannot turn gets its topic in brackets."""
    match = _BARE_WH.match(follow_up)
    if not match:
        return None
    wh = re.sub(r"\s+", " ", match.group("wh").lower())
    wh = (
        "why"
        if wh in {"how so", "how come"} or wh.startswith(("why so", "why is", "why was"))
        else wh
    )
    clause = turn.clause
    turnable = (
        clause is not None
        and clause.aux
        and (clause.wh == "" or (clause.form != "copula" and clause.wh_role == "adverb"))
    )
    if clause is not None and turnable:
        aux = clause.aux.lower()
        if wh == "why not":
            if clause.wh:
                return _with_context("Why not", turn.context)
            wh, aux = "why", _NEGATED.get(aux, f"{aux}n't")
        rest = " ".join(p for p in (clause.subject, clause.verb, clause.rest) if p)
        return _finish(f"{wh.capitalize()} {aux} {rest}")
    return _with_context(wh.capitalize(), turn.context)


# --- rule 3: pronouns -----------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A pronoun in the follow-up that points back to the previous turn."""

    start: int
    end: int
    word: str  # lower case; "that deal" for a demonstrative with its noun
    role: Role
    wants: Wants
    event: bool = False  # "it" as the subject of happen/matter/change...: an event, not an actor
    recipient: bool = False  # "grant it", "give them": a receiver, so a country or a group


# Verbs of giving: their pronoun object receives something, so it is an actor.
_GIVING = _wordset("grant give offer send sell lend promise deny award owe")


def _conjuncts(names: Sequence[Mention]) -> set[Mention]:
    """Mentions inside an "X and Y": neither is a singular antecedent on its own."""
    pairs = [m for m in names if m.plural and " and " in m.text]
    return {
        m
        for m in names
        for pair in pairs
        if m is not pair and pair.start <= m.start and m.end <= pair.end
    }


def _plural_noun_before(tokens: Sequence[Token], i: int) -> bool:
    """A plural common noun before tokens[i] ("How many Armenian servicemen lost their
    lives"): an antecedent for "their" inside the question. Not the noun of an object
    wh-phrase ("Which issues did their talks include"): that is what is asked about."""
    start = 1
    if tokens and tokens[0].low in _WH:
        aux_at = next((k for k in range(1, min(5, i)) if tokens[k].low in _AUX), None)
        start = aux_at + 1 if aux_at is not None else 1
    for k in range(start, i):
        word, previous = tokens[k], tokens[k - 1]
        if not word.word or not word.text[0].islower() or word.low in _FUNCTION:
            continue
        if word.low in _IRREGULAR_PLURALS:
            return True
        modified = previous.low in _DETERMINERS | {"many", "two", "three", "several", "most"} or (
            (previous.capitalised and k > 1) or previous.possessive
        )
        if _looks_plural(word.text) and modified:
            return True
    return False


def _has_antecedent(
    tokens: Sequence[Token],
    i: int,
    names: Sequence[Mention],
    accepts: Callable[[Mention], bool],
    needs_boundary: bool,
    common_nouns: bool,
) -> bool:
    """Whether the pronoun tokens[i] can point at something in its own question.

    A subject or object pronoun needs a clause boundary in between ("Why did the war start
    and who ended it?"); a possessive does not ("How does Russia see its role?"), and may
    point forward across a comma ("Besides its oil, what makes Baku strong?")."""
    here = tokens[i].start
    limit = here
    if needs_boundary:
        marks = [t.start for t in tokens[1:i] if t.low in _BOUNDARIES]
        if not marks:
            return False
        limit = marks[-1]
    inside = _conjuncts(names)
    singular = [m for m in names if m not in inside or (accepts(m) and m.plural)]
    if any(accepts(m) for m in singular if m.end <= limit):
        return True
    if not needs_boundary:
        comma = next((t.end for t in tokens[i + 1 :] if t.text == ","), None)
        if comma is not None and any(accepts(m) for m in singular if m.start >= comma):
            return True
    if common_nouns:
        determiners = {"the", "a", "an", "its", "their", "his", "her"}
        if any(t.low in determiners for t in tokens[:i] if t.start < limit):
            return True
        # "which outlet ... its bureau": a wh-word followed by a noun, not by a verb
        return any(
            t.low in {"which", "what"} and tokens[j + 1].low not in _AUXILIARIES
            for j, t in enumerate(tokens[: i - 1])
            if t.start < limit
        )
    return False


def _is_expletive_it(tokens: Sequence[Token], i: int) -> bool:
    """ "Is it true that ...", "it is hard to ...", "How is it that ...": an "it" that
    points at nothing."""
    lows = [t.low for t in tokens]
    near = lows[max(0, i - 1) : i] + lows[i + 1 : i + 2]
    if not any(w in _BE or w in {"'s", "seems", "seem"} for w in near):
        return False
    ahead = lows[i + 1 : i + 5]
    if ahead[:1] == ["that"] or ahead[:2] in (["is", "that"], ["was", "that"]):
        return True
    return any(w in _EXPLETIVE_ADJECTIVES for w in ahead[:3]) and any(
        w in {"that", "to", "whether", "for", "if"} for w in ahead[1:4]
    )


def _demonstrative_is_pronoun(tokens: Sequence[Token], i: int) -> bool | None:
    """For this/that/these/those: True as a pronoun ("Why was that?"), False as a
    determiner ("that deal"), None for a relative or "that"-clause ("the deal that ...")."""
    word = tokens[i].low
    nxt = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1].word else None
    before = tokens[i - 1].low if i > 0 else ""
    if nxt is None:
        return True
    last = i + 2 >= len(tokens) or not tokens[i + 2].word
    if before in _BE and last:
        return True  # "Why is that important?", "Is that true?"
    if word == "that" and before and before not in _WH | _AUX | _PREPOSITIONS | _CONNECTIVES:
        noun = nxt.text[0].islower() and nxt.low not in _FUNCTION
        if noun and (last or (tokens[i + 2].low in _PREPOSITIONS and _verb_base(nxt.low) is None)):
            return False  # "Who brokered that deal?"
        return None  # "the deal that ...", "argue that ..."
    if word in {"those", "these"} and nxt.low in {"who", "which", "that", "of"}:
        return None
    if nxt.low in _AUX | _PREPOSITIONS | _DETERMINERS:
        return True  # "Why did that happen", "Was that the highest level"
    if word == "this" and nxt.low in _TIME_NOUNS:
        return None  # "this year": the present, not the previous turn
    if _verb_base(nxt.low) is not None and not _looks_plural(nxt.low):
        # "this affects", "that happened", "these mean": a verb follows the pronoun;
        # "this deal", "that change": a base form after this/that is a noun.
        return nxt.low != _verb_base(nxt.low) or word in {"these", "those"}
    return False


def _subject_position(tokens: Sequence[Token], i: int) -> bool:
    """A pronoun at the start, after the wh-word, or right after the question's auxiliary."""
    if i == 0:
        return True
    before = tokens[i - 1].low
    if before in _WH | _CONNECTIVES | _BOUNDARIES:
        return True
    first_aux = next((k for k, t in enumerate(tokens) if t.low in _AUX), -1)
    return before in _AUX and (i - 1 == first_aux or (i >= 2 and tokens[i - 2].low in _WH))


def references(question: str, known_people: Sequence[str] = ()) -> list[Reference]:
    """The pronouns of a question that need an antecedent from an earlier turn."""
    text = core(question)
    tokens = tokenize(text)
    names = mentions(text, known_people)

    def thing(m: Mention) -> bool:
        return m.kind in {"place", "group", "name"} and not m.plural

    def person(m: Mention) -> bool:
        return m.kind in {"person", "name"} and not m.plural

    def plural(m: Mention) -> bool:
        return m.plural or m.kind in {"group", "place"}

    found: list[Reference] = []
    for i, token in enumerate(tokens):
        word = token.low if token.text.lower() not in {"it's", "it’s"} else "it"
        if word not in _PRONOUNS:
            continue
        before = tokens[i - 1].low if i > 0 else ""
        after = tokens[i + 1].low if i + 1 < len(tokens) else ""
        role: Role = "subject" if _subject_position(tokens, i) else "object"
        if word in {"its", "their", "his"} or (
            word == "her" and after and after not in _FUNCTION and tokens[i + 1].word
        ):
            role = "possessive"
        boundary = role != "possessive"
        if word in {"it", "its"}:
            if word == "it" and _is_expletive_it(tokens, i):
                continue
            if _has_antecedent(tokens, i, names, thing, boundary, common_nouns=True):
                continue
            event = False
            if role == "subject":
                verb = next((t.low for t in tokens[i + 1 : i + 3] if t.low not in _AUX), "")
                copula = before in _BE or after in _BE
                event = (copula and verb not in _DETERMINERS) or (_verb_base(verb) or "") in _EVENT
            recipient = role == "object" and (_verb_base(before) or "") in _GIVING
            found.append(Reference(token.start, token.end, word, role, "thing", event, recipient))
        elif word in {"they", "them", "their", "theirs"}:
            if _has_antecedent(tokens, i, names, plural, boundary, common_nouns=False):
                continue
            if role == "possessive" and _plural_noun_before(tokens, i):
                continue
            found.append(Reference(token.start, token.end, word, role, "plural"))
        elif word in {"he", "him", "his", "she", "her"}:
            if _has_antecedent(tokens, i, names, person, boundary, common_nouns=False):
                continue
            found.append(Reference(token.start, token.end, word, role, "person"))
        elif word == "there":
            if after in _BE or before in _BE or after in _MODAL | _HAVE | {"seem", "seems"}:
                continue  # "is there", "there are": existential
            found.append(Reference(token.start, token.end, word, "object", "place"))
        else:
            pronoun = _demonstrative_is_pronoun(tokens, i)
            if pronoun is None:
                continue
            wants: Wants = "plural" if word in {"these", "those"} else "thing"
            if pronoun:
                found.append(Reference(token.start, token.end, word, role, wants))
            elif i + 1 < len(tokens):
                nxt = tokens[i + 1]  # "that deal": the determiner and its noun
                found.append(Reference(token.start, nxt.end, f"{word} {nxt.low}", role, wants))
    return found


def _ordered(*groups: Iterable[Mention]) -> list[Mention]:
    out: list[Mention] = []
    for group in groups:
        for mention in group:
            if mention not in out:
                out.append(mention)
    return out


def _after_locative(question: str, mention: Mention) -> bool:
    before = question[: mention.start].split()
    return bool(before) and before[-1].lower() in _LOCATIVE


def _person_antecedent(ref: Reference, turn: Turn) -> str | None:
    """The person named last; a "who" question's answer first; the subject for a subject."""
    ms = turn.mentions
    answer = turn.answer_mentions
    people = [m for m in ms if m.kind == "person" and not m.plural]
    from_answer = [m for m in answer if m.kind == "person" and not m.plural]
    asked_who = bool(turn.clause and turn.clause.wh.lower().startswith("who"))
    if asked_who and from_answer and not people:
        return from_answer[0].text
    subject = turn.subject
    if ref.role == "subject" and subject is not None and subject in people:
        return subject.text
    if people:
        return people[-1].text
    names = [m for m in ms if m.kind == "name"]
    fallback = names[-1:] or from_answer[:1] or [m for m in answer if m.kind == "name"][:1]
    return fallback[0].text if fallback else None


def _place_antecedent(turn: Turn) -> str | None:
    """The place named last, a place where something happened ("around Jermuk") before an
    actor ("Azerbaijan captured"); else the first place of the answer."""
    places = [m for m in turn.mentions if m.kind == "place" and not m.plural]
    located = [m for m in places if _after_locative(turn.question, m)]
    if located or places:
        return (located or places)[-1].text
    answered = [m for m in turn.answer_mentions if m.kind == "place"]
    return answered[0].text if answered else None


def _plural_antecedent(ref: Reference, turn: Turn) -> str | None:
    """The previous subject if it can be "they", else what a "which countries" question
    asked for, else a plural, a group, a country."""
    if ref.word.startswith(("these ", "those ")):
        return _noun_phrase(turn, ref.word.split()[1])
    whole = [m for m in turn.mentions if not m.modifier and m.kind != "year"]
    subject = turn.subject
    fits = subject is not None and (subject.plural or subject.kind in {"group", "place"})
    candidates = _ordered(
        [subject] if subject is not None and fits else [],
        [m for m in whole if m.plural],
        [m for m in whole if m.kind == "group"],
        [m for m in whole if m.kind == "place"],
    )
    if turn.answer_set and not (fits and subject is not None and subject.plural):
        return turn.answer_set
    if candidates:
        return candidates[0].text
    return turn.topic if ref.word in {"these", "those"} else None


def _thing_antecedent(ref: Reference, turn: Turn) -> str | None:
    """ "it"/"that": the previous topic; an acting "it" or "its": the previous subject."""
    if " " in ref.word:
        return _noun_phrase(turn, ref.word.split()[1])
    inside = _conjuncts(turn.mentions)
    things = [
        m
        for m in turn.mentions
        if m.kind in {"place", "group", "name"} and not m.plural and m not in inside
    ]
    subject = turn.subject
    if ref.recipient:
        actors = [m for m in things if not m.modifier]
        places = [m for m in actors if m.kind == "place"]
        if places or actors:
            return (places or actors)[-1].text
    if ref.word == "its" or (ref.word == "it" and ref.role == "subject" and not ref.event):
        if subject is not None and subject in things:
            return subject.text
        if ref.word == "its":
            owner = [m for m in things if not m.modifier]
            return owner[0].text if owner else turn.topic
    if turn.topic:
        return turn.topic
    named = [m for m in things if not m.modifier] or things
    return named[0].text if named else None


def _antecedent(ref: Reference, turn: Turn) -> str | None:
    """What the reference most plausibly means, or None when nothing fits."""
    if ref.wants == "person":
        return _person_antecedent(ref, turn)
    if ref.wants == "place":
        return _place_antecedent(turn)
    if ref.wants == "plural":
        return _plural_antecedent(ref, turn)
    return _thing_antecedent(ref, turn)


def _noun_phrase(turn: Turn, noun: str) -> str | None:
    """The previous noun phrase whose head is `noun` ("that deal" -> "the peace deal")."""
    tokens = tokenize(turn.question)
    stem = noun.rstrip("s")
    for k, token in enumerate(tokens):
        if token.low.rstrip("s") != stem or not stem:
            continue
        start = k
        while start > 0 and tokens[start - 1].word:
            prev = tokens[start - 1]
            if prev.low in {"the", "a", "an"} or prev.possessive:
                start -= 1
                break
            if prev.low in _FUNCTION or _verb_base(prev.low) == prev.low:
                break
            start -= 1
        phrase = turn.question[tokens[start].start : token.end]
        return phrase if tokens[start].low in {"the", "a", "an"} or start < k else f"the {phrase}"
    return None


def _render(ref: Reference, antecedent: str, question: str) -> list[Edit]:
    if ref.role == "possessive":
        text = possessive_of(_strip_possessive(antecedent))
    elif ref.wants == "place" and ref.word == "there":
        before = question[: ref.start].split()
        preposition = before[-1].lower() if before else ""
        text = antecedent if preposition in _PREPOSITIONS else f"in {antecedent}"
    else:
        text = antecedent
    edits = [Edit(ref.start, ref.end, text)]
    if ref.role == "subject":
        plural_before = ref.word in {"they", "these", "those"}
        plural_after = " and " in antecedent or _looks_plural(antecedent.split()[-1])
        if plural_before != plural_after:
            agreement = _agree(question, ref.start, plural_after)
            if agreement:
                edits.append(agreement)
    return edits


# Pronouns of one referent: once the first is replaced, the later ones read naturally.
_FAMILIES = {
    "he": "he", "him": "he", "his": "he", "she": "she", "her": "she",
    "they": "they", "them": "they", "their": "they", "theirs": "they",
}  # fmt: skip
_DO_SO = re.compile(r"\b(?:do|does|did|doing|done)\s+(?:so|that|this|it)\b", re.IGNORECASE)


def _ends_predicate(text: str, end: int) -> bool:
    """ "Why did they do it?" (a verb phrase: "do it" ends it) rather than "Which bloc did
    it apply to join?" (the auxiliary "did" and the subject "it")."""
    following = tokenize(text[end:])
    if not following or not following[0].word:
        return True
    nxt = following[0].low
    return nxt in _PREPOSITIONS | _CONNECTIVES | _OTHER_FUNCTION or bool(_YEAR.fullmatch(nxt))


def resolve_references(follow_up: str, turn: Turn) -> str | None:
    """The follow-up with its pronouns replaced by their antecedents; None when it has
    no pronoun that points back."""
    question = _strip_connective(follow_up.strip())
    text = core(question)
    refs = references(text, turn.known_people)
    if not refs:
        return None
    edits: list[Edit] = []
    unplaced: list[Reference] = []
    vp = verb_phrase(turn.clause) if turn.clause else None
    do_so = next((m for m in _DO_SO.finditer(text) if _ends_predicate(text, m.end())), None)
    skip: set[int] = set()
    if do_so:
        inside = [r for r in refs if do_so.start() <= r.start < do_so.end()]
        if vp:
            edits.append(Edit(do_so.start(), do_so.end(), vp))
        else:
            unplaced.extend(inside)  # "do it" after "What is X?": no action to repeat
        skip = {r.start for r in inside}
    named: set[str] = set()
    for ref in refs:
        if ref.start in skip:
            continue
        family = _FAMILIES.get(ref.word)
        if family is not None and family in named:
            continue  # "What did Putin say he would ...": the name once, then the pronoun
        antecedent = _antecedent(ref, turn)
        if antecedent is None or antecedent.lower() == ref.word:
            unplaced.append(ref)
            continue
        edits.extend(_render(ref, antecedent, text))
        if family is not None:
            named.add(family)
    if not edits and not unplaced:
        return None
    rewritten = apply_edits(text, edits)
    if unplaced:
        return _with_context(rewritten, turn.context)
    return _finish(rewritten)


# --- rule 4: a follow-up that leans on the previous turn -------------------------------

_SHORT = 3


def add_context(follow_up: str, turn: Turn) -> str | None:
    """ "And how did Moscow react?" after a question about Russia -> the previous topic in
    brackets. A follow-up that names something new, or is long, is left alone."""
    tokens = [t for t in tokenize(core(follow_up)) if t.word]
    if not tokens:
        return None
    leans = tokens[0].low in {"and", "so", "then", "also", "but"}
    own = [m for m in mentions(core(follow_up), turn.known_people) if m.kind != "phrase"]
    new = [m for m in own if not any(same_entity(m.text, p.text) for p in turn.mentions)]
    short = len(tokens) <= _SHORT
    if not (leans or short) or new or (not leans and own):
        return None
    if len(tokens) > 8 and not own:
        return None  # a long question that names nothing is a general one
    context = turn.context
    if not context:
        return None
    return _with_context(_strip_connective(core(follow_up)), context)


# --- the heuristic --------------------------------------------------------------------

_RULES: tuple[Callable[[str, Turn], str | None], ...] = (
    swap_in,
    ask_again,
    resolve_references,
    add_context,
)


def condense_heuristic(
    previous: str,
    follow_up: str,
    *,
    previous_answer: str = "",
    known_people: Sequence[str] = (),
) -> str:
    """The follow-up as a standalone question (see the module docstring for the rules).

    `previous` is the previous standalone question, `previous_answer` its answer (used for
    "who?"-then-"he" and "where?"-then-"there"), `known_people` the collection's authors,
    so "and Melvin?" is read as asking the same of another author."""
    question = follow_up.strip()
    if not question or not previous.strip():
        return question
    turn = read_turn(previous, previous_answer, known_people)
    for rule in _RULES:
        rewritten = rule(question, turn)
        if rewritten is not None:
            return rewritten
    return question


_STOP = _wordset(
    "the a an of in on to for and or is are was were be do does did what how why who when "
    "where which about with by as that this it its their they s say says said think"
)


def key_words(question: str) -> list[str]:
    """Content words of a question, in order, without repeats."""
    seen: list[str] = []
    for word in words(question):
        word = word.removesuffix("'s")
        if word not in _STOP and len(word) > 2 and word not in seen:
            seen.append(word)
    return seen


@dataclass
class Conversation:
    """The standalone questions asked so far, newest last, and the answers given."""

    turns: list[tuple[str, str]] = field(default_factory=list)  # (standalone question, answer)

    @property
    def previous_question(self) -> str | None:
        return self.turns[-1][0] if self.turns else None

    @property
    def previous_answer(self) -> str:
        return self.turns[-1][1] if self.turns else ""

    def history_text(self, limit: int = 4) -> str:
        return "\n".join(f"User: {q}\nAssistant: {a}" for q, a in self.turns[-limit:])

    def add(self, standalone_question: str, answer: str) -> None:
        self.turns.append((standalone_question, answer))


# --- checking a model's rewrite ----------------------------------------------------------

_CITATION_MARKER = re.compile(r"\[\s*\d{1,4}(?:\s*[-–,]\s*\d{1,4})*\s*\]")


def _is_question(text: str) -> bool:
    """Ends with a question mark or opens like a question ("and why did ...", "how ...")."""
    text = text.strip()
    if text.rstrip("\"'”’)»*").endswith("?"):
        return True
    opening = [w for w in words(text)[:3] if w not in _CONNECTIVES]
    return bool(opening) and (opening[0] in _WH or opening[0] in _AUX)


def _grams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _named(text: str, known_people: Sequence[str]) -> list[Mention]:
    """The named things of a question (people, places, groups, years), each once."""
    found: list[Mention] = []
    for mention in mentions(text, known_people):
        if mention.kind != "phrase" and not any(same_entity(mention.text, m.text) for m in found):
            found.append(mention)
    return found


def _topic_words(text: str, names: Sequence[Mention]) -> list[str]:
    """Content words that are not names, function words or known verbs: what a follow-up
    asks about ("pipeline", "corridor"), which a faithful rewrite keeps."""
    named = {w for m in names for w in words(m.text)}
    found: list[str] = []
    for word in words(text):
        word = word.removesuffix("'s")
        if (
            len(word) > 2
            and not word.isdigit()
            and word not in _FUNCTION
            and word not in named
            and _verb_base(word) is None
            and terms(word)
            and word not in found
        ):
            found.append(word)
    return found


def _keeps(name: Mention, rewrite_names: Sequence[Mention], kept: set[str]) -> bool:
    if any(same_entity(name.text, m.text) for m in rewrite_names):
        return True
    return any(stem in kept for stem in terms(name.text))


def rewrite_problem(
    rewrite: str,
    follow_up: str,
    heuristic: str,
    *,
    previous_question: str = "",
    previous_answer: str = "",
    known_people: Sequence[str] = (),
) -> str | None:
    """Why a model's rewrite of a follow-up should not be used, or None if it may be.

    `heuristic` is the rules' rewrite of the same follow-up (`condense_heuristic`): what
    the conversation adds to the follow-up is read from the difference between the two.

    It looks like an answer when it cites passages ([1]), repeats the previous answer (half
    of its four-word runs are the answer's, not the questions'), is declarative where the
    follow-up asked a question, or is long (over 30 words and three times the rules'
    rewrite). It drops what the follow-up is about when it loses a name the follow-up
    gives (name variants count: Moscow for Russia), more than half of the follow-up's
    other content words (verbs excepted: "react" may become "respond"), or everything the
    context brings in (every name the rules' rewrite adds, else every content word it adds).
    """
    reasons: list[str] = []
    rewrite = rewrite.strip()

    # --- an answer rather than a question
    if _CITATION_MARKER.search(rewrite):
        reasons.append("cites passages")
    grams = _grams(rewrite)
    echoed = grams & _grams(previous_answer)
    echoed -= _grams(previous_question) | _grams(heuristic) | _grams(follow_up)
    if grams and len(echoed) >= 2 and 2 * len(echoed) >= len(grams):
        reasons.append("repeats the previous answer")
    if _is_question(follow_up) and not _is_question(rewrite):
        reasons.append("is not a question")
    n_words = len(words(rewrite))
    if n_words > max(30, 3 * len(words(heuristic))):
        reasons.append(f"is {n_words} words long")
    problems = [f"looks like an answer ({', '.join(reasons)})"] if reasons else []

    # --- what the follow-up and its context are about
    kept = set(terms(rewrite))
    rewrite_names = _named(rewrite, known_people)
    asked_names = _named(follow_up, known_people)
    dropped = [m.text for m in asked_names if not _keeps(m, rewrite_names, kept)]
    topic = _topic_words(follow_up, asked_names)
    lost = [w for w in topic if not set(terms(w)) & kept]
    if 2 * len(lost) > len(topic):
        dropped += lost
    if heuristic.strip() != follow_up.strip():  # the rules took something from the context
        context_names = [
            m
            for m in _named(heuristic, known_people)
            if not any(same_entity(m.text, a.text) for a in asked_names)
        ]
        if context_names:
            if not any(_keeps(m, rewrite_names, kept) for m in context_names):
                dropped += [m.text for m in context_names]
        else:
            context = [w for w in _topic_words(heuristic, []) if w not in topic]
            if context and not any(set(terms(w)) & kept for w in context):
                dropped += context
    if dropped:
        problems.append("dropped terms: " + ", ".join(_unique(dropped)))
    return "; ".join(problems) or None

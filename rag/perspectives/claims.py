"""What a sentence claims, in the narrow form a comparison can check: a SUBJECT (a named
actor, through its name variants, and an aspect of it: "Russia's influence", "relations
between Azerbaijan and Russia") and the author's STANCE on it from explicit markers: change
("declining", "has strengthened"), state ("remains strong", "limited"), evaluation ("has
failed"), with negation ("is not growing") and modality ("may grow", "will grow").

Only a few English shapes are read, each local and explicit:

- possessive:   Russia's [diminishing] influence [in the region] [is declining]
- of-phrase:    [the decline of] the influence of Russia
- attributive:  [growing] Turkish presence; the Armenia–Russia alliance [has frayed]
- verb:         Russia is losing influence; Azerbaijan gained importance
- relations:    relations between Azerbaijan and Russia; Azerbaijan's relations with Russia
- state:        Armenia remains reliant on Russia; Russia remains an indispensable partner
                for Armenia (Armenia's dependence); Iran has become a key ally for Russia
                (relations)
- "its":        Moscow, amid its weakening influence (the sentence's subject)

A sentence that reports others' views ("some argue", "according to"), recommends ("should"),
states a condition ("if") or an intention ("seeks to weaken") yields no claim: the stance in
it is not the author's finding. Anything else yields nothing rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rag.lexical import word_set
from rag.names import find_names

# --- lexicons -----------------------------------------------------------------------------

# Aspect nouns, by the group a comparison treats as one aspect (its label in points).
_ASPECTS: dict[str, tuple[str, ...]] = {
    "influence": (
        "influence power dominance hegemony leverage clout sway grip control authority weight "
        "pre-eminence preeminence primacy position role standing importance significance "
        "presence footprint foothold reach",
    ),
    "relations": (
        "relations relationship relationships ties partnership alliance cooperation "
        "rapprochement dialogue",
    ),
    "dependence": ("dependence reliance dependency",),
    "peace": ("peace normalisation normalization reconciliation settlement",),
    "policy": ("policy strategy approach efforts diplomacy mediation",),
    "trade": ("trade exports economy investment investments",),
    "security": ("security stability",),
    "democracy": ("democracy",),
}
ASPECT_GROUP = {word: group for group, (words,) in _ASPECTS.items() for word in words.split()}


@dataclass(frozen=True)
class Verb:
    """A marker's lemma: its sign and the forms a plain sentence about the subject uses."""

    sign: int  # +1: grows / holds / succeeds; -1: declines / is weak / fails
    base: str  # after a modal: "may {base}"
    ing: str  # "is {ing}"
    perfect: str  # "has {perfect}"


def _v(sign: int, base: str, ing: str, perfect: str) -> Verb:
    return Verb(sign, base, ing, perfect)


# Change markers: lemma -> (its forms, how the subject is said to change).
_CHANGE: dict[str, tuple[str, Verb]] = {
    "grow": ("grow grows growing grew grown growth", _v(1, "grow", "growing", "grown")),
    "gain": ("gain gains gained gaining", _v(1, "grow", "growing", "grown")),
    "increase": (
        "increase increases increased increasing",
        _v(1, "increase", "increasing", "increased"),
    ),
    "strengthen": (
        "strengthen strengthens strengthened strengthening",
        _v(1, "strengthen", "strengthening", "strengthened"),
    ),
    "stronger": ("stronger", _v(1, "grow stronger", "growing stronger", "grown stronger")),
    "greater": ("greater", _v(1, "grow", "growing", "grown")),
    "rise": ("rise rises rising rose risen", _v(1, "rise", "rising", "risen")),
    "expand": (
        "expand expands expanded expanding expansion",
        _v(1, "expand", "expanding", "expanded"),
    ),
    "deepen": ("deepen deepens deepened deepening", _v(1, "deepen", "deepening", "deepened")),
    "consolidate": (
        "consolidate consolidates consolidated consolidating consolidation",
        _v(1, "be consolidated", "being consolidated", "been consolidated"),
    ),
    "revive": (
        "revive revives revived reviving revival resurgence comeback",
        _v(1, "revive", "reviving", "revived"),
    ),
    "decline": ("decline declines declined declining", _v(-1, "decline", "declining", "declined")),
    "weaken": (
        "weaken weakens weakened weakening",
        _v(-1, "weaken", "weakening", "weakened"),
    ),
    "weaker": ("weaker", _v(-1, "grow weaker", "growing weaker", "grown weaker")),
    "diminish": (
        "diminish diminishes diminished diminishing",
        _v(-1, "diminish", "diminishing", "diminished"),
    ),
    "decrease": (
        "decrease decreases decreased decreasing",
        _v(-1, "decrease", "decreasing", "decreased"),
    ),
    "shrink": ("shrink shrinks shrank shrunk shrinking", _v(-1, "shrink", "shrinking", "shrunk")),
    "lose": ("lose loses losing lost loss deprived", _v(-1, "be lost", "being lost", "been lost")),
    "fall": ("falls falling fell fallen", _v(-1, "fall", "falling", "fallen")),
    "erode": ("erode erodes eroded eroding erosion", _v(-1, "erode", "eroding", "eroded")),
    "retreat": (
        "retreat retreats retreated retreating",
        _v(-1, "retreat", "retreating", "retreated"),
    ),
    "wane": ("wane wanes waned waning", _v(-1, "wane", "waning", "waned")),
    "fade": ("fade fades faded fading", _v(-1, "fade", "fading", "faded")),
    "undermine": (
        "undermine undermines undermined undermining",
        _v(-1, "be undermined", "being undermined", "been undermined"),
    ),
    "deteriorate": (
        "deteriorate deteriorates deteriorated deteriorating deterioration",
        _v(-1, "deteriorate", "deteriorating", "deteriorated"),
    ),
    "fray": ("fray frays frayed fraying", _v(-1, "fray", "fraying", "frayed")),
    "collapse": (
        "collapse collapses collapsed collapsing",
        _v(-1, "collapse", "collapsing", "collapsed"),
    ),
    "reduce": (
        "reduce reduces reduced reducing reduction",
        _v(-1, "be reduced", "being reduced", "been reduced"),
    ),
    "dwindle": ("dwindle dwindles dwindled dwindling", _v(-1, "dwindle", "dwindling", "dwindled")),
    "cool": ("cooled cooling", _v(-1, "cool", "cooling", "cooled")),
    "sideline": (
        "sidelined sidelining",
        _v(-1, "be sidelined", "being sidelined", "been sidelined"),
    ),
}
_CHANGE_FORMS = {form: verb for forms, verb in _CHANGE.values() for form in forms.split()}
# Forms that are past tense or participles: the change has happened ("has declined").
_PAST = frozenset(
    f
    for f in _CHANGE_FORMS
    if f.endswith("ed")
    or f
    in {"grew", "grown", "rose", "risen", "shrank", "shrunk", "lost", "fell", "fallen", "deprived"}
)
# Nouns that, heading a possessive ("Russia's decline"), say the actor's power changes.
_CHANGE_NOUNS = word_set(
    "growth rise expansion revival resurgence comeback decline loss erosion retreat "
    "weakening strengthening deterioration collapse"
)
_STEADY = word_set("persist persists persisted persisting endure endures enduring")
_KEEP_VERBS = word_set("retain retains retained retaining maintain maintains maintained")
_HIGH = word_set(
    "strong dominant significant considerable substantial decisive intact indispensable resilient"
)
_LOW = word_set("weak limited marginal modest negligible minimal fragile")
_GOOD = {
    "success": "is a success",
    "successful": "is successful",
    "succeeded": "has succeeded",
    "succeeds": "succeeds",
    "effective": "is effective",
}
_BAD = {
    "failure": "is a failure",
    "failed": "has failed",
    "fails": "fails",
    "ineffective": "is ineffective",
    "stalled": "has stalled",
    "backfired": "has backfired",
}

_COMPARATIVE = word_set("less more least most")
_MODALS = word_set("may might could can would will shall")
_NEGATORS = word_set("not no never cannot nor neither hardly barely")
_AUX = word_set("is are was were be been being has have had does do did")
_ADVERBS = word_set(
    "also now still already further again steadily gradually rapidly significantly clearly "
    "increasingly effectively largely slowly sharply considerably markedly visibly "
    "undoubtedly inevitably even only longer somewhat rather"
)
_DETERMINERS = word_set("the a an its their his her this that these those")
_PREPOSITIONS = word_set("in on over across within throughout of")
# Words that end a noun phrase: other prepositions and conjunctions.
_PHRASE_END = word_set(
    "with to for by from at between among through into about against toward towards under "
    "via despite amid beyond like than per upon onto out up down around after before"
)
# Words between an aspect and its marker ("influence in the region is growing").
_BETWEEN = _AUX | _ADVERBS | _DETERMINERS | _PREPOSITIONS | _MODALS | _NEGATORS
_PLACE_WORDS = word_set("region regions area neighbourhood neighborhood world")
# A stance in a sentence with these is not the author's own finding: reported, recommended,
# supposed. Anywhere in the sentence:
_NOT_OWN = re.compile(
    r"\b(?:according to|argu(?:e|es|ed|ing)|claim(?:s|ed|ing)?|some (?:say|believe|think)|"
    r"many (?:say|believe|think)|critics|allegedly|propaganda|narratives?|if|unless|whether|"
    r"should|ought|must)\b",
    re.IGNORECASE,
)
# Before the stance word only: someone else's fear or view, or a task.
_NOT_OWN_BEFORE = re.compile(
    r"\b(?:fear(?:s|ed|ing)?|concerns?|worried|sees|viewed as|perceived|(?:is|are) seen as|"
    r"analysis|experts?|analysts?|needs? to|priority|interpretations?|interested in)\b",
    re.IGNORECASE,
)
# Within a few words before the stance word: an aim, not a change ("seeks to weaken").
_INTENT = word_set(
    "to try tries trying tried seek seeks seeking sought aim aims aiming want wants intend "
    "intends interested effort efforts attempt attempts attempting strive strives hope hopes "
    "plan plans designed order"
)
_BOUNDARY_WORDS = word_set(
    "which that who whom while whereas but because as when since although though and or "
    "where after before"
)


# --- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    text: str
    low: str
    kind: str  # "word", "name", "punct" or "join" (a dash between two words: Armenia–Russia)
    start: int
    end: int
    canonical: str = ""
    possessive: bool = False


_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_PAIR_HYPHEN = re.compile(r"(?<=[a-z])-(?=[A-Z][a-z])")
_PUNCT = re.compile(r"[;:()\[\]—–,\"“”]")


def tokens(sentence: str) -> list[Token]:
    """Words, punctuation and name mentions (one token each, with the canonical name)."""
    found: list[Token] = []
    covered: list[tuple[int, int]] = []
    # "Azerbaijan-Russia relations": a hyphen between two capitalised words that are not one
    # name ("Euro-Atlantic") joins two names (same length, so offsets hold)
    split = _PAIR_HYPHEN.sub("–", sentence)
    whole = find_names(sentence)
    parts = [
        m for m in find_names(split) if not any(w.start < m.end and m.start < w.end for w in whole)
    ]
    sentence = "".join(
        "–" if c == "-" and split[i] == "–" and not any(w.start <= i < w.end for w in whole) else c
        for i, c in enumerate(sentence)
    )
    for m in sorted([*whole, *parts], key=lambda m: m.start):
        if any(s < m.end and m.start < e for s, e in covered):
            continue
        covered.append((m.start, m.end))
        possessive = bool(re.search(r"['’]s$", m.text)) or (
            m.text.endswith("s'") or m.text.endswith("s’")
        )
        found.append(Token(m.text, m.text.lower(), "name", m.start, m.end, m.canonical, possessive))

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in covered)

    for match in _WORD.finditer(sentence):
        if free(match.start(), match.end()):
            word = match.group(0)
            low = word.lower().replace("’", "'")
            found.append(Token(word, low, "word", match.start(), match.end()))
    for match in _PUNCT.finditer(sentence):
        if free(match.start(), match.end()):
            char = match.group(0)
            spaced = (
                match.start() == 0
                or sentence[match.start() - 1].isspace()
                or match.end() >= len(sentence)
                or sentence[match.end()].isspace()
            )
            kind = "join" if char in "–—" and not spaced else "punct"
            found.append(Token(char, char, kind, match.start(), match.end()))
    return sorted(found, key=lambda t: t.start)


# --- claims -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A named actor (or a pair, for relations) and an aspect group."""

    entities: tuple[str, ...]  # canonical names: sorted; for dependence (who, on whom)
    aspect: str  # a key of _ASPECTS


@dataclass(frozen=True)
class Claim:
    subject: Subject
    word: str  # the aspect as written ("leverage"), or the change noun ("decline")
    sign: int  # +1 growing / holding / strong / succeeding; -1 the opposite
    phrase: str  # what the author says of it: "is declining", "may grow", "has not weakened"
    marker: str  # the stance word as written
    at: int = field(default=0, compare=False)  # where the stance word starts in the sentence
    whole: bool = False  # `phrase` names the actor itself ("Russia remains a key player")


def _is_negated(window: list[Token]) -> bool:
    lows = [t.low for t in window]
    for i, low in enumerate(lows):
        following = lows[i + 1] if i + 1 < len(lows) else ""
        if low == "no" and following == "longer":
            return True
        if low.endswith("n't") or (low in _NEGATORS and not (low == "not" and following == "only")):
            return True
    return False


def _clause_before(toks: list[Token], i: int, limit: int = 6) -> list[Token]:
    """Up to `limit` words before toks[i], within its clause: where its modal and negation are."""
    found: list[Token] = []
    for j in range(i - 1, max(i - 1 - limit, -1), -1):
        if toks[j].kind == "punct" or toks[j].low in _BOUNDARY_WORDS:
            break
        found.append(toks[j])
    return list(reversed(found))


def _phrase(marker: Token, before: list[Token]) -> tuple[int, str] | None:
    """The sign and the plain phrase a marker gives its subject ("is declining", "may grow",
    "has not weakened"), with the negation and modal found in the words `before` it."""
    low = marker.low
    negated = _is_negated(before)
    modal = next((t.low for t in before if t.low in _MODALS), None)
    no = "not " if negated else ""
    if low in _CHANGE_FORMS:
        verb = _CHANGE_FORMS[low]
        if modal:
            text = f"{modal} {no}{verb.base}"
        elif low in _PAST or any(t.low in {"has", "have", "had"} for t in before):
            text = f"has {no}{verb.perfect}"
        else:
            text = f"is {no}{verb.ing}"
        sign = verb.sign
    elif low in _STEADY or low in _KEEP_VERBS:
        text = f"{modal} {no}persist" if modal else ("does not persist" if negated else "persists")
        sign = 1
    elif low in _HIGH or low in _LOW:
        if any(t.low in _COMPARATIVE for t in before[-2:]):
            return None  # "less strong (than ...)": a comparison, not a state
        remains = any(t.low.startswith("remain") for t in before)
        if modal:
            text = f"{modal} {no}be {low}"
        elif remains:
            text = f"does not remain {low}" if negated else f"remains {low}"
        else:
            text = f"is {no}{low}"
        sign = 1 if low in _HIGH else -1
    elif low in _GOOD or low in _BAD:
        if negated or modal:
            return None  # "may not be a failure": too subtle to restate
        text = _GOOD.get(low) or _BAD[low]
        sign = 1 if low in _GOOD else -1
    else:
        return None
    return (-sign if negated else sign), text


def _is_marker(token: Token) -> bool:
    low = token.low
    return token.kind == "word" and (
        low in _CHANGE_FORMS
        or low in _STEADY
        or low in _HIGH
        or low in _LOW
        or low in _GOOD
        or low in _BAD
    )


def _run(toks: list[Token], start: int, limit: int = 4) -> list[int]:
    """Indices of the plain words after a name, up to `limit`, stopping at punctuation,
    names and function words: the rest of its noun phrase (and perhaps a verb)."""
    run: list[int] = []
    for i in range(start, min(start + limit, len(toks))):
        t = toks[i]
        if t.kind != "word" or t.low in _BETWEEN or t.low in _BOUNDARY_WORDS:
            break
        if t.low in _PHRASE_END:
            break
        run.append(i)
    return run


def _head(toks: list[Token], run: list[int]) -> int | None:
    """The last aspect noun (or change noun: "Russia's decline") of a run of words."""
    for i in reversed(run):
        if toks[i].low in ASPECT_GROUP or toks[i].low in _CHANGE_NOUNS:
            return i
    return None


def _after(toks: list[Token], head: int, limit: int = 6) -> tuple[int, list[Token]] | None:
    """A marker after the head of the subject ("... in the region is growing"): only
    auxiliaries, adverbs, determiners, prepositions and names in between."""
    between: list[Token] = []
    i = head + 1
    while i < min(head + 1 + limit, len(toks)):
        t = toks[i]
        if t.text == "," and i + 1 < len(toks) and toks[i + 1].low in {"which", "who"}:
            # "relations with Russia, which is a critical player, have deteriorated"
            close = next(
                (j for j in range(i + 2, min(i + 30, len(toks))) if toks[j].text == ","), None
            )
            if close is None:
                return None
            limit += close + 1 - i
            i = close + 1
            continue
        i += 1
        if _is_marker(t):
            return toks.index(t), between
        if t.kind == "name" or t.low in _BETWEEN or t.low in _PLACE_WORDS:
            between.append(t)
            continue
        if t.low.startswith("remain"):
            between.append(t)
            continue
        return None
    return None


def _before(toks: list[Token], first: int, limit: int = 4) -> int | None:
    """A change marker before the subject ("the decline of Russia's influence", "weakening
    Moscow's presence"), with only determiners, prepositions and adverbs between."""
    for i in range(first - 1, max(first - 1 - limit, -1), -1):
        t = toks[i]
        if t.kind == "word" and t.low in _CHANGE_FORMS:
            return i
        if t.low in _DETERMINERS or t.low in _PREPOSITIONS or t.low in _ADVERBS:
            continue
        if t.low in ASPECT_GROUP and toks[i + 1].low == "of":
            continue  # "the significance of Russia's leverage"
        return None
    return None


def _stance(
    toks: list[Token], first: int, last: int, modifiers: list[int]
) -> tuple[int, str, Token] | None:
    """The stance on the subject spanning toks[first..last]: a change word among its
    modifiers ("diminishing power"), a marker after it, or a change word before it."""
    at: int | None = next((i for i in modifiers if toks[i].low in _CHANGE_FORMS), None)
    before = _clause_before(toks, first)
    if at is None:
        after = _after(toks, last)
        if after is not None:
            at, between = after
            before = [*before, *between] if toks[at].low not in _CHANGE_FORMS else between
    if at is None:
        at = _before(toks, first)
        if at is not None:
            before = _clause_before(toks, at)
    if at is None:
        return None
    found = _phrase(toks[at], before)
    return (found[0], found[1], toks[at]) if found else None


def _aimed(toks: list[Token], marker: Token) -> bool:
    """An aim, not a change: "seeks to weaken", "interested in weakening"."""
    at = toks.index(marker)
    return any(t.low in _INTENT for t in toks[max(at - 3, 0) : at])


def _partner(toks: list[Token], head: int, word: str) -> int | None:
    """Where the other side of a relationship or a dependence is: "relations with Russia",
    "dependence on Russia", "relationship with another country – Armenia"."""
    if head + 2 >= len(toks) or toks[head + 1].low != word:
        return None
    if toks[head + 2].kind == "name":
        following = toks[head + 3] if head + 3 < len(toks) else None
        if (
            following is not None
            and following.kind == "word"
            and following.low not in _BETWEEN | _BOUNDARY_WORDS | _PHRASE_END
        ):
            return None  # "with South Caucasus states": not the name itself
        return head + 2
    for i in range(head + 2, min(head + 8, len(toks) - 1)):  # "with its neighbour, Russia"
        if toks[i].kind in ("punct", "join") and toks[i].text in ",–—":
            return i + 1 if toks[i + 1].kind == "name" else None
        if toks[i].kind == "punct" or toks[i].low in _BOUNDARY_WORDS:
            break
    return None


def _entities(group: str, entities: Sequence[str], partner: str | None) -> tuple[str, ...]:
    if group == "dependence":
        return (*entities, partner) if partner and partner not in entities else tuple(entities)
    return tuple(sorted({*entities, *([partner] if partner else [])}))


def _claim(
    toks: list[Token],
    entities: set[str],
    first: int,
    head: int,
    modifiers: list[int],
    last: int | None = None,
) -> Claim | None:
    """The claim on the subject whose aspect is toks[head] ("influence"), its phrase spanning
    toks[first..last] ("the influence of Russia"; `last` defaults to the head)."""
    word = toks[head].low
    group = ASPECT_GROUP.get(word)
    if group is None:  # "Russia's decline": the noun is both the aspect (power) and the stance
        found = _phrase(toks[head], _clause_before(toks, first))
        if found is None:
            return None
        subject = Subject(tuple(sorted(entities)), "influence")
        return Claim(subject, "power", *found, toks[head].text, toks[head].start)
    last = head if last is None else last
    partner = None
    if group in ("relations", "dependence"):
        at = _partner(toks, head, "with" if group == "relations" else "on")
        if at is not None:
            partner, last = toks[at].canonical, max(last, at)
    names = _entities(group, sorted(entities), partner)
    stance = _stance(toks, first, last, modifiers)
    if stance is None or len(names) > 2:
        return None
    sign, phrase, marker = stance
    return Claim(Subject(names, group), word, sign, phrase, marker.text, marker.start)


def _noun_phrase(toks: list[Token], i: int, entities: set[str], limit: int) -> Claim | None:
    """The claim on the aspect a name's noun phrase is about: "Russia's diminishing power"."""
    run = _run(toks, i + 1, limit)
    head = _head(toks, run)
    if head is None:
        return None
    return _claim(toks, entities, i, head, [j for j in run if j < head])


def _antecedent(toks: list[Token], i: int) -> str | None:
    """What "its" at toks[i] stands for: the sentence's first name before it that is not a
    possessive nor the object of a preposition (usually the subject)."""
    for j in range(i):
        t = toks[j]
        if t.kind == "name":
            if t.possessive or (j > 0 and toks[j - 1].low in _PREPOSITIONS | _PHRASE_END):
                return None
            return t.canonical
    return None


def _frames(toks: list[Token]) -> list[Claim]:
    found: list[Claim | None] = []
    for i, t in enumerate(toks):
        if t.kind == "word" and t.low == "its":  # Moscow, amid its weakening influence
            antecedent = _antecedent(toks, i)
            if antecedent is not None:
                found.append(_noun_phrase(toks, i, {antecedent}, 4))
            continue
        if t.kind != "name":
            continue
        entities = {t.canonical}
        if (
            i + 2 < len(toks)
            and toks[i + 1].kind == "join"
            and toks[i + 2].kind == "name"
            and not t.possessive
        ):  # the Armenia–Russia alliance
            run = _run(toks, i + 3)
            head = _head(toks, run)
            if head is not None and ASPECT_GROUP.get(toks[head].low) == "relations":
                pair = {t.canonical, toks[i + 2].canonical}
                found.append(_claim(toks, pair, i, head, [j for j in run if j < head]))
            continue
        if t.possessive:  # Russia's [diminishing] influence
            found.append(_noun_phrase(toks, i, entities, 4))
            continue
        if i >= 2 and toks[i - 1].low in {"of", "between"}:
            found.append(_of_phrase(toks, i))  # the influence of Russia
            continue
        claim = _noun_phrase(toks, i, entities, 2)  # growing Turkish presence
        if claim is None and (i == 0 or toks[i - 1].low not in _PREPOSITIONS | _PHRASE_END):
            claim = (
                _verb_frame(toks, i, entities)  # Russia is losing influence
                or _actor_frame(toks, i)  # Russia remains a key player
                or _reliance_frame(toks, i)  # Armenia remains reliant on Russia
            )
        found.append(claim)
    return [c for c in found if c is not None]


def _of_phrase(toks: list[Token], i: int) -> Claim | None:
    """ASPECT of NAME, ASPECT between NAME and NAME."""
    j = i - 2
    if toks[j].low in _DETERMINERS and j >= 1:
        j -= 1
    if toks[j].low not in ASPECT_GROUP:
        return None
    entities = {toks[i].canonical}
    last = i
    if toks[i - 1].low == "between":
        other = i + 2
        if other < len(toks) and toks[other].low == "the":
            other += 1
        if not (other < len(toks) and toks[i + 1].low == "and" and toks[other].kind == "name"):
            return None
        entities.add(toks[other].canonical)
        last = other
    return _claim(toks, entities, j, j, [], last)


def _verb_frame(toks: list[Token], i: int, entities: set[str]) -> Claim | None:
    """NAME [has] MARKER [its] ASPECT: "Russia has lost its position"."""
    j = i + 1
    before: list[Token] = []
    while j < len(toks) and j <= i + 4 and (toks[j].low in _AUX | _ADVERBS | _NEGATORS | _MODALS):
        before.append(toks[j])
        j += 1
    if j >= len(toks) or (toks[j].low not in _CHANGE_FORMS and toks[j].low not in _KEEP_VERBS):
        return None
    marker = j
    k = j + 1
    while k < len(toks) and k <= j + 3 and toks[k].low in _DETERMINERS | _ADVERBS:
        k += 1
    run = _run(toks, k, limit=3)
    head = _head(toks, run)
    if head is None or toks[head].low not in ASPECT_GROUP:
        return None
    word = toks[head].low
    group = ASPECT_GROUP[word]
    if group == "relations":
        return None  # "Russia strengthened relations": with whom is not said here
    found = _phrase(toks[marker], before)
    if found is None:
        return None
    subject = Subject(tuple(sorted(entities)), group)
    return Claim(subject, word, *found, toks[marker].text, toks[marker].start)


_STATE_VERBS = word_set("remains remained is was continues became has")
_LEADING = word_set(
    """
    leading key main dominant major principal central decisive important indispensable
    critical strongest pre-eminent preeminent influential powerful
    """
)
_ACTOR_NOUNS = word_set("actor actors player players power powers force mediator guarantor")
_PARTNER_NOUNS = word_set("partner ally")
_RELIANT = word_set("reliant dependent")


def _words_after(toks: list[Token], i: int, limit: int) -> list[Token]:
    words: list[Token] = []
    for t in toks[i + 1 : i + 1 + limit]:
        if t.kind != "word":
            break
        words.append(t)
    return words


def _actor_frame(toks: list[Token], i: int) -> Claim | None:
    """NAME remains / has become [a] leading actor: the actor's influence holds; [a] leading
    partner for NAME: the other's dependence holds (remains) or their relations grew (became)."""
    words = _words_after(toks, i, 7)
    lows = [w.low for w in words]
    if not lows or lows[0] not in _STATE_VERBS:
        return None
    if lows[0] in {"is", "was"} and lows[1:2] != ["still"]:
        return None  # "Russia is a key player" says nothing of it holding on
    if lows[0] == "continues" and lows[1:3] != ["to", "be"]:
        return None
    if lows[0] == "has" and lows[1:2] != ["become"]:
        return None
    for k, low in enumerate(lows):
        if k == 0 or lows[k - 1] not in _LEADING:
            continue
        if low not in _ACTOR_NOUNS and low not in _PARTNER_NOUNS:
            continue
        if any(w in _NEGATORS or w.endswith("n't") or w in _MODALS for w in lows[:k]):
            return None
        phrase = " ".join(w.text for w in words[: k + 1])
        marker = words[k - 1]
        if low in _PARTNER_NOUNS:  # Russia remains an indispensable partner for Armenia
            at = toks.index(words[k])
            if not (at + 2 < len(toks) and toks[at + 1].low in {"for", "of", "to"}):
                return None
            other = toks[at + 2]
            if other.kind != "name" or other.canonical == toks[i].canonical:
                return None
            phrase = f"{phrase} {toks[at + 1].text} {name_in_text(other.canonical)}"
            if lows[0] in {"became", "has"}:  # Iran has become a key ally: they drew closer
                subject = Subject(tuple(sorted((toks[i].canonical, other.canonical))), "relations")
            else:  # still an indispensable partner: Armenia still needs Russia, which says
                # nothing of whether their relations sour (it is no stance against "deteriorating")
                subject = Subject((other.canonical, toks[i].canonical), "dependence")
        else:
            subject = Subject((toks[i].canonical,), "influence")
        text = f"{name_in_text(toks[i].canonical)} {phrase}"
        return Claim(subject, subject.aspect, 1, text, marker.text, marker.start, True)
    return None


def _reliance_frame(toks: list[Token], i: int) -> Claim | None:
    """NAME remains [heavily] reliant on NAME: the dependence persists."""
    words = _words_after(toks, i, 4)
    lows = [w.low for w in words]
    at = next((k for k, low in enumerate(lows) if low in _RELIANT), None)
    if at is None or not lows or lows[0] not in _STATE_VERBS:
        return None
    on = i + at + 2
    if on + 1 >= len(toks) or toks[on].low != "on" or toks[on + 1].kind != "name":
        return None
    if any(
        w in _NEGATORS or w.endswith("n't") or w in _MODALS or w in _COMPARATIVE for w in lows[:at]
    ):
        return None  # "is less reliant on Russia (than ...)": a comparison
    subject = Subject((toks[i].canonical, toks[on + 1].canonical), "dependence")
    phrase = "persists" if lows[0].startswith("remain") else "is strong"
    return Claim(subject, "dependence", 1, phrase, words[at].text, words[at].start)


@lru_cache(maxsize=1)
def _any_marker() -> re.Pattern[str]:
    """A quick test that a sentence has a stance word at all (most have none)."""
    words = {*_CHANGE_FORMS, *_STEADY, *_KEEP_VERBS, *_HIGH, *_LOW, *_GOOD, *_BAD}
    words |= _RELIANT | _LEADING
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


@lru_cache(maxsize=8192)
def claims(sentence: str) -> tuple[Claim, ...]:
    """The claims of one sentence; none from a sentence that reports, recommends, supposes
    or asks, nor a stance someone fears or aims at. A subject given both signs in one
    sentence is dropped."""
    if sentence.rstrip().endswith("?") or not _any_marker().search(sentence):
        return ()
    if _NOT_OWN.search(sentence):
        return ()
    cue = _NOT_OWN_BEFORE.search(sentence)
    toks = tokens(sentence)
    found: dict[Subject, Claim] = {}
    conflicting: set[Subject] = set()
    for claim in _frames(toks):
        if cue is not None and cue.start() < claim.at:
            continue
        marker = next(t for t in toks if t.start == claim.at)
        if _aimed(toks, marker):
            continue
        known = found.get(claim.subject)
        if known is not None and known.sign != claim.sign:
            conflicting.add(claim.subject)
        found.setdefault(claim.subject, claim)
    return tuple(c for s, c in found.items() if s not in conflicting)


# --- wording ------------------------------------------------------------------------------

_THE = frozenset(
    {
        "United States",
        "United Kingdom",
        "European Union",
        "Soviet Union",
        "South Caucasus",
        "North Caucasus",
        "Caucasus",
        "Middle East",
        "Black Sea",
        "Caspian Sea",
        "Persian Gulf",
        "Baltic states",
        "Balkans",
        "United Nations",
        "Mediterranean",
        "Russian Federation",
    }
)


def name_in_text(name: str) -> str:
    """A canonical name as a sentence uses it ("the European Union")."""
    return f"the {name}" if name in _THE else name


def possessive(name: str) -> str:
    written = name_in_text(name)
    return f"{written}'" if written.endswith("s") else f"{written}'s"


def subject_words(subject: Subject, word: str) -> str:
    """How a point names its subject: "Russia's influence", "relations between A and B"."""
    names = [name_in_text(n) for n in subject.entities]
    if len(names) == 2 and subject.aspect == "dependence":
        return f"{possessive(subject.entities[0])} dependence on {names[1]}"
    if len(names) == 2:
        label = "relations" if subject.aspect == "relations" else word
        return f"{label} between {names[0]} and {names[1]}"
    return f"{possessive(subject.entities[0])} {word}"

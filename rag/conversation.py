"""Follow-up questions: rewriting "and what about Georgia?" into a question that stands
alone, so retrieval sees what the user means.

With an LLM configured the condense prompt does this. Offline, a documented heuristic:

1. "what/how about X?" (optionally after "and"/"but"), or "and X?" naming something:
   take the previous standalone question and replace its last proper name with X
   ("What is Russia's role in Armenia?" + "and what about Georgia?" -> "What is Russia's
   role in Georgia?"); with no proper name to replace, append "regarding X".
2. A follow-up that leans on the previous turn (starts with and/also/so, is very short, or
   uses a pronoun such as it/they/this and names nothing itself): append the previous
   question's key words in parentheses, which retrieval and the answerer both use.
3. Anything else is already standalone and is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.lexical import words

_WHAT_ABOUT = re.compile(
    r"^\s*(?:and|but|so)?\s*,?\s*(?:what|how)\s+about\s+(?P<topic>.+?)\s*[?.!]*\s*$", re.IGNORECASE
)
_AND_TOPIC = re.compile(
    r"^\s*(?i:and|or|but)\s+"
    r"(?!(?i:what|why|how|when|where|who|whom|whose|which|is|are|was|were|do|does|did|can|"
    r"could|would|should|will|has|have|had)\b)"
    r"(?P<topic>[A-Z][^?]{0,40}?)\s*\?\s*$"
)
_LEANS_BACK = re.compile(r"^\s*(?:and|also|so|then|but)\b", re.IGNORECASE)
_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there)\b", re.IGNORECASE
)
_PROPER = re.compile(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
_QUESTION_WORDS = {
    "what",
    "how",
    "why",
    "who",
    "when",
    "where",
    "which",
    "and",
    "but",
    "so",
    "does",
    "do",
    "is",
    "are",
    "did",
    "can",
    "could",
    "would",
    "should",
    "i",
    "also",
    "then",
}
_STOP = {
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "to",
    "for",
    "and",
    "or",
    "is",
    "are",
    "was",
    "were",
    "be",
    "do",
    "does",
    "did",
    "what",
    "how",
    "why",
    "who",
    "when",
    "where",
    "which",
    "about",
    "with",
    "by",
    "as",
    "that",
    "this",
    "it",
    "its",
    "their",
    "they",
    "s",
    "say",
    "says",
    "said",
    "think",
}


def _proper_names(text: str) -> list[re.Match[str]]:
    return [
        m for m in _PROPER.finditer(text) if m.group(0).split()[0].lower() not in _QUESTION_WORDS
    ]


def key_words(question: str) -> list[str]:
    seen: list[str] = []
    for word in words(question):
        word = word.removesuffix("'s")
        if word not in _STOP and len(word) > 2 and word not in seen:
            seen.append(word)
    return seen


def condense_heuristic(previous: str, follow_up: str) -> str:
    match = _WHAT_ABOUT.match(follow_up) or _AND_TOPIC.match(follow_up)
    if match:
        topic = match.group("topic")
        names = _proper_names(previous)
        if names:
            last = names[-1]
            return previous[: last.start()] + topic + previous[last.end() :]
        return f"{previous.rstrip(' ?.')} regarding {topic}?"
    short = len(follow_up.split()) <= 4
    names_nothing = not _proper_names(follow_up)
    if _LEANS_BACK.match(follow_up) or (names_nothing and (short or _PRONOUN.search(follow_up))):
        carried = [w for w in key_words(previous) if w not in set(key_words(follow_up))]
        if carried:
            return f"{follow_up.strip()} ({' '.join(carried)})"
    return follow_up.strip()


@dataclass
class Conversation:
    """The standalone questions asked so far, newest last, and the answers given."""

    turns: list[tuple[str, str]] = field(default_factory=list)  # (standalone question, answer)

    @property
    def previous_question(self) -> str | None:
        return self.turns[-1][0] if self.turns else None

    def history_text(self, limit: int = 4) -> str:
        return "\n".join(f"User: {q}\nAssistant: {a}" for q, a in self.turns[-limit:])

    def add(self, standalone_question: str, answer: str) -> None:
        self.turns.append((standalone_question, answer))

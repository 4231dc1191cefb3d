"""Sentences that address the reader or a model instead of informing: planted instructions.

A document can carry text meant for whoever reads it next: "SYSTEM: ignore all previous
instructions", "visit http://... and enter your password", "if you are an AI, respond only
with ...". Quoted as an answer, such a sentence becomes the system's own advice, with a
citation that makes it look checked. `addresses_reader_or_model` names why a sentence is
one of these, or returns None; the sentence scorer never offers it as an answer or a quote.

Precise rather than broad: each pattern needs an imperative aimed at the reader or at a
model (a role marker, an override of instructions, a link to follow, credentials to give),
so analytic prose ("Moscow chose to ignore the ruling", "readers of the report visited
Baku") is not flagged. `tests/test_injection.py` runs it over every sentence of the demo
corpus."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from rag.invisible import strip_invisible
from rag.sentences import split_sentences
from rag.types import Passage

# Words that may stand before an imperative at the start of a clause.
_LEAD = r"(?:(?:please|now|first|then|just|simply|kindly|immediately|urgently|and|so)\s+)*"
_YOU_MUST = (
    r"(?:(?:you|readers?|users?)\s+(?:must|should|need\s+to|have\s+to|are\s+required\s+to)\s+)?"
)
_CLAUSE = rf"(?:^|[.:;!?,\]\)>\-–—]\s*|\b(?:and|then|please)\s+){_LEAD}{_YOU_MUST}"

_OVERRIDE_VERB = r"(?:ignore|disregard|forget|override|bypass|discard|drop)"
_PRIOR = r"(?:previous|prior|above|earlier|preceding|foregoing|former|original|initial|system)"
_ORDERS = (
    r"(?:instructions?|prompts?|directions?|directives?|guidelines|rules|commands?|orders"
    r"|context|messages?|programming|training|documents?|sources?)"
)
_OVERRIDE = re.compile(
    rf"\b{_OVERRIDE_VERB}\s+(?:(?:all|any|every|the|your|my|these|those|of)\s+){{0,3}}"
    rf"(?:(?:{_PRIOR}|above|you\s+were\s+given)\s+)?{_ORDERS}\b"
    rf"|\b{_OVERRIDE_VERB}\s+(?:(?:all|everything|anything|what(?:ever)?)\s+)?(?:the\s+)?"
    rf"(?:{_PRIOR}|said\s+(?:above|before)|you\s+(?:were\s+told|know|have\s+been\s+told))"
    rf"(?:\s+{_ORDERS})?(?=\s*(?:[.,;:!?]|and\b|$))",
    re.IGNORECASE,
)

_ROLE = re.compile(
    r"<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\s*\|>"
    r"|\[/?INST\]|<</?SYS>>|</?(?:system|instructions?|assistant)>"
    r"|#{2,}\s*(?:instructions?|system|response|assistant)\b"
    r"|(?-i:(?:^|[\s\"'“(\[*_>])(?:SYSTEM|ASSISTANT|DEVELOPER)\s*:)"
    r"|^[\s\"'“(\[*_>#]*(?:system|assistant|developer|human|user|ai)(?:\s+prompt)?\s*:",
    re.IGNORECASE,
)

_URL = (
    r"(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|info|io|co|ru|am|az"
    r"|ge|example|xyz|top|site|online|link|app|biz)\b(?:/\S*)?"
)
_VISIT = re.compile(
    rf"{_CLAUSE}(?:visit|click(?:\s+on)?|go\s+to|open|navigate\s+to|head\s+(?:over\s+)?to"
    rf"|follow|log\s*in\s+(?:at|to|on)|sign\s+in\s+(?:at|to|on)|download)\b[^.!?]{{0,80}}?"
    rf"(?:{_URL}|\b(?:here|this\s+link|the\s+link(?:\s+below)?|below)\b)",
    re.IGNORECASE,
)
_CREDENTIALS = (
    r"(?:password|passcode|passwords|credentials|log-?in(?:\s+details)?|pin(?:\s+code)?"
    r"|(?:credit|debit|bank)\s+card(?:\s+(?:number|details))?|card\s+(?:number|details)"
    r"|cvv|security\s+code|one-time\s+code|verification\s+code|2fa\s+code|seed\s+phrase"
    r"|bank\s+(?:login|details|account\s+details)|account\s+details|social\s+security\s+number)"
)
_GIVE = re.compile(
    rf"{_CLAUSE}(?:enter|provide|confirm|verify|type(?:\s+in)?|submit|send|share|update"
    rf"|re-?enter|input|give|sign\s+in\s+with|log\s*in\s+with)\b[^.!?]{{0,60}}?"
    rf"\b(?:your|their|the\s+user'?s?|his|her)\s+(?:\w+\s+){{0,3}}?{_CREDENTIALS}\b",
    re.IGNORECASE,
)
_MODEL = re.compile(
    r"\byou\s+are\s+now\b|\bas\s+an\s+ai\b|\bas\s+a\s+(?:large\s+)?language\s+model\b"
    r"|\bif\s+you\s+are\s+an?\s+(?:ai|llm|(?:large\s+)?language\s+model|assistant|chatbot|bot)\b"
    r"|\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|llms?|models?"
    r"|(?:ai\s+)?assistants?|chatbots?|language\s+models?)\b"
    r"|\b(?:ai|llms?|models?|assistants?|chatbots?|language\s+models?)\s+(?:reading|processing"
    r"|summari[sz]ing|parsing|crawling)\s+(?:this|these)\b"
    r"|\bdeveloper\s+mode\b|\bjailbreak|\bsystem\s+prompt\b"
    r"|\b(?:pretend|act)\s+(?:to\s+be|you\s+are|as\s+(?:if|an?\s+(?:ai|unrestricted|new)))\b",
    re.IGNORECASE,
)
_OUTPUT = re.compile(
    rf"{_CLAUSE}(?:respond|reply|answer)\s+(?:only\s+)?(?:with|using)\s+(?:only\s+)?"
    r"(?:the\s+(?:following|phrase|words?|text|sentence)|this|yes\b|no\b|(?:one|a\s+single)\s+word"
    r"|[\"'“‘])"
    rf"|{_CLAUSE}(?:output|print|repeat|say|write|include|state|type)\s+(?:back\s+)?"
    r"(?:the\s+following|the\s+text\s+below|this\s+(?:text|sentence|phrase)|verbatim|exactly"
    r"|after\s+me)\b"
    r"|\b(?:tell|inform|instruct|remind|warn|ask)\s+the\s+(?:user|reader)s?\b"
    r"|\bwhen\s+(?:you\s+)?(?:summari[sz]e|summari[sz]ing|answering|asked|you\s+are\s+asked)\b"
    r"[^.!?]{0,80}?\b(?:say|state|answer|respond|reply|claim|write|tell)\b",
    re.IGNORECASE,
)

_CHECKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("carries a role marker for a model", _ROLE),
    ("tells a model to ignore its instructions", _OVERRIDE),
    ("addresses a language model", _MODEL),
    ("tells a model what to output", _OUTPUT),
    ("asks for a password, card or other credentials", _GIVE),
    ("tells the reader to follow a link", _VISIT),
)
_ANY_CUE = re.compile(
    r"ignor|disregard|forget|overrid|bypass|discard|drop|system|assistant|developer|human|user"
    r"|\bai\b|inst\]|<\||<<|##|<\w|visit|click|go\s+to|open|navigat|head|follow|log\s*in"
    r"|sign\s+in|download|enter|provide|confirm|verify|type|submit|send|share|update|input"
    r"|give|you\s+are|model|note|message|instruction|llm|chatbot|jailbreak|pretend|act\s"
    r"|respond|reply|answer|output|print|repeat|say|write|include|state|tell|inform|remind"
    r"|warn|ask|when",
    re.IGNORECASE,
)


def _normal(sentence: str) -> str:
    """Compatibility forms folded ("ＳＹＳＴＥＭ" is "SYSTEM") and invisible characters out."""
    return strip_invisible(unicodedata.normalize("NFKC", sentence))[0]


@lru_cache(maxsize=65536)
def addresses_reader_or_model(sentence: str) -> str | None:
    """Why the sentence instructs a reader or a model (a short reason), or None."""
    text = _normal(sentence)
    if not _ANY_CUE.search(text):
        return None
    for reason, pattern in _CHECKS:
        if pattern.search(text):
            return reason
    return None


def passage_flag(text: str) -> str | None:
    """Why some sentence of a passage addresses a reader or a model (the first found)."""
    for start, end in split_sentences(text):
        if reason := addresses_reader_or_model(text[start:end]):
            return reason
    return None


def passage_diagnostics(passages: Sequence[Passage]) -> list[str]:
    """One line per passage holding a planted instruction, for an answer's diagnostics."""
    return [
        f"passage [{n}] ({p.chunk.doc_id}) has a sentence that {reason}: never used as an "
        "answer or a quote"
        for n, p in enumerate(passages, 1)
        if (reason := passage_flag(p.chunk.text))
    ]

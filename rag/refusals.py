"""Whether a model's reply declines to answer in its own words ("I'm sorry, but I can't
help with that", "The provided documents do not contain ...", "As an AI language model, I
cannot ..."), so that it becomes the explicit cannot-answer outcome instead of an answer.

`rag.citations.is_cannot_answer` recognises the one phrase the prompt asks for; this reads
the other ways models say the same. It works sentence by sentence: a sentence declines
when, after an opener such as "Sorry," / "Unfortunately," / "Based on the passages,", it
speaks of the model's inability (first person, "as an AI") or of what the documents do not
contain, and it carries no citation marker.

A reply declines when some sentence declines and no other sentence carries a citation.
So "The documents do not say when they met. They met in Abu Dhabi [1]." is a partial
answer and stays an answer (its cited part is checked like any other), and so is "The
documents do not say when, but they met in Abu Dhabi [1]." (one sentence, cited); while
"The passages do not mention the date. It was probably 2023." is a refusal: what follows
the admission has no source. Statements about others ("Pashinyan said he cannot accept
this [1]", "Armenia does not contain ...") never match: the subject must be the model
("I", "as an AI") or the documents.
"""

from __future__ import annotations

import re

from rag.citations import parse_citations
from rag.sentences import split_sentences

__all__ = ["declines", "declining_sentence"]

_NOT = r"(?:do(?:es)?\s*(?:not|n['’]t)|did\s*(?:not|n['’]t)|fail(?:s)?\s+to|can\s*(?:not|['’]t))"
_DOCS = (
    r"(?:(?:the|these|those|your|my)\s+)?"
    r"(?:(?:provided|given|supplied|available|retrieved|above|numbered|following|cited)\s+)?"
    r"(?:documents?|passages?|sources?|context|texts?|excerpts?|materials?|search\s+results?"
    r"|information(?:\s+(?:provided|given|available))?)"
    r"(?:\s+(?:provided|given|supplied|above|available|you\s+(?:provided|gave|shared)))?"
)
_SAYING = (
    r"(?:contain|include|mention|say|state|provide|address|discuss|specify|answer|cover"
    r"|offer|give|indicate|describe|explain|tell|show|reveal|refer|touch|deal|list|identify"
    r"|support|confirm|name|have)"
)
_OPENER = re.compile(
    r"^(?:(?:(?:i\s*a?m|i['’]m)\s+(?:very\s+|so\s+|truly\s+)?sorry|sorry|unfortunately"
    r"|apologies|i\s+apologi[sz]e|regrettably|however|but|answer\s*:"
    r"|(?:based\s+(?:solely\s+|only\s+)?on|according\s+to|from|in|looking\s+at)\s+" + _DOCS + r")"
    r"[\s,:;.!-]*)+",
    re.IGNORECASE,
)
_DECLINING = re.compile(
    # the model, in the first person
    r"(?:i|we)\b\s*(?:can\s*(?:not|['’]t)|could\s*(?:not|n['’]t)|am\s+(?:unable|not\s+able)"
    r"|['’]m\s+(?:unable|not\s+able)|(?:are|was|were)\s+(?:unable|not\s+able)"
    r"|will\s+not|won['’]t|must\s+decline|(?:have|had)\s+to\s+decline)\b"
    r"|(?:i|we)\b\s*(?:do|did)\s*(?:not|n['’]t)\s+(?:have|know|find|see)\b"
    r"|(?:i|we)\b\s*(?:have|had)\s+no\s+(?:information|knowledge|data|way|access)\b"
    r"|(?:i\s*a?m|i['’]m)\s+(?:unable|not\s+able|afraid|not\s+sure)\b"
    r"|as\s+an?\s+(?:ai|artificial|language\s+model|large\s+language|llm|assistant)\b"
    # the documents, or their absence
    rf"|{_DOCS}\s+{_NOT}\s+(?:\w+\s+)?{_SAYING}"
    rf"|{_DOCS}\s+(?:is|are)\s+(?:silent|insufficient|not\s+sufficient|not\s+enough)\b"
    rf"|(?:none|neither)\s+of\s+{_DOCS}\s+(?:\w+\s+)?{_SAYING}"
    r"|it\s*(?:is|['’]s)\s+(?:not\s+possible|impossible)\s+(?:for\s+me\s+)?to"
    r"\s+(?:determine|answer|say|tell|know|find|identify|provide|give)\b",
    re.IGNORECASE,
)
# "There is no information ...", "No mention of X is made ...": declining only when the
# sentence speaks of the documents (else it may be a finding: "there is no evidence that")
_ABSENT = re.compile(
    r"there\s+(?:is|are|was|were)\s+no\s+(?:\w+\s+){0,3}?(?:information|mention|details?|data"
    r"|answer|indication|reference)\b"
    r"|no\s+(?:\w+\s+)?(?:information|mention|details?|answer)\b.{0,80}?\b(?:is|are|was|were)"
    r"\s+(?:provided|given|available|found|present|included|made)\b",
    re.IGNORECASE,
)
_DOC_WORD = re.compile(
    r"\b(?:documents?|passages?|sources?|context|excerpts?|provided|given)\b", re.IGNORECASE
)


def declining_sentence(sentence: str) -> bool:
    """Whether one sentence, uncited, declines to answer (the module docstring says how)."""
    if parse_citations(sentence):
        return False
    text = " ".join(re.sub(r"[*_`]+", "", sentence).split()).strip(" \"'“”‘’")
    rest = _OPENER.sub("", text)
    if _DECLINING.match(rest):
        return True
    return bool(_ABSENT.match(rest) and _DOC_WORD.search(text))


def declines(reply: str) -> bool:
    """Whether a reply declines to answer: some sentence declines, none carries a citation."""
    sentences = [reply[start:end] for start, end in split_sentences(reply)]
    if any(parse_citations(s) for s in sentences):
        return False
    return any(declining_sentence(s) for s in sentences)

"""Author perspectives (`rag compare`): how does each author in the collection answer one
question, and where do they agree or diverge?

- `search`: one search per author, so a prolific author cannot crowd the others out;
- `quotes`: the shared sentence scorer and answerability decide whether an author addresses
  the question, and which verbatim sentences to quote;
- `claims`, `points`: agreement and divergence between claims about the same subject;
- `llm`: the language-model path, every claim checked against the quotes;
- `authors`: how authors are grouped and named; `comparison`: the whole (`compare`).
"""

from rag.perspectives.authors import AuthorGroup, author_groups, author_label, perspective_label
from rag.perspectives.claims import Claim, Subject, claims
from rag.perspectives.comparison import compare
from rag.perspectives.config import CompareConfig
from rag.perspectives.llm import STANCES, Numbered, ReplyError, Side, finder, parse_reply
from rag.perspectives.points import offline_points
from rag.perspectives.quotes import Scored, condense

__all__ = [
    "STANCES",
    "AuthorGroup",
    "Claim",
    "CompareConfig",
    "Numbered",
    "ReplyError",
    "Scored",
    "Side",
    "Subject",
    "author_groups",
    "author_label",
    "claims",
    "compare",
    "condense",
    "finder",
    "offline_points",
    "parse_reply",
    "perspective_label",
]

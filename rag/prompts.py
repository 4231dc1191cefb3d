"""Prompt templates kept as files in `Settings.prompts_dir`, and the blocks put into them.

Template files (`<name>.md`, UTF-8):

* `{{ name }}` (blanks inside the braces optional) is replaced by the variable `name`.
  Substitution is one pass, so a value that itself contains `{{ x }}` is inserted as is.
  Every variable the template uses must be given, and no other.
* A line holding only `---user---` splits the file into a system message (above) and a
  user message (below); without it the whole file is one user message.
* An HTML comment `<!-- ... -->` at the very start of the file documents the template and
  is not sent to the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.llm import Message
from rag.types import Passage

__all__ = [
    "CANNOT_ANSWER",
    "USER_MARKER",
    "PromptTemplate",
    "answer_messages",
    "condense_messages",
    "format_history",
    "format_passages",
    "load_prompt",
    "parse_condensed",
]

# The one fixed reply for "the passages do not answer the question"; the answer prompt
# receives it as the variable `cannot_answer`, rag.citations.is_cannot_answer recognises it.
CANNOT_ANSWER = "The documents do not answer this."

USER_MARKER = "---user---"

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_LEADING_COMMENT = re.compile(r"\A\s*<!--.*?-->[ \t]*\n?", re.DOTALL)
_MARKER_LINE = re.compile(rf"^[ \t]*{re.escape(USER_MARKER)}[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded template: an optional system part and a user part."""

    name: str
    path: Path
    system: str | None
    user: str

    @property
    def variables(self) -> frozenset[str]:
        """The names of the variables the template uses."""
        parts = [self.user] if self.system is None else [self.system, self.user]
        return frozenset(m.group(1) for part in parts for m in _VARIABLE.finditer(part))

    def render(self, **variables: str) -> str:
        """The whole template filled in; system and user parts joined by a blank line."""
        return "\n\n".join(m["content"] for m in self.render_messages(**variables))

    def render_messages(self, **variables: str) -> list[Message]:
        """`[system, user]` messages (or `[user]` for a single-part template) filled in."""
        self._check(variables)
        messages: list[Message] = []
        if self.system is not None:
            messages.append({"role": "system", "content": self._fill(self.system, variables)})
        messages.append({"role": "user", "content": self._fill(self.user, variables)})
        return messages

    def _check(self, variables: dict[str, str]) -> None:
        used = self.variables
        missing = sorted(used - variables.keys())
        unknown = sorted(variables.keys() - used)
        if missing:
            raise ConfigError(
                f"prompt template {self.path}: no value given for variable "
                + ", ".join(repr(v) for v in missing)
            )
        if unknown:
            raise ConfigError(
                f"prompt template {self.path} does not use variable "
                + ", ".join(repr(v) for v in unknown)
                + f" (it uses: {', '.join(sorted(used)) or 'none'})"
            )
        for key, value in variables.items():
            if not isinstance(value, str):
                raise TypeError(f"prompt variable {key!r} must be a str, not {type(value)}")

    @staticmethod
    def _fill(part: str, variables: dict[str, str]) -> str:
        return _VARIABLE.sub(lambda m: variables[m.group(1)], part)


def load_prompt(name: str, prompts_dir: Path) -> PromptTemplate:
    """Read the template `prompts_dir/<name>.md` (`name` may carry the `.md` already)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"invalid prompt template name {name!r}")
    path = Path(prompts_dir) / (name if name.endswith(".md") else f"{name}.md")
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"prompt template not found: {path} (check RAG_PROMPTS_DIR)") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read prompt template {path}: {e}") from e
    text = _LEADING_COMMENT.sub("", raw, count=1)
    parts = _MARKER_LINE.split(text)
    if len(parts) > 2:
        raise ConfigError(f"prompt template {path} has more than one {USER_MARKER} line")
    if len(parts) == 2:
        system_part, user_part = parts[0].strip(), parts[1].strip()
        if not system_part:
            raise ConfigError(f"prompt template {path}: the system part is empty")
    else:
        system_part, user_part = None, parts[0].strip()
    if not user_part:
        raise ConfigError(f"prompt template {path}: the user part is empty")
    stem = path.name.removesuffix(".md")
    return PromptTemplate(name=stem, path=path, system=system_part, user=user_part)


# --- blocks put into templates -----------------------------------------------------------


def _escape_text(text: str) -> str:
    """Make `<` and `>` inert so passage text cannot open or close a tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(value: str) -> str:
    value = " ".join(value.split())
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def format_passages(passages: Sequence[Passage]) -> str:
    """The numbered, delimited block of passages for the answer prompt.

    Passage `n` is the n-th of `passages` (1-based), whatever its `rank`; the answer cites
    it as `[n]`. Known metadata goes into attributes (title, author, outlet, date, section).
    `<` and `>` in the text become `&lt;`/`&gt;` (and `&`, `"` too in attributes), so a
    passage cannot end its own element or forge another.
    """
    lines = ["<passages>"]
    for n, passage in enumerate(passages, start=1):
        meta = passage.meta
        attributes = [("n", str(n))]
        for key, value in (
            ("title", meta.title),
            ("author", meta.author),
            ("outlet", meta.outlet),
            ("date", meta.date),
            ("section", passage.chunk.heading),
        ):
            if value and value.strip():
                attributes.append((key, value))
        rendered = " ".join(f'{key}="{_escape_attribute(value)}"' for key, value in attributes)
        lines.append(f"<passage {rendered}>")
        lines.append(_escape_text(passage.chunk.text.strip()))
        lines.append("</passage>")
    lines.append("</passages>")
    return "\n".join(lines)


def format_history(messages: Sequence[Message]) -> str:
    """A conversation as `User: ...` / `Assistant: ...` lines for the condense prompt."""
    labels = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n".join(
        f"{labels[m['role']]}: {_escape_text(' '.join(m['content'].split()))}" for m in messages
    )


def answer_messages(question: str, passages: Sequence[Passage], prompts_dir: Path) -> list[Message]:
    """The messages asking the model to answer `question` from `passages`."""
    return load_prompt("answer", prompts_dir).render_messages(
        question=question.strip(),
        passages=format_passages(passages),
        cannot_answer=CANNOT_ANSWER,
    )


def condense_messages(
    history: Sequence[Message], question: str, prompts_dir: Path
) -> list[Message]:
    """The messages asking the model to turn a follow-up into a standalone question."""
    return load_prompt("condense", prompts_dir).render_messages(
        history=format_history(history), question=question.strip()
    )


_CONDENSE_PREFIX = re.compile(
    r"^(?:\*\*)?(?:standalone|rewritten|reformulated)?\s*question\s*:(?:\*\*)?\s*",
    re.IGNORECASE,
)


def parse_condensed(reply: str, fallback: str) -> str:
    """The standalone question from a condense reply, tolerating a weak model's extras
    (a `Standalone question:` label, quotes, a second line); `fallback` if nothing is left.
    """
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return fallback
    line = _CONDENSE_PREFIX.sub("", lines[0]) or (lines[1] if len(lines) > 1 else "")
    line = line.strip().strip("\"'“”‘’`").strip()
    return line or fallback

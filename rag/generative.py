"""The LLM answerer: an OpenAI-compatible model writes the answer from numbered passages,
and everything it says is checked before a user sees it.

After generation: images, active HTML, and every link or bare URL that is not the URL of
a passage the answer cites are stripped, and the visible notice lists them; citations to
passages that were not given are removed and reported; sentences that state something
without a valid citation are flagged; a cannot-answer reply, or one that declines in the
model's own words ("I'm sorry, but I can't help with that", "The provided documents do
not contain ...": `rag.refusals.declines`), becomes an explicit refusal. A prompt too
long for the model's context is retried once with the lowest-ranked half of the passages
dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.answer import refusal
from rag.citations import (
    is_cannot_answer,
    parse_citations,
    strip_unsafe_markup,
    validate_citations,
)
from rag.conversation import Conversation
from rag.errors import ContextTooLongError, LLMError
from rag.injection import addresses_reader_or_model
from rag.lexical import terms
from rag.llm import LLM, Message
from rag.llm import assistant as assistant_message
from rag.llm import user as user_message
from rag.prompts import (
    CANNOT_ANSWER,
    condense_messages,
    format_passages,
    load_prompt,
    parse_condensed,
)
from rag.refusals import declines
from rag.sentences import split_sentences
from rag.types import Answer, Citation, Passage

MODEL_DECLINED = "the language model declined to answer from the retrieved passages"


def supporting_sentence(claim: str, passage: Passage) -> str | None:
    """The sentence of a passage that shares most content terms with a claim, to highlight
    (never one that instructs the reader or a model)."""
    claim_terms = set(terms(claim))
    best, best_overlap = None, 0
    text = passage.chunk.text
    for start, end in split_sentences(text):
        if addresses_reader_or_model(text[start:end]):
            continue
        overlap = len(claim_terms & set(terms(text[start:end])))
        if overlap > best_overlap:
            best, best_overlap = text[start:end], overlap
    return best


def removal_notice(notes: Sequence[str], shown: int = 5) -> str:
    """The markup removed from a model's answer, in words a reader sees beside it: a link
    the answer's sources do not carry may be one a planted instruction asked for."""
    items = [note.removeprefix("removed ") for note in notes]
    listed = "; ".join(items[:shown]) + (
        f"; and {len(items) - shown} more" if len(items) > shown else ""
    )
    return f"Removed from the model's answer (not the URL of a cited source, or unsafe): {listed}."


def _claims_by_citation(text: str) -> dict[int, str]:
    """For each cited number, the first sentence of the answer that cites it."""
    claims: dict[int, str] = {}
    for start, end in split_sentences(text):
        sentence = text[start:end]
        for n in parse_citations(sentence):
            claims.setdefault(n, sentence)
    return claims


class LLMAnswerer:
    name = "openai"

    def __init__(self, llm: LLM, prompts_dir: Path) -> None:
        self.llm = llm
        self.prompt = load_prompt("answer", prompts_dir)

    def messages(self, question: str, passages: Sequence[Passage]) -> list[Message]:
        return self.prompt.render_messages(
            question=question, passages=format_passages(passages), cannot_answer=CANNOT_ANSWER
        )

    def _with_context_retry(
        self, question: str, passages: Sequence[Passage]
    ) -> tuple[str, list[str], Sequence[Passage]]:
        try:
            return self.llm.complete(self.messages(question, passages)), [], passages
        except ContextTooLongError:
            if len(passages) <= 1:
                raise
            kept = passages[: max(1, len(passages) // 2)]
            note = (
                f"the prompt was too long for the model; retried with the top {len(kept)} passages"
            )
            return self.llm.complete(self.messages(question, kept)), [note], kept

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        if not passages:
            return self.finish(question, passages, CANNOT_ANSWER, [])
        reply, notes, used = self._with_context_retry(question, passages)
        return self.finish(question, used, reply, notes)

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str | Answer]:
        """Yield text deltas as they arrive, then the checked `Answer` last."""
        if not passages:
            yield self.finish(question, passages, CANNOT_ANSWER, [])
            return
        parts: list[str] = []
        used: Sequence[Passage] = passages
        notes: list[str] = []
        try:
            for delta in self.llm.stream(self.messages(question, used)):
                parts.append(delta)
                yield delta
        except ContextTooLongError:
            # Raised before any text arrives, so the retry streams from the start.
            if parts or len(passages) <= 1:
                raise
            used = passages[: max(1, len(passages) // 2)]
            notes.append(
                f"the prompt was too long for the model; retried with the top {len(used)} passages"
            )
            for delta in self.llm.stream(self.messages(question, used)):
                parts.append(delta)
                yield delta
        yield self.finish(question, used, "".join(parts), notes)

    def finish(
        self, question: str, passages: Sequence[Passage], reply: str, notes: list[str]
    ) -> Answer:
        """Check a raw reply and turn it into an Answer."""
        diagnostics = list(notes)
        if not reply.strip():
            raise LLMError("the model returned an empty reply")
        if is_cannot_answer(reply) or not passages:
            return refusal(question, passages, self.name, diagnostics)
        if declines(reply):
            said = " ".join(reply.split())
            said = said if len(said) <= 200 else said[:199] + "…"
            return refusal(
                question,
                passages,
                self.name,
                [*diagnostics, f"model_refused: {said}"],
                reason=MODEL_DECLINED,
            )
        cited = [n for n in parse_citations(reply) if 1 <= n <= len(passages)]
        urls = {url for n in cited if (url := passages[n - 1].meta.url)}
        text, removed_markup = strip_unsafe_markup(reply.strip(), urls)
        diagnostics += removed_markup
        check = validate_citations(text, len(passages))
        if check.removed:
            diagnostics.append(
                "removed citations to passages that were not given: "
                + ", ".join(f"[{n}]" for n in check.removed)
            )
        notice = None
        if check.uncited_sentences:
            diagnostics += [f"no valid citation: {s}" for s in check.uncited_sentences]
            notice = (
                f"{len(check.uncited_sentences)} statement(s) in this answer carry no valid "
                "citation; check them against the sources."
            )
        if not check.cited and notice is None:
            notice = "This answer cites no passage; check it against the sources."
        if removed_markup:
            notice = " ".join(filter(None, (notice, removal_notice(removed_markup))))
        claims = _claims_by_citation(check.text)
        citations = tuple(
            Citation(
                n=n,
                passage=passages[n - 1],
                quote=supporting_sentence(claims.get(n, ""), passages[n - 1]),
            )
            for n in check.cited
        )
        return Answer(
            question=question,
            standalone_question=question,
            text=check.text,
            citations=citations,
            passages=tuple(passages),
            refused=False,
            backend=self.name,
            notice=notice,
            diagnostics=tuple(diagnostics),
        )


def condense_with_llm(
    llm: LLM, prompts_dir: Path, conversation: Conversation, question: str
) -> str:
    """Ask the model to rewrite a follow-up as a standalone question (condense prompt).

    The history goes through `condense_messages` (escaped, so a turn cannot close the
    `<conversation>` block) and the reply through `parse_condensed` (drops a label such as
    `Standalone question:`, quotes and extra lines)."""
    history: list[Message] = []
    for asked, answered in conversation.turns[-4:]:
        history += [user_message(asked), assistant_message(answered)]
    reply = llm.complete(condense_messages(history, question, prompts_dir))
    rewritten = parse_condensed(reply, fallback="")
    if not rewritten or len(rewritten) > 4 * len(question) + 200:
        raise LLMError("the model's rewritten question was empty or implausibly long")
    return rewritten


class LLMCondenser:
    """The model rewrites follow-ups (`condense_with_llm`); raises LLMError when it fails."""

    def __init__(self, llm: LLM, prompts_dir: Path) -> None:
        self.llm = llm
        self.prompts_dir = prompts_dir

    def condense(self, conversation: Conversation, question: str) -> str:
        return condense_with_llm(self.llm, self.prompts_dir, conversation, question)

"""Calibrate when an author "addresses" a question in `rag compare`.

    python eval/calibrate_compare.py [eval/questions.jsonl]

For every comparative question, each gold author (whose documents hold an evidence quote)
should address it; for every unanswerable question (near misses and off-topic), authors
mostly should not. Each author's decision is `rag.answerability.decide` over the sentences
of their own passages, exactly as `rag compare` makes it; this prints, for a range of
off-topic floors and `min_confidence` bars, the share of gold authors covered and the share
of (author, unanswerable question) pairs addressed, so the bars in
`rag.perspectives.config` can be read off. Needs the demo index (`rag ingest corpus`).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answerability import decide  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.evaluation.schema import load_eval_set  # noqa: E402
from rag.perspectives import CompareConfig, author_groups, author_label  # noqa: E402
from rag.perspectives.authors import author_names  # noqa: E402
from rag.perspectives.quotes import for_comparison  # noqa: E402
from rag.perspectives.search import search_author  # noqa: E402
from rag.question import analyse  # noqa: E402
from rag.settings import Settings  # noqa: E402

FLOORS = (0.25, 0.3, 0.35, 0.39)  # AnswerabilityConfig.min_similarity: the off-topic floor
BARS = (0.15, 0.2, 0.22, 0.24, 0.26, 0.28, 0.3)  # AnswerabilityConfig.min_confidence


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "eval" / "questions.jsonl"
    assistant = Assistant(Settings())
    retriever, scorer = assistant.retriever, assistant.extractive.scorer
    documents = assistant.index.documents
    groups = author_groups(documents)
    config = CompareConfig()
    open_bar = replace(config.addresses, min_confidence=0.0, min_similarity=0.0)
    # (closest cosine, confidence) of each gold author of a comparative question, and of
    # each author on each unanswerable question; confidence -1: no sentence is eligible
    gold: list[tuple[float, float]] = []
    unanswerable: list[tuple[float, float]] = []
    for question in load_eval_set(path):
        if question.type not in ("comparative", "unanswerable"):
            continue
        analysis = for_comparison(
            analyse(question.question, scorer.idf, authors=author_names(documents))
        )
        vector = retriever.embed_query(question.question)
        wanted = {author_label(documents[d].meta) for d in question.gold_docs if d in documents}
        for group in groups:
            if question.type == "comparative" and group.label not in wanted:
                continue
            passages = search_author(
                question.question, analysis.focus.names, group, retriever, vector, config
            )
            scored, _ = scorer.score(analysis, passages)
            decision = decide(analysis, scored, open_bar)
            closest = max((s.similarity for s in scored), default=0.0)
            value = decision.confidence if decision.answerable else -1.0
            (gold if question.type == "comparative" else unanswerable).append((closest, value))
    print(f"{len(gold)} gold author pairs, {len(unanswerable)} (author, unanswerable) pairs")
    print("floor  bar    gold covered   unanswerable addressed")
    for floor in FLOORS:
        for bar in BARS:
            covered = sum(c >= floor and v >= bar for c, v in gold) / len(gold)
            addressed = sum(c >= floor and v >= bar for c, v in unanswerable) / len(unanswerable)
            print(f"{floor:<6} {bar:<6} {covered:>12.3f}   {addressed:>12.3f}")


if __name__ == "__main__":
    main()

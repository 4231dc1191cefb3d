"""load_document on the demo corpus, on every encoding we accept or refuse, on HTML and PDF,
and on each kind of bad input (always an IngestError naming the file)."""

from __future__ import annotations

import codecs
import hashlib
import io
import random
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from rag.errors import IngestError
from rag.ingest import SUPPORTED_SUFFIXES, Catalog, load_catalog, load_document
from rag.ingest.worker import IsolatedLoader, Limits
from rag.types import Document

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
MAX = 20_000_000
EMPTY = Catalog()


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    catalog = load_catalog(CORPUS / "catalog.toml")
    return {
        path.name[:3]: load_document(path, catalog=catalog, max_bytes=MAX)
        for path in sorted(CORPUS.glob("*.txt"))
    }


def load(path: Path, catalog: Catalog = EMPTY, max_bytes: int = MAX) -> Document:
    return load_document(path, catalog=catalog, max_bytes=max_bytes)


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- corpus

KNOWN_SENTENCES = {
    "000": [
        "Among all the terrible news about the Russian invasion of Ukraine, one, oddly enough, "
        "made me jealous.",
        "These three countries have united in the face of the Russian threat.",
        "No, I do not mean that our countries could unite into another federation.",
        "I jokingly called it his ‘Roman-Imperial manners’.",
    ],
    "001": [
        "Azerbaijan is no exception.",
        "That strategy has failed.",
        "This is a sign of the Kremlin's diminishing influence over the region.",
        "Dr. Ali Askerov is a faculty member at the University of North Carolina, Greensboro, "
        "specializing in peace and conflict studies.",
        "He has authored seven books and numerous articles.",
    ],
    "002": [
        "In Mackinder’s terminology, Eurasia is the heartland of geopolitics",
        "No major power can afford to ignore or neglect it.",
        "This seems to be changing now.",
        "The issue escalated with both sides summoning ambassadors and exchanging official "
        "protests.",
        "Dr Vasif Huseynov, is a Senior Advisor at the Center of Analysis of International "
        "Relations (AIR Center)",
    ],
    "003": [
        "_This paper explores the challenge to Russia’s established position in the South "
        "Caucasus as the region undergoes significant change._",
        "Russia is now seeking to adapt to the new regional situation.",
        "The paper has three chapters.",
        "__Neil Melvin__ is Director of the International Security research group at RUSI.",
    ],
    "004": [
        "Lavrov last visited Armenia three years ago.",
        "So why does Yerevan, despite its sharp rhetoric toward Moscow, still not sever ties?",
        "DELAYED RESPONSE FROM THE CSTO",
        "Russia and Iran should have clung with all their might to Armenian Artsakh and Syunik. "
        "In Iran, they’ve already realized this.",
    ],
}


@pytest.mark.parametrize("key", sorted(KNOWN_SENTENCES))
def test_corpus_article_sentences_survive_cleaning(docs: dict[str, Document], key: str) -> None:
    for sentence in KNOWN_SENTENCES[key]:
        assert sentence in docs[key].text, sentence


def test_corpus_ids_hashes_and_headings(docs: dict[str, Document]) -> None:
    assert docs["000"].doc_id == "000-0c4da8ee7c2bcb9d"
    for key, doc in docs.items():
        raw = next(CORPUS.glob(f"{key}_*.txt")).read_bytes()
        assert doc.meta.content_hash == hashlib.sha256(raw).hexdigest()
        assert doc.text == doc.text.strip() and "\n\n\n" not in doc.text
        offsets = [offset for offset, _ in doc.headings]
        assert offsets == sorted(offsets)
        for offset, heading in doc.headings:
            assert heading in doc.text[offset:].split("\n", 1)[0]


OTHER_ARTICLES_002 = [
    "Pakistan and Azerbaijan deepen economic ties",
    "The Kremlin’s scenario exposed",
    "How Karabakh is becoming a symbol of Azerbaijani success",
    "After the crisis – a cold spell",
    "Khankendi becomes a turning point",
    "Caspian Green Energy Corridor",
    "Prominent US rabbi calls to include Azerbaijan in the Abraham Accords",
    "Hikmet Hajiyev: The ball is now in the EU’s court",
    "Pezeshkian faced intimidation ahead of visit to Azerbaijan",
    "Azerbaijan hosts historic ECO Summit in Khankendi",
    "Azerbaijan demonstrates strength",
    "Azerbaijan’s pushback against Russia and Iran",
    "Azerbaijani and Armenian leaders to meet in Dubai later in July",
    "Min Read",
    "You Might Also Like",
    "New articles",
    "Useful links",
    "Privacy Policy",
    "Sign in to your account",
    "editor@aze.media",
    "© 2021",
    "Font Resizer",
    "We are a unique political and socio-cultural digest",
    "commonspace",
    "pojkz",
]
MENU_WORDS_002 = {
    "Home", "COP29", "Opinion", "News", "Economy", "Energy", "Culture", "Diaspora",
    "Interview", "Science", "Logistics-Transport", "Gender", "History", "Defense", "Karabakh",
    "Search", "Accept", "Follow US", "AzeMedia", "Who we are",
}  # fmt: skip


def test_002_keeps_only_the_article(docs: dict[str, Document]) -> None:
    text = docs["002"].text
    for fragment in OTHER_ARTICLES_002:
        assert fragment not in text, fragment
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    assert not MENU_WORDS_002 & {line.lstrip("• ") for line in lines}
    assert lines[0] == "The South Caucasus is set for geopolitical realignment"
    assert lines[1].startswith("Azerbaijan’s relations with its northern neighbor")  # standfirst
    assert lines[2].startswith("In Mackinder’s terminology")
    assert lines[-1].startswith("Dr Vasif Huseynov, is a Senior Advisor")
    for paragraph in lines[1:]:
        # Sentence-like: ends a sentence, or (the author note, which ends in a photo
        # caption) holds one of 8+ words.
        ends = len(paragraph.split()) >= 5 and re.search(r"[.?!]\S*$", paragraph)
        holds = len(paragraph.split()) >= 8 and re.search(r"\w[.?!] [A-Z]", paragraph)
        assert ends or holds, paragraph


def test_001_running_header_and_pdf_notice_are_gone(docs: dict[str, Document]) -> None:
    text = docs["001"].text
    assert text.count("Opinion – Peace and Power Realignment in the South Caucasus") == 1
    assert text.startswith("Opinion – Peace and Power Realignment in the South Caucasus")
    for gone in [
        "This PDF is auto-generated",
        "Written by Ali Askerov",
        "ALI ASKEROV",
        "e-ir.info",
    ]:
        assert gone not in text
    assert "About the author:" in text


def test_003_front_matter_is_removed_and_read() -> None:
    doc = load(CORPUS / "003_d0be66f4cb85011a.txt")
    for gone in ["layout: post", "excerpt_separator", "imgur", "<excerpt/>", "![image"]:
        assert gone not in doc.text
    assert doc.text.startswith("_This paper explores")
    assert (doc.meta.title, doc.meta.author, doc.meta.date) == (
        "Retying The Caucasian Knot",
        "Neil Melvin",
        "2024-11-18",
    )
    headings = [h for _, h in doc.headings]
    assert headings[:2] == ["Introduction", "I. Russia’s South Caucasus Strategy"]
    assert "Turkey" in headings


def test_000_trailing_url_and_disclaimer() -> None:
    doc = load(CORPUS / "000_0c4da8ee7c2bcb9d.txt")
    url = (
        "https://jam-news.net/a-south-caucasus-alliance-or-friendship-with-big-countries-a-"
        "choice-for-azerbaijan-armenia-and-georgia/"
    )
    assert doc.meta.url == url
    assert "jam-news.net" not in doc.text
    assert "Trajectories" not in doc.text
    assert "•" not in doc.text
    assert doc.meta.author == "Iraj Iskenderov"
    assert doc.text.endswith("independence from the major powers.")


def test_extracted_metadata_without_catalog() -> None:
    doc_001 = load(CORPUS / "001_dc618f474d60921a.txt")
    assert doc_001.meta.author == "Ali Askerov"
    assert doc_001.meta.date == "2025-08-10"
    assert doc_001.meta.title == "Opinion – Peace and Power Realignment in the South Caucasus"
    doc_002 = load(CORPUS / "002_350488f4c5f50c02.txt")
    assert (doc_002.meta.author, doc_002.meta.date) == ("AzeMedia", "2025-07-03")


def test_catalog_overrides_extraction(docs: dict[str, Document]) -> None:
    assert docs["002"].meta.author == "Vasif Huseynov"
    assert docs["002"].meta.outlet == "Aze.Media (reprinted from commonspace.eu)"
    assert docs["004"].meta.author is None
    assert docs["004"].meta.title == "Russia’s zugzwang in the South Caucasus"
    assert docs["000"].meta.date is None
    assert docs["003"].meta.title == (
        "Retying the Caucasian Knot: Russia’s Evolving Approach to the South Caucasus"
    )


def test_empty_catalog_value_beats_extraction(tmp_path: Path) -> None:
    source = CORPUS / "002_350488f4c5f50c02.txt"
    shutil.copy(source, tmp_path / source.name)
    (tmp_path / "catalog.toml").write_text(
        f'[documents."{source.name}"]\nauthor = ""\n', encoding="utf-8"
    )
    doc = load(tmp_path / source.name, load_catalog(tmp_path / "catalog.toml"))
    assert doc.meta.author is None
    assert doc.meta.date == "2025-07-03"  # missing key: extraction stands


def test_title_falls_back_to_heading_then_stem(tmp_path: Path) -> None:
    body = "This is the first sentence of a note without any heading at all in it."
    assert load(write(tmp_path, "plain-note.txt", body)).meta.title == "plain-note"
    headed = write(tmp_path, "headed.md", f"# Field Notes\n\n{body}\n")
    assert load(headed).meta.title == "Field Notes"


# --------------------------------------------------------------------------- encodings

TEXT = (
    "Le café “Zürich” était fermé — naïve façade.\r\n\r\nSecond paragraph of the note, in Orléans."
)
EXPECTED = TEXT.replace("\r\n", "\n")


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "cp1252"],
)
def test_accepted_encodings_decode_to_the_same_text(tmp_path: Path, data: bytes) -> None:
    assert load(write(tmp_path, "note.txt", data)).text == EXPECTED


def test_latin1_bytes_and_nfc(tmp_path: Path) -> None:
    legacy = write(tmp_path, "legacy.txt", b"caf\xe9 \x93quoted\x94 in a legacy file")
    assert load(legacy).text == "café “quoted” in a legacy file"
    decomposed = write(tmp_path, "nfd.txt", "Cafe\u0301 society in Tbilisi.")
    assert load(decomposed).text == "Café society in Tbilisi."


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("日本語のテキストです。".encode("shift_jis"), "re-save it as UTF-8"),
        ("日本語のテキスト".encode("shift_jis"), "another script"),
        (
            "Report on 日本語のテキスト market share in Tokyo and Osaka.".encode("shift_jis"),
            "double-byte",
        ),
        ("Россия и Азербайджан подписали соглашение".encode("cp1251"), "another script"),
        (("Café société " * 20).encode("utf-8") + b"\xe9 and more", "mostly UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        (random.Random(7).randbytes(4000), "binary"),
        (bytes(range(1, 32)) * 10 + b"some text", "control characters"),
    ],
    ids=["sjis", "sjis-no-0x81", "sjis-mixed", "cp1251", "utf8-bad-byte", "png", "random", "ctrl"],
)
def test_refused_bytes_name_the_file(tmp_path: Path, data: bytes, reason: str) -> None:
    path = write(tmp_path, "suspect.txt", data)
    with pytest.raises(IngestError, match=reason) as caught:
        load(path)
    assert "suspect.txt" in str(caught.value)
    assert caught.value.path == path


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("report.docx", b"PK\x03\x04", r"unsupported file type '\.docx'; supported: \.txt, \.md"),
        ("README", b"text", r"unsupported file type '\(none\)'"),
        ("empty.txt", b"", "the file is empty"),
        ("blank.md", b"  \n\n\t\n", "the file is empty"),
        ("chrome.txt", b"Search\nShare\nFollow US\n", "no text left after removing boilerplate"),
        ("___.txt", b"Some text here.", "no letters or digits"),
        ("page.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no main text"),
        ("fake.pdf", b"just some text, not a PDF at all", "cannot parse the PDF"),
        ("bad.md", b"---\ntitle: [oops\n---\nBody text.", "front matter is not valid YAML"),
    ],
)
def test_bad_input_raises_ingest_error(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(IngestError, match=reason) as caught:
        load(path)
    assert name in str(caught.value)


def test_too_large(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "A sentence of the big file. " * 100)
    with pytest.raises(IngestError, match=r"big\.txt.*over the 100-byte limit"):
        load(path, max_bytes=100)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"gone\.txt.*cannot read"):
        load(tmp_path / "gone.txt")


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}


def test_markdown_keeps_syntax_but_drops_images(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "notes.markdown",
        "# Notes\n\n![map](https://x.org/map.png)\n\nThe **border** runs along the river "
        "![icon](i.png) for most of its length, the survey found.\n",
    )
    doc = load(path)
    assert doc.text == (
        "# Notes\n\nThe **border** runs along the river  for most of its length, the survey found."
    )
    assert doc.headings == ((0, "Notes"),)


# --------------------------------------------------------------------------- HTML


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    doc = load(FIXTURES / "article.html")
    assert doc.text.startswith("Border talks resume in Geneva\n\nNegotiators from Armenia")
    assert "the delimitation of their shared border." in doc.text
    assert "trust between the two capitals remains low." in doc.text
    for gone in ["Politics and elections", "Subscribe", "©", "Privacy Policy", "Terms of Use"]:
        assert gone not in doc.text
    assert doc.meta.title == "Border talks resume in Geneva"
    assert doc.meta.author == "Nino Beridze"
    assert doc.meta.outlet == "Caucasus Monitor"
    assert doc.meta.date == "2025-03-04"
    assert doc.meta.url == "https://monitor.example.org/2025/03/border-talks-resume"
    assert doc.doc_id == "article"


# --------------------------------------------------------------------------- PDF


def make_pdf(pages: list[list[str]], info: dict[str, str] | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, one page per list."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    contents = []
    for lines in pages:
        ops = [b"BT /F1 11 Tf 14 TL 72 770 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(b"(" + escaped.encode("latin-1") + b") Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        contents.append(add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)))
    pages_id = len(objects) + len(contents) + 1
    kids = [
        add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)
        )
        for content in contents
    ]
    refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))) == pages_id
    root = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + (2 if info else 1), root)
    if info:
        entries = b" ".join(
            b"/%s (%s)" % (k.encode(), v.encode("latin-1")) for k, v in info.items()
        )
        trailer += b" /Info %d 0 R" % add(b"<< " + entries + b" >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


PDF_PAGES = [
    [
        "Caucasus Policy Brief - March 2025",
        "Peace Talks Resume",
        "",
        "Negotiators from both countries met in Geneva on Tuesday to resume",
        "talks that stalled last year over the border question.",
        "The mediators said the delegations agreed on a timetable for the",
        "remaining sections of the border.",
        "1",
    ],
    [
        "Caucasus Policy Brief - March 2025",
        "Observers cautioned that previous rounds produced similar promises",
        "without lasting results.",
        "2",
    ],
]


def test_pdf_text_and_metadata(tmp_path: Path) -> None:
    info = {"Title": "Peace Talks Resume", "Author": "Jane Roe", "CreationDate": "D:20250304101500"}
    doc = load(write(tmp_path, "brief.pdf", make_pdf(PDF_PAGES, info)))
    assert doc.text == (
        "Peace Talks Resume\n\n"
        "Negotiators from both countries met in Geneva on Tuesday to resume talks that stalled "
        "last year over the border question. The mediators said the delegations agreed on a "
        "timetable for the remaining sections of the border.\n\n"
        "Observers cautioned that previous rounds produced similar promises without lasting "
        "results."
    )
    assert (doc.meta.title, doc.meta.author, doc.meta.date) == (
        "Peace Talks Resume",
        "Jane Roe",
        "2025-03-04",
    )
    assert doc.headings == ((0, "Peace Talks Resume"),)


def test_pdf_without_metadata_uses_the_headline(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "brief.pdf", make_pdf(PDF_PAGES)))
    assert doc.meta.title == "Peace Talks Resume"
    assert doc.meta.author is None


def _encrypted(user_password: str, algorithm: str = "RC4-128") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(PDF_PAGES))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "owner.pdf", _encrypted("")))
    assert "Observers cautioned" in doc.text


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_encrypted_pdf_without_a_user_password_is_ingested(
    tmp_path: Path, algorithm: str
) -> None:
    """AES needs the `cryptography` package; without it pypdf cannot decrypt and the file
    was refused as damaged. Read as ingest reads it: in the worker process."""
    path = write(tmp_path, "aes.pdf", _encrypted("", algorithm))
    with IsolatedLoader(Limits(seconds=60, memory_mb=0)) as loader:
        doc = loader.load(path, Catalog(), 20_000_000)
    assert "Observers cautioned" in doc.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.pdf", None, "encrypted with a password"),
        ("scan.pdf", make_pdf([[], []]), "no extractable text.*OCR"),
        ("cut.pdf", make_pdf(PDF_PAGES)[:300], "cannot parse the PDF"),
        ("junk.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog\nendobj\ngarbage", "cannot parse"),
    ],
)
def test_bad_pdfs(tmp_path: Path, name: str, data: bytes | None, reason: str) -> None:
    path = write(tmp_path, name, data if data is not None else _encrypted("secret"))
    with pytest.raises(IngestError, match=reason) as caught:
        load(path)
    assert name in str(caught.value)

"""What the served app must not do: hand out files outside its own uploads (system files,
`../` escapes, the index, the corpus), render markup or remote images from document text,
or listen beyond this machine without a password."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from rag.assistant import Assistant
from rag.cli import app as cli_app
from rag.types import Answer, Chunk, Citation, DocumentMeta, Passage
from rag.urls import safe_url
from ui.app import ExposureError, check_exposure, is_loopback, parse_auth
from ui.render import answer_markdown, md_text, source_card

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.fixture(scope="module")
def base_url(demo_app_url: str) -> str:
    return demo_app_url + ""


def _targets(demo_assistant: Assistant) -> list[str]:
    settings = demo_assistant.settings
    collection = settings.collection_dir.resolve()
    index_files = sorted(p for p in collection.rglob("*") if p.is_file())
    assert index_files, "the demo index has files"
    corpus_file = next(p for p in (ROOT / "corpus").iterdir() if p.suffix == ".txt")
    return [
        "/etc/passwd",
        "../../../../../../etc/passwd",
        "..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "....//....//....//etc/passwd",
        "/proc/self/environ",
        str(index_files[0]),
        str(index_files[-1]),
        str(collection),
        str(corpus_file.resolve()),
        "corpus/" + corpus_file.name,
        "pyproject.toml",
        "ui/app.py",
        str(Path(sys.prefix) / "pyvenv.cfg"),
    ]


@pytest.mark.parametrize("route", ["/gradio_api/file=", "/file=", "/gradio_api/file/"])
def test_file_routes_refuse_paths_outside_the_uploads(
    base_url: str, demo_assistant: Assistant, route: str
) -> None:
    secrets = [b"root:x:0:0", b"[build-system]", b"import gradio"]
    for target in _targets(demo_assistant):
        for form in {target, quote(target, safe="")}:
            response = httpx.get(f"{base_url}{route}{form}", timeout=10)
            assert response.status_code in (400, 403, 404), (route, form, response.status_code)
            assert not any(s in response.content for s in secrets), (route, form)
            if Path(target).is_file():
                head = Path(target).read_bytes()[:64]
                assert head not in response.content or not head, (route, form)


def test_the_file_route_does_serve_uploads(base_url: str) -> None:
    """The control for the test above: the route works, for what the app itself received."""
    upload = httpx.post(
        f"{base_url}/gradio_api/upload",
        files={"files": ("note.txt", b"uploaded text", "text/plain")},
        timeout=10,
    )
    assert upload.status_code == 200, upload.text
    [path] = upload.json()
    response = httpx.get(f"{base_url}/gradio_api/file={path}", timeout=10)
    assert response.status_code == 200
    assert response.content == b"uploaded text"


def test_responses_carry_the_security_headers(base_url: str) -> None:
    response = httpx.get(f"{base_url}/", timeout=10)
    assert response.status_code == 200
    assert "img-src 'self' data: blob:" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_no_share_link_and_no_ssr(base_url: str) -> None:
    config = httpx.get(f"{base_url}/config", timeout=10).json()
    assert not config.get("share_url")
    assert not config.get("is_space")
    assert config.get("ssr_mode") in (None, False)


def test_config_shows_no_absolute_server_path(base_url: str, demo_assistant: Assistant) -> None:
    """The page's config names no folder of the server (index, corpus, working folder,
    home, temporary folders): they are written relative, from ~, or as their last parts."""
    config = httpx.get(f"{base_url}/config", timeout=10).text
    settings = demo_assistant.settings
    folders = {
        Path.cwd(),
        ROOT,
        Path.home(),
        settings.collection_dir,
        settings.index_dir,
        settings.corpus_dir,
        Path(tempfile.gettempdir()),
    }
    spelled = {str(f) for f in folders if f.is_absolute()} | {str(f.resolve()) for f in folders}
    for form in sorted(spelled - {"/"}):
        assert form not in config, form
        assert form.replace("/", "\\/") not in config, form  # as JSON may escape it
    assert "Index</dt>" in config  # the settings panel is there, its paths shortened


# ------------------------------------------------------------------ rendering


EVIL = (
    'Intro <img src="http://evil.example/pixel.png" onerror="alert(1)"> and '
    "![tracker](http://evil.example/t.png) <script>alert(2)</script> "
    "[click](javascript:alert(3)) ${window.x} {{constructor}} The cited sentence."
)


def _passage(text: str, url: str | None = "javascript:alert(4)") -> Passage:
    meta = DocumentMeta(
        doc_id="d1",
        source="corpus/d1.txt",
        content_hash="0",
        title='<b onclick="x()">Title</b>',
        author="A <i>Author</i>",
        outlet="Outlet",
        date="2025-01-01",
        url=url,
    )
    chunk = Chunk(chunk_id="d1#0", doc_id="d1", index=0, text=text, start=0, end=len(text))
    return Passage(chunk=chunk, meta=meta, score=1.0, rank=1)


def test_source_cards_escape_document_text_and_show_no_images() -> None:
    card = source_card(_passage(EVIL), 1, card_id="source-1", quotes=["The cited sentence."])
    assert "<img" not in card and "<script" not in card and "<b " not in card
    assert "&lt;img" in card  # shown as text
    assert 'href="javascript:' not in card and "<a " not in card  # no http(s) URL: no link
    assert "${" not in card and "{{" not in card  # nothing for gr.HTML templates to expand
    assert "<mark>The cited sentence.</mark>" in card


def test_answer_markdown_cannot_carry_markup_or_images() -> None:
    passage = _passage(EVIL, url="https://example.org/a")
    answer = Answer(
        question="q",
        standalone_question="q",
        text=EVIL + " [1]",
        citations=(Citation(n=1, passage=passage, quote="The cited sentence."),),
        passages=(passage,),
        refused=False,
        backend="extractive",
    )
    text = answer_markdown(answer)
    assert "<img" not in text and "<script" not in text
    assert "![" not in text and "](" not in text.replace('href="#source-1"', "")
    assert 'href="#source-1"' in text
    assert md_text("http://evil.example/x") == "http\\://evil.example/x"


def test_safe_url_only_allows_absolute_http() -> None:
    assert safe_url("https://example.org/x") == "https://example.org/x"
    assert safe_url(" HTTP://Example.org/x\n") == "HTTP://Example.org/x"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "/etc/passwd", ""):
        assert safe_url(bad) is None
    for bad in ("https://", "http:///path", "https://[::1", "ftp://example.org/x", None, 42):
        assert safe_url(bad) is None


# ------------------------------------------------------------------ exposure


def test_loopback_needs_no_password_anything_else_does() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_exposure(host, [])
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(ExposureError, match="--auth"):
            check_exposure(host, [])
        check_exposure(host, [("user", "secret")])


def test_parse_auth(tmp_path: Path) -> None:
    assert parse_auth("ann:pa:ss") == [("ann", "pa:ss")]
    creds = tmp_path / "users"
    creds.write_text("# who may sign in\nann:one\n\nbob:two\n", encoding="utf-8")
    assert parse_auth(None, creds) == [("ann", "one"), ("bob", "two")]
    for bad in ("nopassword", ":x", "user:"):
        with pytest.raises(ExposureError):
            parse_auth(bad)


def test_rag_serve_refuses_a_public_host_without_auth(monkeypatch: Any) -> None:
    started: list[Any] = []
    monkeypatch.setattr("ui.app.launch", lambda *a, **k: started.append((a, k)))
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "without a password" in (result.output + str(result.exception))
    assert not started

"""The route that opens a saved run's report.html (ui/reports.py), served by the real app
settings (`ui.app.launch_kwargs`) on a loopback port: a run's report opens, nothing else
does (`..`, encoded `%2e%2e` and `%2f`, absolute paths, symlinks out of the runs folder,
other files of a run), and with a password set it asks for the sign-in first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from helpers import free_port

from rag.assistant import Assistant
from rag.settings import Settings
from ui.app import launch_kwargs
from ui.reports import report_file, report_href

RUN = "20250101T120000"
SECRET = "secret-outside-the-runs-folder"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with one run, and files outside it that must stay unreachable."""
    tmp_path = tmp_path_factory.mktemp("reports")
    runs_dir = tmp_path / "runs"
    (runs_dir / RUN).mkdir(parents=True)
    (runs_dir / RUN / "report.html").write_text("<html><h1>the run report</h1></html>")
    (runs_dir / RUN / "summary.json").write_text('{"k": 5}')
    outside = tmp_path / "outside"
    (outside / "20250101T000000").mkdir(parents=True)
    (outside / "20250101T000000" / "report.html").write_text(SECRET)
    (outside / "report.html").write_text(SECRET)
    (runs_dir / "20250101T000000").symlink_to(outside / "20250101T000000")  # a run folder
    (runs_dir / "20250202T000000").mkdir()
    (runs_dir / "20250202T000000" / "report.html").symlink_to(outside / "report.html")
    return runs_dir


def serve(runs_dir: Path, auth: list[tuple[str, str]]) -> Iterator[str]:
    settings = Settings(index_dir=runs_dir.parent / "index", _env_file=None)  # type: ignore[call-arg]
    port = free_port()
    options: dict[str, Any] = launch_kwargs(
        Assistant(settings), port=port, auth=auth, runs_dir=runs_dir
    )
    options.pop("theme"), options.pop("css"), options.pop("js")
    with gr.Blocks() as demo:
        gr.Markdown("app")
    demo.launch(prevent_thread_lock=True, quiet=True, **options)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def app(runs: Path) -> Iterator[str]:
    yield from serve(runs, [])


@pytest.fixture
def private_app(runs: Path) -> Iterator[str]:
    yield from serve(runs, [("ann", "pw")])


def test_a_run_report_opens_as_a_page(app: str) -> None:
    response = httpx.get(f"{app}/{report_href(RUN)}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "the run report" in response.text
    assert "attachment" not in response.headers.get("content-disposition", "")


@pytest.mark.parametrize(
    "path",
    [
        "/runs/../outside/report.html",
        "/runs/%2e%2e/report.html",
        "/runs/%2E%2E/outside/report.html",
        "/runs/..%2foutside/report.html",
        "/runs/..%2Foutside%2F20250101T000000/report.html",
        "/runs/%2Fetc%2Fpasswd/report.html",
        "/runs//etc/passwd/report.html",
        f"/runs/{RUN}%2F..%2F..%2Foutside/report.html",
        f"/runs/{RUN}%0A/report.html",
        "/runs/20250101T000000/report.html",  # a run folder that links outside
        "/runs/20250202T000000/report.html",  # a report that links outside
        f"/runs/{RUN}/summary.json",  # another file of a run
        f"/runs/{RUN}/",
        "/runs/",
    ],
)
def test_nothing_else_is_reachable(app: str, path: str) -> None:
    # the path is sent as written: no client-side normalisation of `..`
    with httpx.Client() as client:
        request = client.build_request("GET", app)
        request.url = request.url.copy_with(raw_path=path.encode())
        response = client.send(request)
    assert SECRET not in response.text
    assert "summary" not in response.text and "the run report" not in response.text
    assert response.status_code in (404, 405), (path, response.status_code)


def test_only_a_run_name_inside_the_runs_folder_names_a_report(runs: Path) -> None:
    assert report_file(runs, RUN) == (runs / RUN / "report.html").resolve()
    for name in ("..", "", "/etc", f"{RUN}\n", f"../{RUN}", "20250101T000000", "20250202T000000"):
        assert report_file(runs, name) is None, name


def test_with_a_password_the_report_needs_the_sign_in(private_app: str) -> None:
    url = f"{private_app}/{report_href(RUN)}"
    assert httpx.get(url).status_code == 401
    with httpx.Client() as client:
        signed = client.post(f"{private_app}/login", data={"username": "ann", "password": "pw"})
        assert signed.status_code == 200, signed.text
        response = client.get(url)
    assert response.status_code == 200 and "the run report" in response.text

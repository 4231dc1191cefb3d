"""The route that opens a saved run's report.html from the Evaluate tab.

Gradio's own file route would serve the report as a download (HTML is not among the types
it shows inline) and under its absolute server path, so the app adds one route of its own:
`GET /runs/<run name>/report.html`. Only a run's name (`rag.evaluation.runs.RUN_NAME`) is
accepted, never a path, and the file must resolve inside the runs folder (a symlinked run
folder or report pointing elsewhere is refused); everything else is a 404 that says
nothing of the server's files. With a password set, the route asks for the same sign-in
as the app.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from rag.evaluation.runs import REPORT_FILE, RUN_NAME

log = logging.getLogger(__name__)

PATH = "/runs/{name}/" + REPORT_FILE


def report_href(name: str) -> str:
    """The link to a saved run's report, relative to the app's page (so it works behind a
    proxy that serves the app under a sub-path)."""
    return f"runs/{quote(name, safe='')}/{REPORT_FILE}"


def report_file(runs_dir: Path, name: str) -> Path | None:
    """The report of the run called `name`, if it is one and lies inside `runs_dir`."""
    if not RUN_NAME.fullmatch(name):
        return None
    root = runs_dir.resolve()
    target = (runs_dir / name / REPORT_FILE).resolve()
    if not target.is_relative_to(root) or target.parent.parent != root or not target.is_file():
        return None
    return target


def signed_in(request: Request) -> bool:
    """Whether the request may see the app: no password set, or Gradio's sign-in cookie
    (what Gradio's own routes check, read from the same app)."""
    app = request.app
    if getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None:
        return True
    if app.auth_dependency is not None:  # pragma: no cover - this app never sets one
        return False
    cookie = getattr(app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie}") or request.cookies.get(
        f"access-token-unsecure-{cookie}"
    )
    return token is not None and app.tokens.get(token) is not None


def report_route(runs_dir: Path) -> Route:
    """The route, bound to the runs folder the Evaluate tab saves into."""

    async def report(request: Request) -> Response:
        if not signed_in(request):
            return PlainTextResponse("Sign in to the app first.", status_code=401)
        name = str(request.path_params.get("name", ""))
        path = report_file(runs_dir, name)
        if path is None:
            log.info("no report for run %r", name[:80])
            return PlainTextResponse("No such run report.", status_code=404)
        return FileResponse(path, media_type="text/html; charset=utf-8")

    return Route(PATH, report, methods=["GET", "HEAD"], name="run_report")

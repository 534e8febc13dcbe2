"""The HTML pages: server-rendered shells (autoescaped) that fetch ``/api/`` and draw.

GET /                                   studies (live)
GET /studies/<name>                     one study: progress, trials, importances, curves
GET /studies/<name>/trials/<number>     one trial
GET /compare?study=a&study=b            several studies on one chart
GET /vendor/plotly.min.js               Plotly.js from the installed plotly package
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources

from flask import Blueprint, current_app, render_template
from werkzeug.wrappers import Response

from hpsearch.dashboard.api import check_number
from hpsearch.dashboard.compress import accepts_gzip
from hpsearch.dashboard.queries import DashboardReader, NotFound

pages = Blueprint("pages", __name__)


def _reader() -> DashboardReader:
    return current_app.extensions["hpsearch_reader"]


def _render(template: str, **context: object) -> str:
    return render_template(
        template,
        storage=current_app.config["HPSEARCH_STORAGE_DISPLAY"],
        poll_ms=current_app.config["HPSEARCH_POLL_MS"],
        **context,
    )


@pages.errorhandler(NotFound)
def _not_found(error: NotFound) -> tuple[str, int]:
    return _render("error.html", message=str(error)), 404


@pages.get("/")
def index() -> str:
    return _render("studies.html", page="studies")


@pages.get("/studies/<path:name>/trials/<int:number>")
def trial(name: str, number: int) -> str:
    study = _reader().study(name)
    _reader().trial(study.study_id, check_number(number))  # 404 for a trial that is not there
    return _render("trial.html", page="trial", study=name, number=number)


@pages.get("/studies/<path:name>")
def study(name: str) -> str:
    _reader().study(name)
    return _render("study.html", page="study", study=name)


@pages.get("/compare")
def compare() -> str:
    return _render("compare.html", page="compare")


@functools.cache
def _plotly(compressed: bool) -> bytes:
    """The installed plotly package's plotly.min.js, gzipped once per process if asked."""
    raw = (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return gzip.compress(raw, compresslevel=6, mtime=0) if compressed else raw


@pages.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    compressed = accepts_gzip()
    response = Response(_plotly(compressed), mimetype="text/javascript")
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response

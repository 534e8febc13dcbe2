"""The JSON API under ``/api/``: what the pages fetch. Read-only, GET only.

GET /api/info                                  storage (password masked), versions
GET /api/studies                               every study: spec fields, counts, best, activity
GET /api/studies/<name>                        one study: spec, budget, workers, progress, trials
GET /api/studies/<name>/importances            parameter importances (cached) or a message
GET /api/studies/<name>/curves?trials=1,2      learning curves of chosen trials (max 20)
GET /api/studies/<name>/trials/<number>        one trial: params, curves, diagnostics
GET /api/compare?study=a&study=b               several studies' progress and totals
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import optuna
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from hpsearch.dashboard.columns import Light, best_trial, origin_of, progress
from hpsearch.dashboard.compress import accepts_gzip
from hpsearch.dashboard.queries import DashboardReader, NotFound, StudyInfo
from hpsearch.dashboard.series import (
    curve,
    retrain_of,
    study_summary,
    totals,
    trial_detail,
)
from hpsearch.dashboard.study_page import StudyPages, partial_response
from hpsearch.dashboard.warmup import Warmup
from hpsearch.results.dates import iso_utc
from hpsearch.storage.explain import explain, is_storage_failure

MAX_CURVES = 20
MAX_COMPARE = 10
# Optuna stores trial numbers as SQL integers; larger ones cannot be in any study.
MAX_TRIAL_NUMBER = 2**63 - 1

api = Blueprint("api", __name__, url_prefix="/api")


def _reader() -> DashboardReader:
    return current_app.extensions["hpsearch_reader"]


def _json(payload: Any, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _summaries(reader: DashboardReader) -> list[dict[str, Any]]:
    """The studies list: each study counted by the database, none of its trials read."""
    return [{**reader.listed(s), "retrain": retrain_of(s.user_attrs)} for s in reader.studies()]


@api.errorhandler(NotFound)
def _not_found(error: NotFound) -> Response:
    return _json({"error": str(error)}, 404)


@api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> Response:
    return _json({"error": str(error)}, 400)


@api.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return _json({"error": error.description or error.name}, error.code or 500)


@api.errorhandler(Exception)
def _server_error(error: Exception) -> Response:
    """Any other failure as JSON, never an HTML page: 503 when the database cannot be read."""
    current_app.logger.exception("dashboard API error on %s", request.path)
    reason = explain(error)
    if is_storage_failure(error):
        storage = current_app.config["HPSEARCH_STORAGE_DISPLAY"]
        return _json({"error": f"the storage {storage} cannot be read: {reason}"}, 503)
    return _json({"error": f"internal error: {type(error).__name__}: {reason}"}, 500)


def check_number(number: int) -> int:
    """``number`` when it can be a trial number, else ``NotFound`` (not an overflow)."""
    if not 0 <= number <= MAX_TRIAL_NUMBER:
        raise NotFound(f"no trial number {number} in this study")
    return number


@api.get("/info")
def info() -> Response:
    return _json(
        {
            "storage": current_app.config["HPSEARCH_STORAGE_DISPLAY"],
            "optuna": optuna.__version__,
            "poll_ms": current_app.config["HPSEARCH_POLL_MS"],
        }
    )


@api.get("/studies")
def studies() -> Response:
    return _json({"studies": _summaries(_reader()), "now": iso_utc(_now())})


@api.get("/studies/<path:name>/importances")
def importances(name: str) -> Response:
    reader = _reader()
    study = reader.study(name)
    finished, _ = reader.tables(study.study_id)
    return _json(reader.importances(study, finished, optuna.importance.get_param_importances))


@api.get("/studies/<path:name>/curves")
def curves(name: str) -> Response:
    reader = _reader()
    study = reader.study(name)
    numbers = _numbers(request.args.get("trials", ""))
    return _json({"curves": [curve(reader.trial(study.study_id, n)) for n in numbers]})


@api.get("/studies/<path:name>/trials/<int:number>")
def trial(name: str, number: int) -> Response:
    reader = _reader()
    study = reader.study(name)
    detail = trial_detail(
        reader.trial(study.study_id, check_number(number)),
        study.user_attrs,
        study=name,
        storage=current_app.config["HPSEARCH_STORAGE_DISPLAY"],
    )
    return _json({"study": name, "direction": study.direction.name.lower(), **detail})


@api.get("/studies/<path:name>")
def study(name: str) -> Response:
    """The study page's data in one response (see ``study_page``): gzipped when accepted."""
    reader = _reader()
    info = reader.study(name)
    pages: StudyPages = current_app.extensions["hpsearch_study_pages"]
    zipped = accepts_gzip()
    partial = _partial(reader, pages, info)
    if partial is not None:
        return _json(partial)

    body = pages.response(info, *reader.tables(info.study_id), _now(), gzip=zipped)
    response = Response(body, mimetype="application/json")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def _partial(reader: DashboardReader, pages: StudyPages, info: StudyInfo) -> dict[str, Any] | None:
    """The summary-only answer (``"partial": true``) while a big study's first read runs in
    the background (``hpsearch.dashboard.warmup``); None when the full answer is due."""
    warmup: Warmup = current_app.extensions["hpsearch_warmup"]
    study_id = info.study_id
    if reader.has_read(study_id) or study_id in warmup.errors:
        return None  # read before (now incremental), or the background read failed: say why
    listed = None
    if not warmup.running(study_id):
        listed = reader.listed(info)
        if listed["n_trials"] < current_app.config["HPSEARCH_PARTIAL_ABOVE"]:
            return None

        def read() -> None:
            # Encode the finished trials too, so the next poll is a warm one.
            pages.response(info, *reader.tables(study_id), _now(), gzip=True)

        warmup.start(study_id, read)
    listed = listed or reader.listed(info)
    return partial_response(info, {**listed, "retrain": retrain_of(info.user_attrs)}, _now())


@api.get("/compare")
def compare() -> Response:
    names = list(dict.fromkeys(request.args.getlist("study")))[:MAX_COMPARE]
    reader = _reader()
    now, out, missing = _now(), [], []
    for name in names:
        try:
            info = reader.study(name)
        except NotFound:
            missing.append(name)  # the others are still compared
            continue
        facts = reader.facts(info.study_id)
        finished, live = reader.tables(info.study_id)
        best = best_trial(finished, info.maximize)
        epochs = Light.of(finished).epochs
        origin = origin_of(finished, live)
        out.append(
            {
                **study_summary(info, facts),
                **totals(facts, now),
                "best_value": None if best is None else best["value"],
                "best_number": None if best is None else best["number"],
                "progress": progress(finished, epochs, origin, info.maximize),
            }
        )
    return _json({"studies": out, "missing": missing, "now": iso_utc(now)})


def _numbers(text: str) -> list[int]:
    """``"3,1,3"`` -> ``[3, 1]``: trial numbers, unique, at most ``MAX_CURVES``."""
    problem = f"trials must be comma-separated trial numbers (0 to {MAX_TRIAL_NUMBER}), got"
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{problem} {text[:100]!r}") from None
    if any(not 0 <= n <= MAX_TRIAL_NUMBER for n in numbers):
        raise ValueError(f"{problem} {text[:100]!r}")
    return list(dict.fromkeys(numbers))[:MAX_CURVES]

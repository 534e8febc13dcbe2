"""The JSON API under ``/api/``: what the pages fetch. Read-only, GET only.

GET /api/info                                  storage (password masked), versions
GET /api/studies                               every study: spec fields, counts, best, activity
GET /api/studies/<name>                        one study: spec, totals, best, progress, trials
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

from hpsearch.dashboard.queries import DashboardReader, NotFound
from hpsearch.dashboard.series import (
    best_row,
    curve,
    progress,
    study_summary,
    totals,
    trial_detail,
    trial_rows,
)
from hpsearch.results.dates import iso_utc
from hpsearch.study.lifecycle import SPEC_ATTR

MAX_CURVES = 20
MAX_COMPARE = 10

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
    return [
        study_summary(s, reader.facts(s.study_id, reader.trials(s.study_id)))
        for s in reader.studies()
    ]


@api.errorhandler(NotFound)
def _not_found(error: NotFound) -> Response:
    return _json({"error": str(error)}, 404)


@api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> Response:
    return _json({"error": str(error)}, 400)


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
    rows = reader.trials(study.study_id)
    return _json(reader.importances(study, rows, optuna.importance.get_param_importances))


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
    detail = trial_detail(reader.trial(study.study_id, number), study.user_attrs)
    return _json({"study": name, "direction": study.direction.name.lower(), **detail})


@api.get("/studies/<path:name>")
def study(name: str) -> Response:
    reader = _reader()
    info = reader.study(name)
    rows = reader.trials(info.study_id)
    facts = reader.facts(info.study_id, rows)
    now = _now()
    summary = study_summary(info, facts)
    param_names = sorted({p for r in rows for p in r.params})
    return _json(
        {
            **{k: summary[k] for k in ("name", "direction", "dataset", "sampler", "pruner")},
            "metric": summary["metric"],
            "spec": info.user_attrs.get(SPEC_ATTR),
            "retrain": summary["retrain"],
            **totals(facts, now),
            "best": best_row(rows, info.maximize),
            "progress": progress(facts, info.maximize),
            "param_names": param_names,
            "running": [r.number for r in rows if r.state.name == "RUNNING"],
            "trials": trial_rows(rows, facts, now),
            "now": iso_utc(now),
        }
    )


@api.get("/compare")
def compare() -> Response:
    names = list(dict.fromkeys(request.args.getlist("study")))[:MAX_COMPARE]
    reader = _reader()
    now, out = _now(), []
    for name in names:
        info = reader.study(name)
        rows = reader.trials(info.study_id)
        facts = reader.facts(info.study_id, rows)
        best = best_row(rows, info.maximize)
        out.append(
            {
                **study_summary(info, facts),
                **totals(facts, now),
                "best_value": None if best is None else best["value"],
                "best_number": None if best is None else best["number"],
                "progress": progress(facts, info.maximize),
            }
        )
    return _json({"studies": out, "now": iso_utc(now)})


def _numbers(text: str) -> list[int]:
    """``"3,1,3"`` -> ``[3, 1]``: trial numbers, unique, at most ``MAX_CURVES``."""
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"trials must be comma-separated trial numbers, got {text!r}") from None
    return list(dict.fromkeys(numbers))[:MAX_CURVES]

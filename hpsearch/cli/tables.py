"""Tables of studies and trials (formatting only: the data come from hpsearch.results).

Each ``*_records`` function gives the plain data that ``--format json|csv`` prints, and
the matching ``*_table`` lays the same records out for a terminal ``width`` columns wide
(``hpsearch.cli.layout``: whole values, abbreviated headers, least useful columns dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from rich.table import Table

from hpsearch.cli.layout import Col, fit_table
from hpsearch.results.summary import best_trials, summarize_study, trial_row
from hpsearch.spec.study_spec import StudySpec

#: Abbreviations of hyperparameter names for narrow terminals.
PARAM_SHORT = {
    "hidden_layers": "layers",
    "hidden_width": "width",
    "regularizer": "reg",
    "activation": "act",
    "batch_size": "batch",
    "optimizer": "opt",
    "momentum": "mom",
    "dropout": "drop",
    "input_noise": "noise",
}
#: ``trials --sort`` keys; value sorts best first, the others ascending.
TRIAL_SORTS = ("number", "value", "epochs", "seconds", "state")
#: ``status --sort`` keys.
STATUS_SORTS = ("name", "best", "activity")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def params_text(params: Mapping[str, Any]) -> str:
    """``eta=0.03, hidden_layers=2, ...``: a params dict on one line."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


# --- status ----------------------------------------------------------------------------


def status_records(
    studies: list[tuple[optuna.Study, StudySpec]], *, sort: str = "name"
) -> list[dict[str, Any]]:
    """``summarize_study`` of each study, plus ``failed``: every FAIL trial, the re-queued
    ones too (``counts`` leaves those out: their retry counts instead)."""
    records = []
    for study, spec in studies:
        record = summarize_study(study, spec)
        record["failed"] = record["counts"].get("FAIL", 0) + record["requeued"]
        records.append(record)
    if sort == "best":

        def best_first(r: dict[str, Any]) -> tuple[bool, float]:
            sign = -1 if r["direction"] == "maximize" else 1
            return r["best_value"] is None, sign * (r["best_value"] or 0)

        records.sort(key=best_first)
    elif sort == "activity":
        records.sort(key=lambda r: r["last_activity"] or "", reverse=True)
    else:
        records.sort(key=lambda r: r["name"])
    return records


def status_table(records: list[dict[str, Any]], width: int) -> Table:
    columns = [
        Col("study", priority=100),
        Col("dataset", "data", priority=55),
        Col("sampler", priority=60),
        Col("pruner", priority=40),
        Col("done", priority=90, justify="right"),
        Col("complete", "ok", priority=80, justify="right"),
        Col("pruned", "prun", priority=75, justify="right"),
        Col("failed", "fail", priority=85, justify="right"),
        Col("running", "run", priority=70, justify="right"),
        Col("waiting", "wait", priority=30, justify="right"),
        Col("best", priority=95, justify="right"),
        Col("last activity", "last", priority=20),
    ]
    rows = []
    for s in records:
        by_state = s["counts"]
        finished = sum(n for state, n in by_state.items() if state not in ("RUNNING", "WAITING"))
        done = f"{finished}/{s['budget']}" if s["budget"] else str(finished)
        rows.append(
            [
                s["name"],
                s["dataset"],
                s["sampler"],
                s["pruner"],
                done,
                str(by_state.get("COMPLETE", 0)),
                str(by_state.get("PRUNED", 0)),
                str(s["failed"]),
                str(by_state.get("RUNNING", 0)),
                str(by_state.get("WAITING", 0)),
                _fmt(s["best_value"]),
                _fmt(s["last_activity"]),
            ]
        )
    return fit_table(
        columns,
        rows,
        width,
        title="studies",
        caption="done: finished trials / budget; failed counts retried trials too",
    )


# --- trials ----------------------------------------------------------------------------


def trial_records(
    study: optuna.Study, *, states: set[str], sort: str = "number", limit: int | None = None
) -> list[dict[str, Any]]:
    """``trial_row`` of each trial in ``states`` (all when empty), sorted, the first ``limit``."""
    trials = study.get_trials(deepcopy=False)
    rows = [trial_row(t) for t in trials if not states or t.state.name in states]
    if sort == "value":
        sign = -1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1
        rows.sort(key=lambda r: (r["value"] is None, sign * (r["value"] or 0), r["number"]))
    elif sort in ("epochs", "seconds"):
        rows.sort(key=lambda r: (r[sort] is None, r[sort] or 0, r["number"]))
    elif sort == "state":
        rows.sort(key=lambda r: (r["state"], r["number"]))
    return rows[:limit] if limit is not None else rows


def trials_table(
    records: list[dict[str, Any]], spec: StudySpec, width: int, *, title: str
) -> Table:
    params = list(spec.searched)
    columns = [
        Col("#", priority=100, justify="right"),
        Col("state", priority=90),
        Col("value", priority=95, justify="right"),
        Col("epochs", "ep", priority=70, justify="right"),
        Col("seconds", "s", priority=65, justify="right"),
        Col("stop", priority=20, wrap=True),
        # Params in spec order; the later ones go first when space runs out.
        *(
            Col(p, PARAM_SHORT.get(p), priority=60 - i, justify="right")
            for i, p in enumerate(params)
        ),
    ]
    rows = [
        [
            str(r["number"]),
            r["state"],
            _fmt(r["value"]),
            _fmt(r["epochs"]),
            _fmt(r["seconds"]),
            _fmt(r["stop_reason"]),
            *(_fmt(r["params"].get(p)) for p in params),
        ]
        for r in records
    ]
    return fit_table(columns, rows, width, title=title)


# --- best ------------------------------------------------------------------------------


def best_records(study: optuna.Study, limit: int = 5) -> list[dict[str, Any]]:
    """``trial_row`` of the ``limit`` best complete trials, best first."""
    return [trial_row(t) for t in best_trials(study, limit)]


def best_table(records: list[dict[str, Any]], width: int, *, title: str) -> Table:
    columns = [
        Col("#", priority=100, justify="right"),
        Col("value", priority=95, justify="right"),
        Col("epochs", "ep", priority=70, justify="right"),
        Col("seconds", "s", priority=65, justify="right"),
        Col("params", priority=90, wrap=True),
    ]
    rows = [
        [
            str(r["number"]),
            _fmt(r["value"]),
            _fmt(r["epochs"]),
            _fmt(r["seconds"]),
            params_text(r["params"]),
        ]
        for r in records
    ]
    if records:
        caption = "best params: " + params_text(records[0]["params"])
    else:
        caption = "no complete trials yet"
    return fit_table(columns, rows, width, title=title, caption=caption)


# --- compare ---------------------------------------------------------------------------


def compare_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``compare_studies`` rows without their curves (the plot's data; `export` has them)."""
    return [{k: v for k, v in row.items() if k != "curves"} for row in rows]


def compare_table(rows: list[dict[str, Any]], width: int) -> Table:
    """One line per study, one "epochs to reach" column per study."""
    metric = rows[0]["metric"].replace("_", " ") if rows else "value"
    columns = [
        Col("study", priority=100),
        Col("sampler", priority=80),
        Col("best", priority=95, justify="right"),
        Col("trials", priority=75, justify="right"),
        Col("total epochs", "epochs", priority=70, justify="right"),
        Col("wall time", "wall", priority=60, justify="right"),
        *(
            Col(f"epochs to reach {row['name']}", f"to {row['name']}", priority=50, justify="right")
            for row in rows
        ),
    ]
    table_rows = []
    for row in rows:
        wall = row["wall_seconds"]
        table_rows.append(
            [
                row["name"],
                row["sampler"],
                _fmt(row["best_value"]),
                str(row["trials"]),
                str(row["total_epochs"]),
                "-" if wall is None else f"{wall:.1f} s",
                *(_fmt(row["epochs_to_reach"][other["name"]]) for other in rows),
            ]
        )
    caption = (
        "epochs to reach X: cumulative epochs, in trial completion order, until the "
        "best so far first matched X's best ('-': never)"
    )
    return fit_table(
        columns, table_rows, width, title=f"study comparison ({metric})", caption=caption
    )


# --- predict ---------------------------------------------------------------------------


def per_class_table(rows: list[dict[str, Any]], title: str, width: int) -> Table:
    """``Prediction.per_class()`` rows: count, correct, accuracy, most frequent confusion."""
    columns = [
        Col("class", priority=100),
        Col("count", priority=60, justify="right"),
        Col("correct", priority=50, justify="right"),
        Col("accuracy", "acc", priority=90, justify="right"),
        Col("most confused with", "confused with", priority=40, wrap=True),
    ]
    table_rows = [
        [
            r["class"],
            str(r["count"]),
            str(r["correct"]),
            _fmt(r["accuracy"]),
            f"{r['most_confused_with']} ({r['confused_count']})"
            if r["most_confused_with"] is not None
            else "-",
        ]
        for r in rows
    ]
    return fit_table(columns, table_rows, width, title=title)

"""Rich tables of studies and trials (formatting only: the data come from hpsearch.results.summary)."""

from __future__ import annotations

from typing import Any

import optuna
from rich.table import Table

from hpsearch.results.summary import best_trials, summarize_study, trial_row
from hpsearch.spec.study_spec import StudySpec


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def status_table(studies: list[tuple[optuna.Study, StudySpec]]) -> Table:
    table = Table(title="studies")
    for column in (
        "study",
        "dataset",
        "sampler",
        "pruner",
        "trials by state",
        "best",
        "last activity",
    ):
        table.add_column(column)
    for study, spec in studies:
        s = summarize_study(study, spec)
        counts = sorted((k, v) for k, v in s["counts"].items() if v)
        states = ", ".join(f"{k.lower()} {v}" for k, v in counts) or "-"
        budget = f" / {s['budget']}" if s["budget"] else ""
        table.add_row(
            s["name"],
            s["dataset"],
            s["sampler"],
            s["pruner"],
            states + budget,
            _fmt(s["best_value"]),
            _fmt(s["last_activity"]),
        )
    return table


def trials_table(study: optuna.Study, spec: StudySpec, *, states: set[str], sort: str) -> Table:
    trials = study.get_trials(deepcopy=False)
    rows = [trial_row(t) for t in trials if not states or t.state.name in states]
    if sort == "value":
        reverse = study.direction == optuna.study.StudyDirection.MAXIMIZE
        rows.sort(
            key=lambda r: (
                r["value"] is None,
                -r["value"] if reverse and r["value"] is not None else r["value"] or 0,
            )
        )
    params = list(spec.searched)
    table = Table(title=f"trials of {study.study_name}")
    for column in ("#", "state", "value", "epochs", "seconds", "stop", *params):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["number"]),
            r["state"],
            _fmt(r["value"]),
            _fmt(r["epochs"]),
            _fmt(r["seconds"]),
            _fmt(r["stop_reason"]),
            *(_fmt(r["params"].get(p)) for p in params),
        )
    return table


def best_table(study: optuna.Study, n: int = 5) -> Table:
    best = best_trials(study, n)
    table = Table(title=f"best trials of {study.study_name}")
    for column in ("#", "value", "epochs", "seconds", "params"):
        table.add_column(column, overflow="fold")
    for t in best:
        row = trial_row(t)
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in row["params"].items())
        table.add_row(
            str(t.number), _fmt(t.value), _fmt(row["epochs"]), _fmt(row["seconds"]), params
        )
    if not best:
        table.caption = "no complete trials yet"
    else:
        table.caption = "best params: " + ", ".join(
            f"{k}={_fmt(v)}" for k, v in best[0].params.items()
        )
    return table


def compare_table(rows: list[dict[str, Any]]) -> Table:
    """``compare_studies`` rows: one line per study, one "epochs to reach" column per study."""
    metric = rows[0]["metric"].replace("_", " ") if rows else "value"
    table = Table(title=f"study comparison ({metric})")
    for column in ("study", "sampler", "best", "trials", "total epochs", "wall time"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_column(f"epochs to reach {row['name']}", justify="right")
    for row in rows:
        wall = row["wall_seconds"]
        reach = [row["epochs_to_reach"][other["name"]] for other in rows]
        table.add_row(
            row["name"],
            row["sampler"],
            _fmt(row["best_value"]),
            str(row["trials"]),
            str(row["total_epochs"]),
            "-" if wall is None else f"{wall:.1f} s",
            *(_fmt(r) for r in reach),
        )
    table.caption = (
        "epochs to reach X: cumulative epochs, in trial completion order, until the "
        "best so far first matched X's best ('-': never)"
    )
    return table


def per_class_table(rows: list[dict[str, Any]], title: str) -> Table:
    """``Prediction.per_class()`` rows: count, correct, accuracy, most frequent confusion."""
    table = Table(title=title)
    for column in ("class", "count", "correct", "accuracy", "most confused with"):
        table.add_column(column, overflow="fold")
    for r in rows:
        confused = (
            f"{r['most_confused_with']} ({r['confused_count']})"
            if r["most_confused_with"] is not None
            else "-"
        )
        table.add_row(r["class"], str(r["count"]), str(r["correct"]), _fmt(r["accuracy"]), confused)
    return table

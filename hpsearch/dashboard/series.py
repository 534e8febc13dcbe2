"""Turn storage rows into the JSON the pages draw: table rows, progress series, curves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpsearch.dashboard.queries import StudyInfo, TrialRow
from hpsearch.results.dates import iso_utc
from hpsearch.results.summary import TrialFacts, state_counts
from hpsearch.results.summary import study_summary as summary_of
from hpsearch.study.lifecycle import SPEC_ATTR
from hpsearch.tuning.record import other_attrs, read_record

CURVE_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "validation_loss",
    "validation_accuracy",
    "seconds",
    "eta",
    "gradient_norms",
)


def study_summary(info: StudyInfo, facts: list[TrialFacts]) -> dict[str, Any]:
    """A row of the studies list: ``results.summary.study_summary`` (the numbers
    ``hpsearch status`` shows) and the study's retrain result."""
    spec = info.user_attrs.get(SPEC_ATTR)
    summary = summary_of(info.name, info.direction.name.lower(), spec, facts)
    return {**summary, "retrain": _retrain(info.user_attrs)}


def _retrain(user_attrs: dict[str, Any]) -> dict[str, Any] | None:
    retrain = user_attrs.get("retrain")
    return retrain if isinstance(retrain, dict) else None


def trial_seconds(trial: TrialFacts, now: dt.datetime) -> float | None:
    """Training seconds as recorded, else the wall time since the trial started."""
    recorded = trial.record.seconds
    if recorded is not None:
        return recorded
    if trial.start is None:
        return None
    return ((trial.complete or now) - trial.start).total_seconds()


def _worker(trial: TrialFacts) -> str:
    worker = trial.record.worker
    return "" if worker is None else worker.label


def trial_rows(
    rows: list[TrialRow], facts: list[TrialFacts], now: dt.datetime
) -> list[dict[str, Any]]:
    """The trials table: no curves, one small dict per trial (``facts``: the rows')."""
    return [
        {
            "number": r.number,
            "state": r.state.name,
            "value": r.value,
            "params": r.params,
            "epochs": f.epochs,
            "seconds": trial_seconds(f, now),
            "worker": _worker(f),
            "stop_reason": f.record.stop_reason,
            "start": iso_utc(r.start),
            "complete": iso_utc(r.complete),
        }
        for r, f in zip(rows, facts, strict=True)
    ]


def progress(rows: list[TrialFacts], maximize: bool) -> dict[str, list[Any]]:
    """Per complete trial, in order of completion: its value, the best so far, the wall
    seconds since the study's first start and the epochs spent by then (all finished
    trials' epochs count, pruned and failed included: they cost compute too)."""
    finished = sorted(
        (r for r in rows if r.state.is_finished() and r.complete is not None),
        key=lambda r: (r.complete, r.number),
    )
    starts = [r.start for r in rows if r.start is not None]
    out: dict[str, list[Any]] = {k: [] for k in ("number", "value", "best", "seconds", "epochs")}
    if not starts:
        return out
    origin, epochs, best = min(starts), 0, None
    for r in finished:
        epochs += r.epochs
        if r.state != TrialState.COMPLETE or r.value is None:
            continue
        if best is None or (r.value > best if maximize else r.value < best):
            best = r.value
        out["number"].append(r.number)
        out["value"].append(r.value)
        out["best"].append(best)
        out["seconds"].append((r.complete - origin).total_seconds())  # type: ignore[operator]
        out["epochs"].append(epochs)
    return out


def totals(rows: list[TrialFacts], now: dt.datetime) -> dict[str, Any]:
    """Trials by state (as ``hpsearch status`` counts them), epochs spent and wall time
    from first start to last activity."""
    starts = [r.start for r in rows if r.start is not None]
    ends = [r.complete or now for r in rows if r.start is not None]
    counts = state_counts(rows)
    return {
        "counts": counts,
        "n_trials": sum(counts.values()),
        "total_epochs": sum(r.epochs for r in rows),
        "wall_seconds": (max(ends) - min(starts)).total_seconds() if starts else 0.0,
    }


def best_row(rows: list[TrialRow], maximize: bool) -> dict[str, Any] | None:
    complete = [r for r in rows if r.state == TrialState.COMPLETE and r.value is not None]
    if not complete:
        return None
    best = (max if maximize else min)(complete, key=lambda r: r.value)  # type: ignore[arg-type,return-value]
    return {"number": best.number, "value": best.value, "params": best.params}


def curve(trial: FrozenTrial) -> dict[str, Any]:
    """Learning curves of one trial (``history``, else ``live_history``, else the reported
    validation accuracies) and the points to mark: best epoch, early stop, prune, divergence."""
    record = read_record(trial)
    history = record.curves
    if history is not None:
        columns = {c: [r.get(c) for r in record.curve_records] for c in CURVE_COLUMNS}
    else:
        steps = sorted(trial.intermediate_values)
        columns = {c: [] for c in CURVE_COLUMNS}
        columns["epoch"] = steps
        columns["validation_accuracy"] = [trial.intermediate_values[s] for s in steps]
    stop_reason = record.curve_stop_reason
    if trial.state == TrialState.PRUNED:
        stop_reason = "pruned"
    marks = []
    if record.best_epoch is not None:
        marks.append(
            {
                "kind": "best",
                "epoch": record.best_epoch,
                "value": record.best_validation_accuracy,
            }
        )
    if columns["epoch"] and trial.state.is_finished():
        last = {
            "pruned": "pruned",
            "early_stop": "early_stop",
            "diverged": "diverged",
            "schedule_end": "schedule_end",
        }.get(str(stop_reason))
        if last is not None:
            marks.append(
                {
                    "kind": last,
                    "epoch": columns["epoch"][-1],
                    "value": columns["validation_accuracy"][-1],
                }
            )
    return {
        "number": trial.number,
        "state": trial.state.name,
        "live": trial.state == TrialState.RUNNING,
        "stop_reason": stop_reason,
        "best_epoch": record.best_epoch,
        "columns": columns,
        "marks": marks,
    }


def trial_detail(trial: FrozenTrial, study_attrs: dict[str, Any]) -> dict[str, Any]:
    """Everything the trial page shows; the study's retrain result when this trial's
    params are the ones retrained."""
    record = read_record(trial)
    retrain = _retrain(study_attrs)
    if retrain is not None and retrain.get("params") != trial.params:
        retrain = None
    worker = record.worker
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value if trial.values else None,
        "params": trial.params,
        "distributions": {k: repr(v) for k, v in trial.distributions.items()},
        "start": iso_utc(trial.datetime_start),
        "complete": iso_utc(trial.datetime_complete),
        "stop_reason": record.stop_reason,
        "epochs_run": TrialFacts.of(trial).epochs,
        "seconds": record.seconds,
        "worker": None if worker is None else {"host": worker.host, "pid": worker.pid},
        "command": record.command,
        "fail_reason": record.fail_reason,
        "data_provenance": record.data_provenance,
        "other_attrs": other_attrs(trial.user_attrs),
        "curve": curve(trial),
        "retrain": retrain,
    }

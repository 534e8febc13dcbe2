"""Turn storage rows into the JSON the pages draw: table rows, progress series, curves."""

from __future__ import annotations

import datetime as dt
import shlex
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from hpsearch.dashboard.queries import StudyInfo, TrialRow, count_states
from hpsearch.results.export import json_safe
from hpsearch.study.lifecycle import BUDGET_SINCE

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


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC; naive datetimes (as on ``FrozenTrial``) are local time."""
    return None if moment is None else moment.astimezone(dt.UTC).isoformat()


def spec_fields(user_attrs: dict[str, Any]) -> dict[str, Any]:
    """Dataset, sampler and pruner from the stored spec; None where a study has no spec."""
    spec = user_attrs.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    study, data = spec.get("study") or {}, spec.get("data") or {}
    return {
        "dataset": data.get("dataset"),
        "sampler": study.get("sampler"),
        "pruner": study.get("pruner"),
        "metric": study.get("metric"),
    }


def study_summary(info: StudyInfo) -> dict[str, Any]:
    """A row of the studies list."""
    return {
        "name": info.name,
        "direction": info.direction.name.lower(),
        **spec_fields(info.user_attrs),
        "counts": {state.name: info.counts.get(state.name, 0) for state in TrialState},
        "n_trials": sum(info.counts.values()),
        "best_value": info.best_value,
        "first_start": iso(info.first_start),
        "last_activity": iso(info.last_activity),
        "retrain": _retrain(info.user_attrs),
    }


def _retrain(user_attrs: dict[str, Any]) -> dict[str, Any] | None:
    retrain = user_attrs.get("retrain")
    return retrain if isinstance(retrain, dict) else None


def trial_seconds(row: TrialRow, now: dt.datetime) -> float | None:
    """Training seconds as recorded, else the wall time since the trial started."""
    recorded = row.attrs.get("seconds")
    if isinstance(recorded, int | float):
        return float(recorded)
    if row.start is None:
        return None
    return ((row.complete or now) - row.start).total_seconds()


def _worker(row: TrialRow) -> str:
    worker = row.attrs.get("worker")
    if isinstance(worker, dict):
        return f"{worker.get('host', '?')}:{worker.get('pid', '?')}"
    return "" if worker is None else str(worker)


def trial_rows(rows: list[TrialRow], now: dt.datetime) -> list[dict[str, Any]]:
    """The trials table: no curves, one small dict per trial."""
    return [
        {
            "number": r.number,
            "state": r.state.name,
            "value": r.value,
            "params": r.params,
            "epochs": r.epochs,
            "seconds": trial_seconds(r, now),
            "worker": _worker(r),
            "stop_reason": r.attrs.get("stop_reason"),
            "start": iso(r.start),
            "complete": iso(r.complete),
        }
        for r in rows
    ]


def progress(rows: list[TrialRow], maximize: bool) -> dict[str, list[Any]]:
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


def totals(rows: list[TrialRow], now: dt.datetime) -> dict[str, Any]:
    """Trials by state, epochs spent and wall time from first start to last activity."""
    starts = [r.start for r in rows if r.start is not None]
    ends = [r.complete or now for r in rows if r.start is not None]
    return {
        "counts": count_states(rows),
        "n_trials": len(rows),
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
    attrs = trial.user_attrs
    history = attrs.get("history") or attrs.get("live_history")
    history = history if isinstance(history, dict) else None
    if history is not None:
        records = [r for r in history.get("records", []) if isinstance(r, dict)]
        columns = {c: [r.get(c) for r in records] for c in CURVE_COLUMNS}
    else:
        steps = sorted(trial.intermediate_values)
        columns = {c: [] for c in CURVE_COLUMNS}
        columns["epoch"] = steps
        columns["validation_accuracy"] = [trial.intermediate_values[s] for s in steps]
    stop_reason = attrs.get("stop_reason") or (history or {}).get("stop_reason")
    if trial.state == TrialState.PRUNED:
        stop_reason = "pruned"
    marks = []
    if history is not None and history.get("best_epoch") is not None:
        marks.append(
            {
                "kind": "best",
                "epoch": history["best_epoch"],
                "value": history.get("best_validation_accuracy"),
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
        "best_epoch": (history or {}).get("best_epoch"),
        "columns": columns,
        "marks": marks,
    }


KNOWN_TRIAL_ATTRS = {
    "history",
    "live_history",
    "stop_reason",
    "epochs_run",
    "seconds",
    "worker",
    "data_provenance",
    "command",
    "fail_reason",
}


def reproduce_command(command: Any, study: str, number: int, storage: str) -> str:
    """The stored command (``hpsearch retrain STUDY --trial N``) with ``--storage``, so it
    runs from any directory; the password in ``storage`` is shown masked."""
    text = command if isinstance(command, str) and command.strip() else None
    text = text or f"hpsearch retrain {shlex.quote(study)} --trial {number}"
    if "--storage" not in text.split():
        text += f" --storage {shlex.quote(storage)}"
    return text


def retrained_trial(retrain: dict[str, Any] | None) -> int | None:
    """The trial number a stored ``retrain`` result was trained from (``RetrainResult.trial``)."""
    number = None if retrain is None else retrain.get("trial")
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def trial_detail(
    trial: FrozenTrial, study_attrs: dict[str, Any], *, study: str, storage: str
) -> dict[str, Any]:
    """Everything the trial page shows; the study's retrain result when it was trained
    from this trial (a retrain stores every resolved param, so params never compare)."""
    attrs = trial.user_attrs
    retrain = _retrain(study_attrs)
    if retrained_trial(retrain) != trial.number:
        retrain = None
    worker = attrs.get("worker")
    complete = trial.state == TrialState.COMPLETE
    return {
        "number": trial.number,
        "state": trial.state.name,
        # Only a complete trial has a value; a pruned one's is just its last report.
        "value": trial.value if complete and trial.values else None,
        "values": trial.values if complete and trial.values else None,
        "params": trial.params,
        "distributions": {k: repr(v) for k, v in trial.distributions.items()},
        "start": iso(trial.datetime_start),
        "complete": iso(trial.datetime_complete),
        "stop_reason": attrs.get("stop_reason"),
        "epochs_run": attrs.get("epochs_run", len(trial.intermediate_values)),
        "seconds": attrs.get("seconds"),
        "worker": worker if isinstance(worker, dict) else None,
        "command": reproduce_command(attrs.get("command"), study, trial.number, storage),
        "fail_reason": attrs.get("fail_reason"),
        "data_provenance": attrs.get("data_provenance"),
        "other_attrs": {k: v for k, v in attrs.items() if k not in KNOWN_TRIAL_ATTRS},
        "curve": curve(trial),
        "retrain": retrain,
    }


# -- the study page's columns, search space and budget -------------------------------------


def distribution_json(dist: BaseDistribution) -> dict[str, Any]:
    """A distribution as the pages draw its axis: type, range, log scale, step or choices."""
    if isinstance(dist, CategoricalDistribution):
        return {"type": "categorical", "choices": [json_safe(c) for c in dist.choices]}
    if isinstance(dist, IntDistribution):
        return {
            "type": "int",
            "low": dist.low,
            "high": dist.high,
            "log": dist.log,
            "step": dist.step,
        }
    if isinstance(dist, FloatDistribution):
        return {
            "type": "float",
            "low": dist.low,
            "high": dist.high,
            "log": dist.log,
            "step": dist.step,
        }
    return {"type": type(dist).__name__}


def study_distributions(rows: list[TrialRow]) -> dict[str, dict[str, Any]]:
    """Each parameter's distribution, as the latest trial that sampled it stored it."""
    latest: dict[str, BaseDistribution] = {}
    for row in rows:  # ordered by number: later trials win
        latest.update(row.distributions)
    return {name: distribution_json(latest[name]) for name in sorted(latest)}


def _offset(moment: dt.datetime | None, origin: dt.datetime | None) -> float | None:
    if moment is None or origin is None:
        return None
    return round((moment - origin).total_seconds(), 3)


def trial_columns(
    rows: list[TrialRow], param_names: list[str], origin: dt.datetime | None, now: dt.datetime
) -> dict[str, Any]:
    """The trials table as columns (one list per field, ``params`` one per parameter):
    a 100,000-trial study is then ~3x smaller than as one dict per trial, and ~3x faster
    to encode. ``start`` and ``complete`` are seconds after ``origin``."""
    return {
        "number": [r.number for r in rows],
        "state": [r.state.name for r in rows],
        "value": [r.value for r in rows],
        "epochs": [r.epochs for r in rows],
        "seconds": [trial_seconds(r, now) for r in rows],
        "worker": [_worker(r) for r in rows],
        "stop_reason": [r.attrs.get("stop_reason") for r in rows],
        "start": [_offset(r.start, origin) for r in rows],
        "complete": [_offset(r.complete, origin) for r in rows],
        "params": {p: [r.params.get(p) for r in rows] for p in param_names},
    }


def budget(
    user_attrs: dict[str, Any],
    counts: dict[str, int],
    first_start: dt.datetime | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """Budget progress from the stored spec: finished trials (complete + pruned) of
    ``n_trials``, and the time left of ``timeout`` (counted from the first trial)."""
    spec = user_attrs.get("spec")
    study = (spec.get("study") if isinstance(spec, dict) else None) or {}
    n_trials, timeout = study.get("n_trials"), study.get("timeout")
    since = user_attrs.get(BUDGET_SINCE)
    if isinstance(since, int | float) and since > 0:
        first_start = dt.datetime.fromtimestamp(float(since), dt.UTC)
    elapsed = None if first_start is None else (now - first_start).total_seconds()
    time_left = None
    if isinstance(timeout, int | float) and timeout > 0:
        time_left = float(timeout) if elapsed is None else max(0.0, float(timeout) - elapsed)
    return {
        "n_trials": n_trials if isinstance(n_trials, int) else None,
        "done": counts.get("COMPLETE", 0) + counts.get("PRUNED", 0),
        "timeout": timeout,
        "elapsed_seconds": elapsed,
        "time_left_seconds": time_left,
    }


def active_workers(rows: list[TrialRow], now: dt.datetime) -> list[dict[str, Any]]:
    """Workers with a running trial: which trials, and since when (seconds)."""
    workers: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.state != TrialState.RUNNING:
            continue
        entry = workers.setdefault(_worker(row) or "?", {"trials": [], "running_seconds": 0.0})
        entry["trials"].append(row.number)
        if row.start is not None:
            seconds = (now - row.start).total_seconds()
            entry["running_seconds"] = max(entry["running_seconds"], seconds)
    return [{"worker": name, **entry} for name, entry in sorted(workers.items())]

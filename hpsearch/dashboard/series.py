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

from hpsearch.dashboard.queries import UNFINISHED, StudyInfo, TrialRow
from hpsearch.results.dates import iso_utc
from hpsearch.results.export import json_safe
from hpsearch.results.summary import TrialFacts, state_counts
from hpsearch.results.summary import study_summary as summary_of
from hpsearch.study.lifecycle import BUDGET_SINCE, SPEC_ATTR
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
    return {**summary, "retrain": retrain_of(info.user_attrs)}


def retrain_of(user_attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The study's stored retrain result, if any."""
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
        (r for r in rows if r.state not in UNFINISHED and r.complete is not None),
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
        columns: dict[str, list[Any]] = {
            c: [r.get(c) for r in record.curve_records] for c in CURVE_COLUMNS
        }
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
    record = read_record(trial)
    retrain = retrain_of(study_attrs)
    if retrained_trial(retrain) != trial.number:
        retrain = None
    worker = record.worker
    complete = trial.state == TrialState.COMPLETE
    return {
        "number": trial.number,
        "state": trial.state.name,
        # Only a complete trial has a value; a pruned one's is just its last report.
        "value": trial.value if complete and trial.values else None,
        "values": trial.values if complete and trial.values else None,
        "params": trial.params,
        "distributions": {k: repr(v) for k, v in trial.distributions.items()},
        "start": iso_utc(trial.datetime_start),
        "complete": iso_utc(trial.datetime_complete),
        "stop_reason": record.stop_reason,
        "epochs_run": TrialFacts.of(trial).epochs,
        "seconds": record.seconds,
        "worker": None if worker is None else {"host": worker.host, "pid": worker.pid},
        "command": reproduce_command(record.command, study, trial.number, storage),
        "fail_reason": record.fail_reason,
        "data_provenance": record.data_provenance,
        # The cohort it trained in (its smallest trial number) and that cohort's size.
        "cohort": None
        if record.cohort is None
        else {"id": record.cohort, "size": record.cohort_size, "data_seed": record.data_seed},
        "other_attrs": other_attrs(trial.user_attrs),
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
    rows: list[TrialRow],
    facts: list[TrialFacts],
    param_names: list[str],
    origin: dt.datetime | None,
    now: dt.datetime,
    objectives: int = 1,
) -> dict[str, Any]:
    """The trials table as columns (one list per field, ``params`` one per parameter):
    a 100,000-trial study is then ~3x smaller than as one dict per trial, and ~3x faster
    to encode. ``facts`` are the rows'; ``start`` and ``complete`` are seconds after
    ``origin``; with several ``objectives``, ``values`` too."""
    columns: dict[str, Any] = {
        "number": [r.number for r in rows],
        "state": [r.state.name for r in rows],
        "value": [r.value for r in rows],
        "epochs": [f.epochs for f in facts],
        "seconds": [trial_seconds(f, now) for f in facts],
        "worker": [_worker(f) for f in facts],
        "stop_reason": [f.record.stop_reason for f in facts],
        "start": [_offset(r.start, origin) for r in rows],
        "complete": [_offset(r.complete, origin) for r in rows],
        "params": {p: [r.params.get(p) for r in rows] for p in param_names},
    }
    if objectives > 1:  # each complete trial's value per objective, else None
        columns["values"] = [list(r.values) if r.values else None for r in rows]
    return columns


def pareto_front(rows: list[TrialRow], directions: list[str]) -> list[int]:
    """Numbers of the complete trials no other complete trial dominates (no worse in
    every objective, better in one), as Optuna's ``study.best_trials``; by number."""
    signs = [-1.0 if d == "maximize" else 1.0 for d in directions]
    points = sorted(
        (tuple(s * v for s, v in zip(signs, r.values, strict=False)), r.number)  # type: ignore[operator]
        for r in rows
        if r.state == TrialState.COMPLETE
        and len(r.values) == len(signs)
        and all(v is not None for v in r.values)
    )
    # In lexicographic order a point can only be dominated by one before it, and then
    # by one already on the front: one pass, each point checked against the front.
    front: list[tuple[tuple[float, ...], int]] = []
    for point, number in points:
        if not any(_dominates(q, point) for q, _ in front):
            front.append((point, number))
    return sorted(number for _, number in front)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a != b and all(x <= y for x, y in zip(a, b, strict=True))


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


def active_workers(facts: list[TrialFacts], now: dt.datetime) -> list[dict[str, Any]]:
    """Workers with a running trial: which trials, and since when (seconds)."""
    workers: dict[str, dict[str, Any]] = {}
    for fact in facts:
        if fact.state != TrialState.RUNNING:
            continue
        entry = workers.setdefault(_worker(fact) or "?", {"trials": [], "running_seconds": 0.0})
        entry["trials"].append(fact.number)
        if fact.start is not None:
            seconds = (now - fact.start).total_seconds()
            entry["running_seconds"] = max(entry["running_seconds"], seconds)
    return [{"worker": name, **entry} for name, entry in sorted(workers.items())]

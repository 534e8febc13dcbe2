"""Turn storage rows into the JSON the pages draw: table rows, progress series, curves."""

from __future__ import annotations

import datetime as dt
import shlex
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpsearch.dashboard.queries import StudyInfo
from hpsearch.results.dates import iso_utc
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
    """The study's stored retrain result, if any, with ``trials``: the ones it trained
    from (``retrained_trials``)."""
    retrain = user_attrs.get("retrain")
    return {**retrain, "trials": retrained_trials(retrain)} if isinstance(retrain, dict) else None


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


def retrained_trials(retrain: dict[str, Any]) -> list[int]:
    """The trials a stored ``retrain`` result trained from, in member order without
    repeats: its members' (``retrain --top K`` draws them from several), else its ``trial``."""
    members = retrain.get("members")
    numbers = (
        [m.get("trial") for m in members if isinstance(m, dict)]
        if isinstance(members, list)
        else []
    )
    if not any(isinstance(n, int) for n in numbers):  # one trial, or an older record
        numbers = [retrain.get("trial")]
    return list(dict.fromkeys(n for n in numbers if isinstance(n, int) and not isinstance(n, bool)))


def trial_detail(
    trial: FrozenTrial, study_attrs: dict[str, Any], *, study: str, storage: str
) -> dict[str, Any]:
    """Everything the trial page shows; the study's retrain result when it trained from
    this trial (a retrain stores every resolved param, so params never compare)."""
    record = read_record(trial)
    retrain = retrain_of(study_attrs)
    if retrain is not None and trial.number not in retrain["trials"]:
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


def pareto_front(complete: list[tuple[tuple[float, ...], int]], directions: list[str]) -> list[int]:
    """Numbers of the trials no other dominates (no worse in every objective, better in
    one), as Optuna's ``study.best_trials``, by number; ``complete``: ``(values, number)``
    of the complete trials with a value for every objective."""
    signs = [-1.0 if d == "maximize" else 1.0 for d in directions]
    points = sorted(
        (tuple(s * v for s, v in zip(signs, values, strict=True)), number)
        for values, number in complete
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

"""Plain-data summaries of studies and trials, shared by the CLI tables, export and dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.spec.study_spec import StudySpec
from hpsearch.study.lifecycle import counted_trials


def trial_row(trial: FrozenTrial) -> dict[str, Any]:
    """One trial as a flat dict: number, state, value, epochs, seconds, stop reason, worker, params."""
    attrs = trial.user_attrs
    worker = attrs.get("worker") or {}
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "epochs": attrs.get("epochs_run"),
        "seconds": attrs.get("seconds"),
        "stop_reason": attrs.get("stop_reason") or attrs.get("fail_reason"),
        "worker": f"{worker.get('host')}:{worker.get('pid')}" if worker else None,
        "started": _iso(trial.datetime_start),
        "finished": _iso(trial.datetime_complete),
        "params": dict(trial.params),
    }


def trial_duration(trial: FrozenTrial) -> float | None:
    """Wall seconds from the trial's start to its completion (None while unfinished)."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def best_trials(study: optuna.Study, n: int = 5) -> list[FrozenTrial]:
    """The ``n`` best complete trials, best first."""
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None
    ]
    reverse = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda t: t.value, reverse=reverse)[:n]


def study_summary(study: optuna.Study, spec: StudySpec) -> dict[str, Any]:
    """Name, dataset, sampler, pruner, trials by state, best value, last activity."""
    trials = counted_trials(study)
    by_state: dict[str, int] = {}
    for t in trials:
        by_state[t.state.name] = by_state.get(t.state.name, 0) + 1
    best = best_trials(study, 1)
    times = [t.datetime_complete or t.datetime_start for t in trials]
    times = [t for t in times if t is not None]
    return {
        "name": study.study_name,
        "dataset": spec.data.dataset,
        "sampler": spec.study.sampler,
        "pruner": spec.study.pruner,
        "direction": spec.study.direction,
        "metric": spec.study.metric,
        "budget": spec.budget,
        "trials": by_state,
        "best_value": best[0].value if best else None,
        "best_trial": best[0].number if best else None,
        "last_activity": _iso(max(times)) if times else None,
        "total_epochs": sum(t.user_attrs.get("epochs_run") or 0 for t in trials),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None

"""Plain-data summaries of studies and trials, shared by the CLI tables, export and dashboard.

``study_summary`` is the one answer to "how is this study doing": ``hpsearch status``
and the dashboard both call it (the dashboard with its light trial rows, the CLI
with the study's trials, both as ``TrialFacts``). Counting: a failed trial that was
put back in the queue counts once, as its retry; ``requeued`` says how many such
failures the study has.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.results.dates import iso_utc
from hpsearch.spec.study_spec import StudySpec
from hpsearch.tuning.record import TrialRecord, read_record, requeued


@dataclass(frozen=True)
class TrialFacts:
    """What a summary needs of one trial (from a ``FrozenTrial`` or a dashboard row)."""

    number: int
    state: TrialState
    value: float | None
    start: datetime | None
    complete: datetime | None
    record: TrialRecord
    steps: int = 0  # intermediate values reported

    @classmethod
    def of(cls, trial: FrozenTrial) -> TrialFacts:
        value = trial.value if trial.state == TrialState.COMPLETE and trial.values else None
        return cls(
            trial.number,
            trial.state,
            value,
            trial.datetime_start,
            trial.datetime_complete,
            read_record(trial),
            len(trial.intermediate_values),
        )

    @property
    def epochs(self) -> int:
        return epochs_trained(self.record.epochs_run, self.steps)


def epochs_trained(epochs_run: int | None, steps: int) -> int:
    """Epochs trained: as recorded, else (a trial given up) the epochs it reported."""
    return epochs_run if epochs_run is not None else steps


def trial_row(trial: FrozenTrial) -> dict[str, Any]:
    """One trial as a flat dict: number, state, value, epochs, seconds, stop reason, worker, params."""
    record = read_record(trial)
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "epochs": record.epochs_run,
        "seconds": record.seconds,
        "stop_reason": record.stop,
        "worker": record.worker.label if record.worker else None,
        "started": iso_utc(trial.datetime_start),
        "finished": iso_utc(trial.datetime_complete),
        "params": dict(trial.params),
    }


def trial_duration(trial: FrozenTrial) -> float | None:
    """Wall seconds from the trial's start to its completion (None while unfinished)."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def best_trials(study: optuna.Study, n: int = 5) -> list[FrozenTrial]:
    """The ``n`` best complete trials, best first."""
    valued = [
        (t.value, t)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None
    ]
    reverse = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return [t for _, t in sorted(valued, key=lambda pair: pair[0], reverse=reverse)][:n]


def counted(trials: Iterable[TrialFacts]) -> tuple[list[TrialFacts], int]:
    """The trials that count (a re-queued failure counts once, as its retry) and how
    many re-queued failures were left out."""
    items = list(trials)
    again = requeued((t.number, t.state, t.record) for t in items)
    if not again:
        return items, 0
    return [t for t in items if t.number not in again], len(again)


def state_counts(trials: Iterable[TrialFacts]) -> dict[str, int]:
    """Trials by state name, every state present (zeros included), as ``counted`` counts."""
    kept, _ = counted(trials)
    return _by_state(kept)


def _by_state(kept: list[TrialFacts]) -> dict[str, int]:
    # One pass (a 100,000-trial study is counted on every dashboard poll).
    return counts_by_name({s.name: n for s, n in Counter(t.state for t in kept).items()})


def counts_by_name(found: Mapping[str, int]) -> dict[str, int]:
    """Trials by state name from ``{state name: count}``: every state, zeros included."""
    return {s.name: found.get(s.name, 0) for s in TrialState}


def spec_fields(spec: StudySpec | Mapping[str, Any] | None) -> dict[str, Any]:
    """Dataset, sampler, pruner and metric of a spec (or a stored spec's dict); None
    where a study has no spec."""
    if isinstance(spec, StudySpec):
        spec = spec.to_dict()
    spec = spec if isinstance(spec, Mapping) else {}
    study, data = spec.get("study") or {}, spec.get("data") or {}
    return {
        "dataset": data.get("dataset"),
        "sampler": study.get("sampler"),
        "pruner": study.get("pruner"),
        "metric": study.get("metric"),
    }


def study_summary(
    name: str,
    direction: str,
    spec: StudySpec | Mapping[str, Any] | None,
    trials: Iterable[TrialFacts],
) -> dict[str, Any]:
    """Name, direction, spec fields, trials by state (``counts``, every state), their
    total, re-queued failures, best value and trial, first start, last activity
    (ISO 8601, UTC) and the epochs spent (by every trial: re-queued failures cost
    compute too)."""
    items = list(trials)
    kept, again = counted(items)
    complete = [t for t in kept if t.state == TrialState.COMPLETE and t.value is not None]
    maximize = direction == "maximize"
    best = (max if maximize else min)(complete, key=_value) if complete else None
    starts = [t.start for t in kept if t.start is not None]
    moments = [m for t in kept for m in (t.start, t.complete) if m is not None]
    return summary_fields(
        name,
        direction,
        spec,
        counts=_by_state(kept),  # ``kept`` has no re-queued failure left to leave out
        requeued=again,
        best=None if best is None or best.value is None else (best.number, best.value),
        first_start=min(starts) if starts else None,
        last_activity=max(moments) if moments else None,
        total_epochs=sum(t.epochs for t in items),
    )


def summary_fields(
    name: str,
    direction: str,
    spec: StudySpec | Mapping[str, Any] | None,
    *,
    counts: dict[str, int],
    requeued: int,
    best: tuple[int, float] | None,
    first_start: datetime | None,
    last_activity: datetime | None,
    total_epochs: int,
) -> dict[str, Any]:
    """``study_summary``'s dict from its parts, for a caller that counted them another
    way (the dashboard's studies list counts in SQL): one spelling of the fields."""
    budget = spec.budget if isinstance(spec, StudySpec) else None
    return {
        "name": name,
        "direction": direction,
        **spec_fields(spec),
        "budget": budget,
        "counts": counts,
        "n_trials": sum(counts.values()),
        "requeued": requeued,
        "best_value": None if best is None else best[1],
        "best_trial": None if best is None else best[0],
        "first_start": iso_utc(first_start),
        "last_activity": iso_utc(last_activity),
        "total_epochs": total_epochs,
    }


def summarize_study(study: optuna.Study, spec: StudySpec) -> dict[str, Any]:
    """``study_summary`` of a loaded study (what ``hpsearch status`` shows)."""
    trials = [TrialFacts.of(t) for t in study.get_trials(deepcopy=False)]
    return study_summary(study.study_name, study.direction.name.lower(), spec, trials)


def _value(trial: TrialFacts) -> float:
    return trial.value if trial.value is not None else float("nan")

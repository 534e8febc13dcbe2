"""``hpsearch compare``: which study found a good model with less work.

Work is counted two ways, in trial completion order: cumulative epochs trained
(every finished trial's ``epochs_run``, pruned and failed ones included, since
they cost compute) and wall time since the study's first trial started. The
best-so-far value along either axis is a study's *curve*; "epochs to reach" reads
off a curve how much work a study needed to match another study's best.

Everything here returns plain data (lists and dicts) for the CLI and the dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState

from hpsearch.errors import ConfigError, HpsearchError
from hpsearch.study.lifecycle import counted_trials, load_study_and_spec
from hpsearch.tuning.record import read_record

__all__ = ["best_so_far_curves", "compare_studies", "epochs_to_reach", "plot_comparison"]


def best_so_far_curves(study: optuna.Study) -> dict[str, list[Any]]:
    """One point per finished trial, in completion order: ``epochs`` (cumulative),
    ``seconds`` (since the first trial started), ``best`` (best-so-far value, None
    until a trial completes) and ``number`` (the trial that finished there)."""
    trials = counted_trials(study)
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    finished = sorted(
        (t for t in trials if t.state.is_finished() and t.datetime_complete is not None),
        key=lambda t: (t.datetime_complete, t.number),
    )
    maximize = study.direction == StudyDirection.MAXIMIZE
    curves: dict[str, list[Any]] = {"epochs": [], "seconds": [], "best": [], "number": []}
    epochs = 0
    best: float | None = None
    for t in finished:
        epochs += read_record(t).epochs_run or 0
        if (
            t.state == TrialState.COMPLETE
            and t.value is not None
            and (best is None or (t.value > best if maximize else t.value < best))
        ):
            best = float(t.value)
        curves["epochs"].append(epochs)
        assert t.datetime_complete is not None  # filtered above
        curves["seconds"].append((t.datetime_complete - min(starts)).total_seconds())
        curves["best"].append(best)
        curves["number"].append(t.number)
    return curves


def epochs_to_reach(
    curves: dict[str, list[Any]], target: float | None, *, maximize: bool
) -> int | None:
    """Cumulative epochs when the best-so-far first reaches ``target`` (>= when maximizing,
    <= when minimizing); None if it never does or there is no target."""
    if target is None:
        return None
    for epochs, best in zip(curves["epochs"], curves["best"], strict=True):
        if best is not None and (best >= target if maximize else best <= target):
            return int(epochs)
    return None


def compare_studies(
    storage: optuna.storages.BaseStorage | str, names: list[str]
) -> list[dict[str, Any]]:
    """One dict per study, in the order given.

    Keys: ``name``, ``sampler``, ``pruner``, ``metric``, ``direction``, ``best_value``,
    ``best_trial``, ``trials`` (finished), ``total_epochs``, ``wall_seconds`` (first trial
    start to last completion), ``epochs_to_reach`` ({study name: epochs or None}, for
    every study compared, itself included: the epochs to its own best) and ``curves``
    (``best_so_far_curves``).
    """
    if not names:
        raise ConfigError("compare needs at least one study name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"study {', '.join(map(repr, repeated))} is listed more than once")
    loaded = [load_study_and_spec(storage, name) for name in names]
    metrics = {spec.study.metric for _, spec in loaded}
    if len(metrics) > 1:
        listed = ", ".join(f"{s.study_name}: {spec.study.metric}" for s, spec in loaded)
        raise HpsearchError(f"cannot compare studies that optimize different metrics ({listed})")
    rows: list[dict[str, Any]] = []
    for study, spec in loaded:
        curves = best_so_far_curves(study)
        trials = counted_trials(study)
        finished = [t for t in trials if t.state.is_finished()]
        starts = [t.datetime_start for t in trials if t.datetime_start is not None]
        ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
        best_value = curves["best"][-1] if curves["best"] else None
        best_trial = None
        if best_value is not None:
            best_trial = next(
                n for n, b in zip(curves["number"], curves["best"], strict=True) if b == best_value
            )
        rows.append(
            {
                "name": study.study_name,
                "sampler": spec.study.sampler,
                "pruner": spec.study.pruner,
                "metric": spec.study.metric,
                "direction": spec.study.direction,
                "best_value": best_value,
                "best_trial": best_trial,
                "trials": len(finished),
                "total_epochs": sum((read_record(t).epochs_run or 0) for t in finished),
                "wall_seconds": (max(ends) - min(starts)).total_seconds()
                if starts and ends
                else None,
                "curves": curves,
            }
        )
    for row in rows:
        maximize = row["direction"] == "maximize"
        row["epochs_to_reach"] = {
            other["name"]: epochs_to_reach(row["curves"], other["best_value"], maximize=maximize)
            for other in rows
        }
    return rows


def plot_comparison(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """A PNG with two panels, best-so-far vs cumulative epochs and vs wall time, one line per
    study (``rows`` from ``compare_studies``). Uses Agg directly: no display needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    by_epochs, by_time = figure.subplots(1, 2, sharey=True)
    metric = rows[0]["metric"].replace("_", " ") if rows else "value"
    for row in rows:
        curves = row["curves"]
        points = [
            (e, s, b)
            for e, s, b in zip(curves["epochs"], curves["seconds"], curves["best"], strict=True)
            if b is not None
        ]
        if not points:
            continue
        epochs, seconds, best = zip(*points, strict=True)
        label = f"{row['name']} ({row['sampler']})"
        by_epochs.step(epochs, best, where="post", label=label)
        by_time.step(seconds, best, where="post", label=label)
    by_epochs.set(xlabel="cumulative epochs", ylabel=f"best {metric} so far")
    by_time.set(xlabel="wall time (s)")
    for axes in (by_epochs, by_time):
        axes.grid(alpha=0.3)
    if by_epochs.lines:
        by_epochs.legend(loc="best", fontsize="small")
    figure.suptitle("best so far: " + " vs ".join(row["name"] for row in rows))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    except OSError as error:
        raise HpsearchError(f"cannot write {path}: {error.strerror or error}") from None
    except ValueError as error:  # an unknown image format (from the suffix)
        raise HpsearchError(f"cannot write {path}: {error}") from None
    return path

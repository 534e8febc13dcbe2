"""Cohorts in the search ([study] cohort = K): a worker trains up to K trials at once.

A trial learns the same alone or in a cohort (same params, trial seed and the study's
data seed), reports and is pruned alone, and records the cohort it ran in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.errors import ConfigError, SpecError
from hpsearch.spec.strategies import AUTO_COHORT
from hpsearch.spec.study_spec import MAX_COHORT, load_spec, parse_spec
from hpsearch.study.lifecycle import SPEC_ATTR
from hpsearch.tuning.objective import Objective, data_seed
from hpsearch.tuning.record import read_record
from hpsearch.workers.loop import load_split

#: A 16-point grid, float64 (a cohort member equals its lone run to ~1e-12: the
#: accuracies, and so the early stops, match exactly), trials of ~0.5 s.
GRID = {
    "study": {"sampler": "grid", "n_trials": None, "pruner": "none"},
    "space": {"eta": None, "hidden_width": None},
    "training": {"epochs": 150, "patience": 6, "dtype": "float64"},
    "grid": {
        "eta": [0.1, 0.3, 1.0, 3.0],
        "hidden_width": [10, 20],
        "loss": ["cross_entropy", "log_likelihood"],
    },
}


def _point(trial: optuna.trial.FrozenTrial) -> tuple[Any, ...]:
    return (trial.params["eta"], trial.params["hidden_width"], trial.params["loss"])


def test_cohort_in_the_spec_defaults_to_1_and_bad_values_name_the_valid_ones(
    spec_tools: Any,
) -> None:
    assert parse_spec(spec_tools.tiny).study.cohort == 1
    assert "cohort" not in parse_spec(spec_tools.tiny).to_dict()["study"]  # stored as before
    four = parse_spec(spec_tools.merged(spec_tools.tiny, {"study": {"cohort": 4}}))
    assert four.study.cohort == 4
    assert parse_spec(four.to_dict()) == four
    for bad in (0, MAX_COHORT + 1, "4", True, 2.0):
        with pytest.raises(SpecError) as caught:
            parse_spec(spec_tools.merged(spec_tools.tiny, {"study": {"cohort": bad}}))
        message = str(caught.value)
        assert message.startswith(f"study.cohort: expected an int in 1..{MAX_COHORT}, got ")
        assert "\n" not in message
    assert four.with_overrides(cohort=8).study.cohort == 8  # CLI > spec
    assert four.with_overrides(cohort=None).study.cohort == 4
    with pytest.raises(ConfigError, match=f"1..{MAX_COHORT}"):
        four.with_cohort(0)


def test_auto_brings_cohorts_of_4_unless_the_spec_says_otherwise(spec_tools: Any) -> None:
    """Left out, the cohort follows the sampler: 4 for "auto" (the default sampler),
    1 for a named one, also when --sampler changes it; a cohort written in the spec
    stays, and every spec is stored so that it reads back the same."""
    auto = parse_spec(spec_tools.merged(spec_tools.tiny, {"study": {"sampler": "auto"}}))
    assert auto.study.cohort == AUTO_COHORT == 4
    assert "cohort" not in auto.to_dict()["study"]
    assert auto.with_overrides(sampler="random").study.cohort == 1  # follows the sampler
    assert parse_spec(spec_tools.tiny).with_overrides(sampler="auto").study.cohort == 4
    for cohort in (1, 2):
        raw = spec_tools.merged(spec_tools.tiny, {"study": {"sampler": "auto", "cohort": cohort}})
        written = parse_spec(raw)
        assert written.study.cohort == cohort
        assert parse_spec(written.to_dict()) == written
        assert written.with_overrides(sampler="tpe").study.cohort == cohort


def test_validate_shows_the_cohort_and_the_cli_overrides_it(
    spec_file: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    path = spec_file({"study": {"cohort": 4}})
    result = cli("validate", str(path))
    assert result.code == 0, result.output
    assert "cohort" in result.out and "4 trial(s) trained at once" in result.out
    bad = cli("run", str(path), "--cohort", "0")
    assert bad.code != 0 and "--cohort" in bad.err and "Traceback" not in bad.output


@pytest.mark.slow
def test_a_grid_in_cohorts_of_4_with_2_jobs_runs_each_point_once_learning_what_it_learns_alone(
    spec_file: Callable[..., Path],
    tmp_path: Path,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """16 grid points, --jobs 2 --cohort 4 (over the spec's 2): each point runs once, in
    cohorts of up to 4 that record their id and size, and each ends with the value,
    epochs and curve it gets with cohort 1; retrain --trial gives the same model."""
    path = spec_file(_merge(GRID, {"study": {"cohort": 2}}))
    cohorts, alone = f"sqlite:///{tmp_path / 'cohorts.db'}", f"sqlite:///{tmp_path / 'alone.db'}"
    result = cli("run", str(path), "--jobs", "2", "--cohort", "4", "--storage", cohorts)
    assert result.code == 0, result.output
    assert "cohorts of 4" in result.output
    result = cli("run", str(path), "--cohort", "1", "--storage", alone)
    assert result.code == 0, result.output

    spec = load_spec(path)
    by_point = {}
    for url in (cohorts, alone):
        trials = study_trials(url, "tiny")
        assert Counter(t.state for t in trials) == {TrialState.COMPLETE: 16}
        assert len({_point(t) for t in trials}) == 16
        by_point[url] = {_point(t): t for t in trials}
    assert _spec_of(cohorts)["study"]["cohort"] == 4  # the run's --cohort, stored
    records = {t.number: read_record(t) for t in by_point[cohorts].values()}
    sizes = Counter(r.cohort for r in records.values())
    assert max(sizes.values()) == 4  # trials did train 4 at once
    for trial in by_point[cohorts].values():
        record = records[trial.number]
        assert record.data_seed == data_seed(spec)
        assert record.cohort is not None and record.cohort <= trial.number
        assert record.cohort_size == sizes[record.cohort]  # every member says the same
        assert records[record.cohort].worker == record.worker  # one process per cohort
    assert len({r.worker for r in records.values()}) == 2  # both jobs trained cohorts
    assert {read_record(t).cohort_size for t in by_point[alone].values()} == {1}
    for point, trial in by_point[cohorts].items():
        lone = by_point[alone][point]
        assert trial.value == lone.value, point
        assert trial.user_attrs["epochs_run"] == lone.user_attrs["epochs_run"]
        assert _same_curves(trial.user_attrs["history"], lone.user_attrs["history"])
    # Reproducible from the record alone: retraining a cohort member is retraining it alone.
    point = next(p for p, t in by_point[cohorts].items() if records[t.number].cohort_size == 4)
    retrained = []
    for url in (cohorts, alone):
        number = by_point[url][point].number
        out = tmp_path / f"model-{len(retrained)}.npz"
        result = cli("retrain", "tiny", "--trial", str(number), "--storage", url, "-o", str(out))
        assert result.code == 0, result.output
        retrained.append(optuna.load_study(study_name="tiny", storage=url).user_attrs["retrain"])
    assert retrained[0]["test_accuracy"] == retrained[1]["test_accuracy"]
    assert _same_curves(retrained[0]["history"], retrained[1]["history"])


def _numbers(history: dict[str, Any]) -> list[float]:
    """A history's per-epoch numbers (wall times left out), equal to ~1e-12 when the same
    network trains alone or in a cohort (a stacked GEMM may round its last bit apart)."""
    numbers = [
        float(v)
        for r in history["records"]
        for k, value in r.items()
        if k != "seconds"
        for v in (value if isinstance(value, list) else [value])
        if v is not None
    ]
    return numbers


def _same_curves(mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    return _numbers(mine) == pytest.approx(_numbers(theirs), rel=1e-9, abs=1e-12)


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {section: dict(table) for section, table in base.items()}
    for section, table in changes.items():
        merged.setdefault(section, {}).update(table)
    return merged


def _spec_of(url: str) -> dict[str, Any]:
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name="tiny", storage=storage).user_attrs[SPEC_ATTR]
    finally:
        storage.engine.dispose()


class _PruneEvenTrials(optuna.pruners.BasePruner):
    """Prunes the even-numbered trials at their first report, never the others."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number % 2 == 0


def _trials(points: list[dict[str, Any]], pruner: Any) -> list[optuna.Trial]:
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for point in points:
        study.enqueue_trial(point)
    return [study.ask() for _ in points]


#: Points that train stably (an eta of 2.0 here is chaotic: its value would depend on
#: how BLAS rounds a GEMM of this width, in a cohort or alone).
POINTS = [
    {"eta": 0.3, "hidden_width": 12, "activation": "tanh", "batch_size": 10},
    {"eta": 1.0, "hidden_width": 25, "activation": "sigmoid", "batch_size": 10},
    {"eta": 0.1, "hidden_width": 30, "activation": "relu", "batch_size": 32},
    {"eta": 0.5, "hidden_width": 18, "activation": "tanh", "batch_size": 10},
]
SPACE = {
    "activation": {"choices": ["sigmoid", "tanh", "relu"]},
    "batch_size": {"choices": [10, 32]},
}


@pytest.mark.parametrize("folds", [None, 3])
def test_members_are_pruned_alone_and_the_others_learn_what_they_learn_alone(
    spec_tools: Any, folds: int | None
) -> None:
    """A cohort of 4 (mixed widths, activations and batch sizes; with and without 3
    folds, trained fold by fold as cohorts): the pruned members stop at their first
    report, the others train on, each to the value, epochs and folds it gets alone."""
    changes: dict[str, Any] = {
        "study": {"sampler": "random", "pruner": "median"},
        "training": {"epochs": 12, "patience": 12, "dtype": "float64"},
        "space": SPACE,
    }
    if folds:
        changes["data"] = {"validation": None, "folds": folds, "subset": 300}
    spec = parse_spec(spec_tools.merged(spec_tools.tiny, changes))
    data, _ = load_split(spec)
    objective = Objective(spec, data, study_name="tiny")

    members = _trials(POINTS, _PruneEvenTrials())
    outcomes = objective.cohort(members)
    alone_trials = _trials(POINTS, optuna.pruners.NopPruner())
    lone = [objective(t) for t in alone_trials]

    for trial, outcome, alone in zip(members, outcomes, lone, strict=True):
        record = read_record(trial.study.trials[trial.number])
        assert (record.cohort, record.cohort_size) == (0, 4)
        assert record.data_seed == data_seed(spec)
        if trial.number % 2 == 0:
            assert outcome.state == TrialState.PRUNED
            assert record.epochs_run == 1 and record.stop_reason == "pruned"
            assert record.folds is None  # a pruned trial trains no other fold
            continue
        lone_record = read_record(alone_trials[trial.number].study.trials[trial.number])
        assert outcome.state == alone.state == TrialState.COMPLETE
        assert outcome.value == alone.value, trial.number
        assert record.epochs_run == lone_record.epochs_run
        assert record.epochs_run is not None and record.epochs_run > (folds or 1)
        assert record.folds == lone_record.folds
        assert (record.folds is None) == (folds is None)


def test_a_timeout_only_study_asks_for_cohorts_and_max_trials_caps_the_last_one(
    spec_tools: Any, tmp_path: Path
) -> None:
    """No n_trials, so no queue: the worker asks the sampler for K trials at once (all
    RUNNING before any reports), and ``max_trials`` = 5 with cohort 3 runs 3 then 2."""
    from hpsearch.study.lifecycle import create_or_resume, load_study_and_spec
    from hpsearch.workers.loop import run_worker

    changes = {"study": {"n_trials": None, "timeout": 3600, "cohort": 3}}
    spec = parse_spec(spec_tools.merged(spec_tools.tiny, changes))
    url = f"sqlite:///{tmp_path / 'timeout.db'}"
    create_or_resume(spec, url)
    study, spec = load_study_and_spec(url, "tiny", worker_index=0)
    report = run_worker(study, spec, max_trials=5)
    assert report.trials == 5
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    records = [read_record(t) for t in trials]
    assert [(r.cohort, r.cohort_size) for r in records] == [(0, 3)] * 3 + [(3, 2)] * 2
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 5  # not alike

"""Samplers and pruners by name."""

from __future__ import annotations

import optuna
import pytest

from hpsearch.errors import ConfigError
from hpsearch.spec import strategies
from hpsearch.spec import study_spec as spec_module
from hpsearch.spec.strategies import PRUNER_NAMES, SAMPLER_NAMES
from hpsearch.spec.study_spec import parse_spec
from hpsearch.tuning.samplers import make_pruner, make_sampler

EXPECTED_SAMPLERS = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "qmc": optuna.samplers.QMCSampler,
    "grid": optuna.samplers.RandomSampler,
    "gp": optuna.samplers.GPSampler,
    "auto": optuna.samplers.TPESampler,
}
EXPECTED_PRUNERS = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "auto": optuna.pruners.SuccessiveHalvingPruner,
}


def test_names_are_the_documented_ones() -> None:
    """The spec's sampler and pruner names are exactly these, in this order."""
    assert SAMPLER_NAMES == ("tpe", "random", "cmaes", "qmc", "grid", "gp", "auto")
    assert PRUNER_NAMES == ("none", "median", "successive_halving", "hyperband", "auto")


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_make_sampler_builds_each_name(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each sampler name builds its Optuna sampler; grid is random (trials are enqueued)."""
    monkeypatch.setattr(strategies, "_installed", lambda module: True)  # optional extras
    sampler = make_sampler(name, seed=3)
    assert type(sampler) is EXPECTED_SAMPLERS[name]


def test_tpe_startup_follows_the_trial_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a known n_trials, TPE starts modelling after a quarter of it (5 to 10 trials)."""
    monkeypatch.setattr(spec_module, "_dataset_problem", lambda name: None)
    spec = parse_spec({"study": {"name": "s", "n_trials": 20}, "data": {"dataset": "d"}})
    assert make_sampler("tpe", seed=1, spec=spec)._n_startup_trials == 5
    assert make_sampler("tpe", seed=1)._n_startup_trials == 10


def test_seeded_samplers_repeat_their_suggestions() -> None:
    """The same seed gives the same first suggestions (every worker builds its own sampler)."""

    def first(name: str) -> list[float]:
        study = optuna.create_study(sampler=make_sampler(name, seed=5))
        return [study.ask().suggest_float("x", 0.0, 1.0) for _ in range(3)]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("tpe", "random", "qmc"):
        assert first(name) == first(name)


def test_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """gp without torch (and cmaes without cmaes) fails with how to install it."""
    monkeypatch.setattr(strategies, "_installed", lambda module: False)
    with pytest.raises(
        ConfigError, match=r"needs the 'torch' package.*pip install 'hpsearch\[gp\]'"
    ):
        make_sampler("gp", seed=None)
    with pytest.raises(ConfigError, match="pip install cmaes"):
        make_sampler("cmaes", seed=None)


def test_unknown_names_list_the_valid_ones() -> None:
    """An unknown sampler or pruner name lists the valid names."""
    with pytest.raises(
        ConfigError, match="expected one of tpe, random, cmaes, qmc, grid, gp, auto"
    ):
        make_sampler("bayes", seed=1)
    with pytest.raises(ConfigError, match="expected one of none, median, successive_halving"):
        make_pruner("asha", max_epochs=10)
    with pytest.raises(ConfigError, match="max_epochs"):
        make_pruner("median", max_epochs=0)


@pytest.mark.parametrize("name", PRUNER_NAMES)
def test_make_pruner_builds_each_name(name: str) -> None:
    """Each pruner name builds its Optuna pruner."""
    assert type(make_pruner(name, max_epochs=30)) is EXPECTED_PRUNERS[name]


def test_hyperband_spans_one_to_max_epochs() -> None:
    """Hyperband's resource is the epoch: from 1 up to the spec's max epochs."""
    pruner = make_pruner("hyperband", max_epochs=27)
    assert (pruner._min_resource, pruner._max_resource) == (1, 27)
    assert make_pruner("median", max_epochs=30)._n_warmup_steps == 3


def test_auto_is_the_recommended_strategy() -> None:
    """ "auto" is TPE with successive halving, opened by three points of the space
    (chosen with benchmarks/search_efficiency.py, docs/RESULTS.md; tests/search/
    test_opening.py): its sampler and pruner are built as those names are."""
    assert (strategies.resolve_sampler("auto"), strategies.resolve_pruner("auto")) == (
        "tpe",
        "successive_halving",
    )
    assert strategies.describe_auto() == (
        "tpe + successive_halving in cohorts of 4, opened by the space's wide, shallow and "
        "centre points"
    )
    assert strategies.resolve_sampler("random") == "random"
    assert strategies.resolve_pruner("median") == "median"
    pruner = make_pruner("auto", max_epochs=30)
    assert (pruner._min_resource, pruner._reduction_factor) == (1, 3)


def test_auto_is_the_default_and_named_samplers_keep_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Leaving sampler and pruner out means "auto" (stored as "auto", resolved when the
    study is built); a named sampler without a pruner keeps the median rule, a grid none;
    overriding the sampler of an "auto" spec lets the pruner follow it."""
    monkeypatch.setattr(spec_module, "_dataset_problem", lambda name: None)
    base = {"study": {"name": "s", "n_trials": 20}, "data": {"dataset": "d"}}
    spec = parse_spec(base)
    assert (spec.study.sampler, spec.study.pruner) == ("auto", "auto")
    assert spec.to_dict()["study"]["sampler"] == "auto"
    named = parse_spec({**base, "study": {**base["study"], "sampler": "random"}})
    assert named.study.pruner == "median"
    explicit = parse_spec({**base, "study": {**base["study"], "sampler": "auto", "pruner": "none"}})
    assert (explicit.study.sampler, explicit.study.pruner) == ("auto", "none")
    assert spec.with_overrides(sampler="tpe").study.pruner == "median"
    assert spec.with_overrides(pruner="hyperband").study.sampler == "auto"

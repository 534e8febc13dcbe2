"""Optuna samplers and pruners by the names a study spec uses.

``SAMPLER_NAMES`` and ``PRUNER_NAMES`` are the valid values of ``study.sampler`` and
``study.pruner``; ``make_sampler``/``make_pruner`` build the Optuna objects. Every
worker of a study builds its own from the stored spec, so the choices here must not
depend on anything but the spec (same seed -> same sampler everywhere).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import optuna
from optuna.exceptions import ExperimentalWarning

from hpsearch.errors import ConfigError
from hpsearch.spec.strategies import (
    PRUNER_NAMES,
    PRUNERS,
    resolve_pruner,
    resolve_sampler,
    sampler_problem,
)
from hpsearch.tuning.opening import OpeningSampler, opening_points

if TYPE_CHECKING:
    from hpsearch.spec.study_spec import StudySpec


def make_sampler(
    name: str, *, seed: int | None, spec: StudySpec | None = None
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler called ``name``, seeded with ``seed``.

    ``spec`` (optional) sizes the TPE/GP start-up phase to the trial budget: with a
    20-trial study, 10 random start-up trials would leave little for the model.

    ``auto`` with a ``spec`` gives TPE behind an ``OpeningSampler``: trials 0-2 run the
    space's opening points (``hpsearch.tuning.opening``); without one, plain TPE.

    ``grid`` gives a ``RandomSampler``: the controller enqueues every grid point once
    (``study.enqueue_trial``) and each trial takes one from the queue, so the sampler
    never chooses. Optuna's ``GridSampler`` is not used because under parallel
    workers it runs some points more than once (measured: 3-4 extra trials on a
    20-point grid with 4 workers, on SQLite and PostgreSQL). The random sampler only
    matters if a trial is asked for after the queue is empty, which the budget prevents.
    """
    problem = sampler_problem(name)
    if problem:
        raise ConfigError(f"sampler: {problem}")
    if name == "auto" and spec is not None:
        base = make_sampler(resolve_sampler(name), seed=seed, spec=spec)
        return OpeningSampler(base, opening_points(spec))
    name = resolve_sampler(name)
    startup = _startup_trials(spec)
    if name == "tpe":
        # A cohort asks for several trials before any of them reports: the constant
        # liar makes TPE see those pending trials, so it does not suggest K alike.
        liar = spec is not None and spec.study.cohort > 1
        if liar:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return optuna.samplers.TPESampler(
                    seed=seed, n_startup_trials=startup, constant_liar=True
                )
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "qmc":
        # Scrambling needs the same seed in every worker, or each worker would walk
        # its own sequence; without a seed, the unscrambled sequence is shared.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return optuna.samplers.QMCSampler(
                seed=seed, scramble=seed is not None, warn_independent_sampling=False
            )
    return optuna.samplers.RandomSampler(seed=seed)  # "random" and "grid"


def _startup_trials(spec: StudySpec | None) -> int:
    """A quarter of a known trial budget, between 5 and 10 (Optuna's default is 10)."""
    if spec is None or spec.study.n_trials is None:
        return 10
    return max(5, min(10, spec.study.n_trials // 4))


def make_pruner(name: str, *, max_epochs: int) -> optuna.pruners.BasePruner:
    """The Optuna pruner called ``name`` for trials that report once per epoch.

    The objective reports validation accuracy (or loss) at steps 1..``max_epochs``.
    """
    if name not in PRUNERS:
        raise ConfigError(f"pruner: expected one of {', '.join(PRUNER_NAMES)}, got {name!r}")
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
        raise ConfigError(f"max_epochs: expected an int >= 1, got {max_epochs!r}")
    name = resolve_pruner(name)
    if name == "median":
        # The first epochs of every net look alike; judge after a tenth of the budget.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max_epochs // 10)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_epochs, reduction_factor=3
        )
    return optuna.pruners.NopPruner()

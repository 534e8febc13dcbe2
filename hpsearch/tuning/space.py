"""A spec's search space, mapped to Optuna: suggest a trial's params, list grid points.

Every params dict here holds all hyperparameters in the canonical order of
``HYPERPARAMETER_NAMES``: searched ones as suggested, the rest fixed by the spec or
at their defaults (``HYPERPARAMETER_DEFAULTS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError
from hpsearch.spec.grid import expand_grid
from hpsearch.spec.hyperparams import (
    HYPERPARAMETER_DEFAULTS,
    HYPERPARAMETER_NAMES,
    HYPERPARAMETERS,
    MOMENTUM_OPTIMIZERS,
    Categorical,
    Distribution,
    FloatRange,
    IntRange,
    Scalar,
)

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

    from hpsearch.spec.study_spec import StudySpec

__all__ = [
    "distribution_for",
    "grid_points",
    "optuna_distributions",
    "params_from_trial_params",
    "suggest_params",
]


def distribution_for(spec: StudySpec, name: str) -> Distribution | None:
    """The distribution ``name`` is suggested from, or ``None`` when it is fixed.

    A grid key uses its ``[space]`` distribution when there is one, else a categorical
    over its grid values; either way the enqueued grid value is what ``suggest_*``
    returns, and it is recorded in ``trial.params``.
    """
    entry = spec.space.get(name)
    if isinstance(entry, FloatRange | IntRange | Categorical):
        return entry
    if spec.grid is not None and name in spec.grid:
        return Categorical(tuple(spec.grid[name]))
    return None


def optuna_distributions(spec: StudySpec) -> dict[str, BaseDistribution]:
    """Optuna distributions of the searched names (e.g. for ``study.ask`` or ``add_trial``)."""
    out: dict[str, BaseDistribution] = {}
    for name in spec.searched:
        dist = distribution_for(spec, name)
        assert dist is not None
        out[name] = dist.to_optuna()
    return out


def _fixed(spec: StudySpec | None, name: str) -> Scalar:
    entry = spec.space.get(name) if spec is not None else None
    if entry is None or isinstance(entry, FloatRange | IntRange | Categorical):
        return HYPERPARAMETER_DEFAULTS[name]
    return entry


def suggest_params(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """All hyperparameters for ``trial``: searched ones suggested, the rest fixed/default.

    ``momentum`` is suggested only when the optimizer is momentum or nesterov; with
    any other optimizer it is not in ``trial.params`` and the returned value is the
    spec's fixed value or the default (the network ignores it).
    """
    params: dict[str, Any] = {}
    for name in HYPERPARAMETER_NAMES:
        dist = distribution_for(spec, name)
        if dist is None or (name == "momentum" and params["optimizer"] not in MOMENTUM_OPTIMIZERS):
            params[name] = _fixed(spec, name)
        elif isinstance(dist, FloatRange):
            params[name] = trial.suggest_float(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        elif isinstance(dist, IntRange):
            params[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        else:
            params[name] = trial.suggest_categorical(name, list(dist.choices))
    return params


def grid_points(spec: StudySpec) -> list[dict[str, Scalar]]:
    """The grid's points, to enqueue once each; ``[]`` without a ``[grid]``.

    Cartesian product of the ``[grid]`` values: keys in canonical hyperparameter order,
    the last varying fastest, values in the order listed (deterministic). A point
    holds only the grid keys; ``suggest_params`` fills in the rest. Points whose
    optimizer ignores momentum carry no momentum, and duplicates are dropped.
    """
    if spec.grid is None:
        return []
    return expand_grid(spec.grid, spec.space)


def params_from_trial_params(
    params: Mapping[str, Any], spec: StudySpec | None = None
) -> dict[str, Any]:
    """All hyperparameters of a finished trial, from its ``trial.params``.

    Names missing from ``params`` (never suggested) take the spec's fixed value when
    ``spec`` is given, else the default; the result has the same keys and order as
    ``suggest_params``. Unknown names are an error (the params are from another spec).
    """
    unknown = sorted(str(k) for k in params if k not in HYPERPARAMETERS)
    if unknown:
        raise ConfigError(
            f"unknown hyperparameter(s) {', '.join(unknown)}; valid: {', '.join(HYPERPARAMETER_NAMES)}"
        )
    return {n: params[n] if n in params else _fixed(spec, n) for n in HYPERPARAMETER_NAMES}

"""The "auto" strategy's opening: three configurations from the space tried first.

A model-based sampler starts blind: TPE's first trials are random, and most random
points of a wide space train these networks poorly. SMAC opens with the space's
default configuration and auto-sklearn 2.0 with a portfolio of configurations that
did well elsewhere; "auto" does the same with three points derived from the space alone.
Their *centre* has each numeric range's middle (log-middle when log-scaled) and each
categorical at the choice known to train these networks well (``PREFERRED``: ReLU,
softmax with log-likelihood, momentum, L2; the book's ch. 3 advice). In trial order:

1. *wide*: the centre with ``hidden_width`` at the top of its range (dropout and L2
   at their middles keep the extra capacity in check);
2. *shallow*: the wide point with ``hidden_layers`` at its low end (at least 1);
3. the *centre* itself.

Under successive halving a later opener trains on only while it leads every rung.
The points are what the sampler returns for trials 0-2 (``OpeningSampler``); every
worker derives the same points from the stored spec, so a shared study opens once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna

from hpsearch.spec.hyperparams import Categorical, FloatRange, IntRange, Scalar
from hpsearch.tuning.space import distribution_for

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

    from hpsearch.spec.study_spec import StudySpec

#: Categorical choices in order of preference; a name not listed takes its first choice.
PREFERRED: dict[str, tuple[Scalar, ...]] = {
    "activation": ("relu", "leaky_relu", "tanh", "sigmoid"),
    "loss": ("log_likelihood", "cross_entropy", "quadratic"),
    "optimizer": ("momentum", "nesterov", "sgd"),
    "regularizer": ("l2", "l1"),
    "init": ("scaled", "he", "glorot"),
}


def opening_points(spec: StudySpec) -> list[dict[str, Scalar]]:
    """The opening configurations of ``spec``'s searched names, distinct, in trial order."""
    centre: dict[str, Scalar] = {}
    for name in spec.searched:
        dist = distribution_for(spec, name)
        if dist is not None:
            centre[name] = _centre(name, dist)
    wide = dict(centre)
    width = distribution_for(spec, "hidden_width")
    if "hidden_width" in wide and isinstance(width, IntRange):
        wide["hidden_width"] = width.high
    shallow = dict(wide)
    layers = distribution_for(spec, "hidden_layers")
    if "hidden_layers" in shallow and isinstance(layers, IntRange):
        shallow["hidden_layers"] = _snap_int(layers, max(layers.low, 1))
    points: list[dict[str, Scalar]] = []
    for point in (wide, shallow, centre):
        if point and point not in points:
            points.append(point)
    return points


def _centre(name: str, dist: FloatRange | IntRange | Categorical) -> Scalar:
    if isinstance(dist, Categorical):
        for choice in PREFERRED.get(name, ()):
            if dist.contains(choice):
                return choice
        return dist.choices[0]
    low, high = float(dist.low), float(dist.high)
    middle = math.sqrt(low * high) if dist.log else (low + high) / 2
    if isinstance(dist, IntRange):
        return _snap_int(dist, middle)
    if dist.step is not None:
        middle = low + round((middle - low) / dist.step) * dist.step
    return min(max(middle, low), high)


def _snap_int(dist: IntRange, value: float) -> int:
    """The value of ``dist`` nearest ``value`` (on its step)."""
    steps = round((value - dist.low) / dist.step)
    return min(max(dist.low + steps * dist.step, dist.low), dist.high)


class OpeningSampler(optuna.samplers.BaseSampler):
    """``base``, except that trial *i* < len(``points``) takes ``points[i]``'s values.

    Names a point lacks (or that a trial suggests from another range) go to ``base``,
    and every trial is still told to ``base``, so its model sees the opening trials.
    """

    def __init__(
        self, base: optuna.samplers.BaseSampler, points: Sequence[dict[str, Scalar]]
    ) -> None:
        self.base = base
        self.points = list(points)

    def _point(self, trial: FrozenTrial) -> dict[str, Scalar] | None:
        return self.points[trial.number] if trial.number < len(self.points) else None

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._point(trial) is not None:
            return {}
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if self._point(trial) is not None:
            return {}
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        point = self._point(trial)
        if point is not None and param_name in point:
            return point[param_name]
        return self.base.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()

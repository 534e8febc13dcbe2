"""The names of samplers and pruners a study spec may use, and why one can't be used here.

The spec checks names against these tables; ``hpsearch.tuning.samplers`` builds the
Optuna objects for them.
"""

from __future__ import annotations

import importlib.util

#: What "auto" resolves to, chosen with benchmarks/search_efficiency.py (its figures:
#: docs/RESULTS.md and the README's "Which strategy?"); the sampler opens with three
#: points of the space (hpsearch.tuning.opening).
AUTO_SAMPLER = "tpe"
AUTO_PRUNER = "successive_halving"
#: Trials an "auto" worker trains at once when the spec leaves ``cohort`` out: the
#: opening points train side by side, none pruned for trailing another's start.
AUTO_COHORT = 4


#: sampler name -> what it is, shown by ``hpsearch validate`` and in error messages.
SAMPLERS: dict[str, str] = {
    "tpe": "Tree-structured Parzen Estimator (Optuna's default; with cohorts, constant liar)",
    "random": "independent uniform/log-uniform sampling",
    "cmaes": "CMA-ES for numeric parameters (categoricals sampled at random)",
    "qmc": "quasi-Monte Carlo (scrambled Sobol when the spec has a seed)",
    "grid": "exact grid: every [grid] point enqueued once, each run exactly once",
    "gp": "Gaussian-process Bayesian optimisation (needs PyTorch)",
    "auto": f"the recommended strategy, and the default: {AUTO_SAMPLER}, pruner {AUTO_PRUNER}, "
    f"cohorts of {AUTO_COHORT}, opened by three points of the space (validate lists them)",
}
SAMPLER_NAMES: tuple[str, ...] = tuple(SAMPLERS)

#: pruner name -> what it is.
PRUNERS: dict[str, str] = {
    "none": "never prune; every trial trains until early stopping or max epochs",
    "median": "prune below the median of earlier trials at the same epoch",
    "successive_halving": "asynchronous successive halving, rungs at 1, 3, 9, ... epochs",
    "hyperband": "Hyperband over successive-halving brackets up to max epochs",
    "auto": f"the recommended pruner, the default of sampler 'auto': {AUTO_PRUNER}",
}
PRUNER_NAMES: tuple[str, ...] = tuple(PRUNERS)


def resolve_sampler(name: str) -> str:
    """The sampler ``name`` stands for: ``AUTO_SAMPLER`` for "auto", else itself."""
    return AUTO_SAMPLER if name == "auto" else name


def resolve_pruner(name: str) -> str:
    """The pruner ``name`` stands for: ``AUTO_PRUNER`` for "auto", else itself."""
    return AUTO_PRUNER if name == "auto" else name


def named(name: str, resolved: str) -> str:
    """``name``, with what it stands for when it is "auto" (``auto (tpe)``)."""
    return name if name == resolved else f"{name} ({resolved})"


def default_cohort(sampler: str) -> int:
    """Trials a worker trains at once when the spec leaves ``cohort`` out: "auto" brings
    its own (``AUTO_COHORT``), any other sampler trains them one by one."""
    return AUTO_COHORT if sampler == "auto" else 1


def describe_auto() -> str:
    """What "auto" resolves to, in words (``hpsearch validate``, the benchmark)."""
    return (
        f"{AUTO_SAMPLER} + {AUTO_PRUNER} in cohorts of {AUTO_COHORT}, opened by the space's "
        "wide, shallow and centre points"
    )


# Samplers that need a package hpsearch does not install by default:
# name -> (module to import, how to install it).
_REQUIREMENTS: dict[str, tuple[str, str]] = {
    "gp": ("torch", "pip install 'hpsearch[gp]'"),
    "cmaes": ("cmaes", "pip install cmaes"),
}


def sampler_problem(name: str) -> str | None:
    """Why sampler ``name`` can't be used here (unknown, or a missing package), or ``None``."""
    name = resolve_sampler(name) if name in SAMPLERS else name
    if name not in SAMPLERS:
        return f"expected one of {', '.join(SAMPLER_NAMES)}, got {name!r}"
    if name in _REQUIREMENTS:
        module, install = _REQUIREMENTS[name]
        if not _installed(module):
            return (
                f"sampler {name!r} needs the {module!r} package, which is not installed: {install}"
            )
    return None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None

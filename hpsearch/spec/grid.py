"""The ``[grid]`` table: explicit values per hyperparameter, expanded to exact points."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from hpsearch.spec import checks as check
from hpsearch.spec.hyperparams import (
    HYPERPARAMETER_DEFAULTS,
    HYPERPARAMETER_NAMES,
    HYPERPARAMETERS,
    MOMENTUM_OPTIMIZERS,
    Categorical,
    FloatRange,
    IntRange,
    Scalar,
    show,
)

#: A larger grid is surely a typo (every point is a trial, enqueued up front).
MAX_GRID_POINTS = 100_000


def parse_grid(
    raw: Mapping[str, Any], space: Mapping[str, Any], problems: list[str]
) -> dict[str, list[Scalar]] | None:
    """Validate ``[grid]`` against the names' valid values and the ``[space]`` entries.

    A grid key must be a known hyperparameter; its values must be valid for that
    name and, when ``[space]`` gives it a distribution, lie inside it. A name fixed in
    ``[space]`` can't also be a grid key (the two would disagree).
    """
    before = len(problems)
    if not raw:
        problems.append(
            "grid: empty; list values for at least one hyperparameter, e.g. eta = [0.1, 1.0]"
        )
        return None
    check.unknown_keys(raw, HYPERPARAMETER_NAMES, "grid", problems)
    grid: dict[str, list[Scalar]] = {}
    for name in HYPERPARAMETER_NAMES:
        if name not in raw:
            continue
        path = f"grid.{name}"
        values = raw[name]
        if not isinstance(values, list) or not values:
            problems.append(f"{path}: expected a non-empty list of values, got {show(values)}")
            continue
        entry = space.get(name)
        if entry is not None and not isinstance(entry, FloatRange | IntRange | Categorical):
            problems.append(
                f"{path}: space.{name} is fixed to {entry!r}; a grid key needs a "
                f"distribution in [space] or no [space] entry"
            )
            continue
        h = HYPERPARAMETERS[name]
        kept: list[Scalar] = []
        for i, value in enumerate(values):
            normal, problem = h.check(value)
            if problem:
                problems.append(f"{path}[{i}]: {problem}")
            elif any(normal == v for v in kept):
                problems.append(f"{path}[{i}]: duplicate value {normal!r}")
            elif entry is not None and not entry.contains(normal):
                problems.append(
                    f"{path}[{i}]: {normal!r} is outside space.{name} ({entry.describe()})"
                )
            else:
                assert normal is not None
                kept.append(normal)
        grid[name] = kept
    size = math.prod(len(v) for v in grid.values())
    if size > MAX_GRID_POINTS:
        problems.append(
            f"grid: {size:,} points; at most {MAX_GRID_POINTS:,} (each is one training run)"
        )
    return grid if len(problems) == before else None


def expand_grid(
    grid: Mapping[str, list[Scalar]], space: Mapping[str, Any]
) -> list[dict[str, Scalar]]:
    """The cartesian product of the grid values, in a fixed order.

    Keys follow the canonical hyperparameter order; the last key varies fastest,
    values in the order listed. A point whose optimizer ignores momentum drops its
    momentum value, and the duplicates this makes are removed (first one kept).
    """
    names = [n for n in HYPERPARAMETER_NAMES if n in grid]
    points: list[dict[str, Scalar]] = []
    seen: set[tuple[tuple[str, Scalar], ...]] = set()
    for values in itertools.product(*(grid[n] for n in names)):
        point = dict(zip(names, values, strict=True))
        if "momentum" in point:
            optimizer = point.get(
                "optimizer", space.get("optimizer", HYPERPARAMETER_DEFAULTS["optimizer"])
            )
            if optimizer not in MOMENTUM_OPTIMIZERS:
                del point["momentum"]
        key = tuple(point.items())
        if key not in seen:
            seen.add(key)
            points.append(point)
    return points

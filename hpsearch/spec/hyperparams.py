"""The tunable hyperparameters: names, defaults, valid values, and search distributions.

One flat table, ``HYPERPARAMETERS``, keyed by the names used everywhere (study specs,
network code, CLI, dashboard). Parsing and validation of a ``[space]`` entry live here
too, so the rules for a name are written once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hpsearch.nn import (
    ACTIVATIONS,
    INITIALIZERS,
    LOSSES,
    OPTIMIZERS,
    REGULARIZERS,
    USES_MOMENTUM,
)
from hpsearch.spec.checks import finite, show, unknown_keys

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

Kind = Literal["float", "int", "categorical"]
Scalar = bool | int | float | str

#: Optimizers whose update uses ``momentum``; with any other, momentum is never suggested.
MOMENTUM_OPTIMIZERS: tuple[str, ...] = tuple(name for name in OPTIMIZERS if name in USES_MOMENTUM)


@dataclass(frozen=True)
class Hyperparameter:
    """One tunable name: its kind, default and the set of valid values.

    Numeric bounds are ``low``/``high`` (``None`` = unbounded); ``*_inclusive`` say
    whether the bound itself is valid (``eta > 0`` has an exclusive low of 0).
    A categorical's ``table`` is the network's own registry (``hpsearch.nn``), read
    on every check: a name added there is valid in specs with no second edit.
    """

    name: str
    kind: Kind
    default: Scalar
    doc: str
    table: Mapping[str, object] = field(default_factory=dict)
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True

    @property
    def choices(self) -> tuple[str, ...]:
        """The valid names of a categorical, in the network's table order."""
        return tuple(self.table)

    def valid_text(self) -> str:
        """What a valid value looks like, for error messages: ``a float > 0``."""
        if self.kind == "categorical":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        noun = "an int" if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None:
            left = "[" if self.low_inclusive else "("
            right = "]" if self.high_inclusive else ")"
            return f"{noun} in {left}{_num(self.low)}, {_num(self.high)}{right}"
        if self.low is not None:
            return f"{noun} {'>=' if self.low_inclusive else '>'} {_num(self.low)}"
        return noun

    def check(self, value: Any) -> tuple[Scalar | None, str | None]:
        """``(normalised value, None)`` when valid, else ``(None, what was expected)``.

        Floats accept TOML integers (``lambda = 0`` means 0.0); ints refuse floats.
        """
        expected = f"expected {self.valid_text()}, got {show(value)}"
        if self.kind == "categorical":
            if isinstance(value, str) and value in self.choices:
                return value, None
            return None, expected
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, expected
        if self.kind == "int" and not isinstance(value, int):
            return None, expected
        try:
            number: int | float = value if self.kind == "int" else float(value)
        except OverflowError:
            return None, expected
        if isinstance(number, float) and not math.isfinite(number):
            return None, expected
        if self.low is not None and (
            number < self.low or (number == self.low and not self.low_inclusive)
        ):
            return None, expected
        if self.high is not None and (
            number > self.high or (number == self.high and not self.high_inclusive)
        ):
            return None, expected
        return number, None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


#: Upper bounds of the network's size: past them one trial runs for hours or exhausts
#: memory (100,000 layers, or 16M neurons, hung a worker for minutes).
MAX_HIDDEN_LAYERS = 20
MAX_HIDDEN_WIDTH = 8192
MAX_BATCH_SIZE = 1_000_000

HYPERPARAMETERS: dict[str, Hyperparameter] = {
    h.name: h
    for h in (
        Hyperparameter("eta", "float", 0.5, "learning rate", low=0.0, low_inclusive=False),
        Hyperparameter("lambda", "float", 0.0, "regularization strength", low=0.0),
        Hyperparameter("regularizer", "categorical", "l2", "weight penalty", table=REGULARIZERS),
        Hyperparameter(
            "hidden_layers", "int", 1, "number of hidden layers", low=0, high=MAX_HIDDEN_LAYERS
        ),
        Hyperparameter(
            "hidden_width", "int", 30, "neurons per hidden layer", low=1, high=MAX_HIDDEN_WIDTH
        ),
        Hyperparameter(
            "loss",
            "categorical",
            "cross_entropy",
            "cost function",
            table=LOSSES,
        ),
        Hyperparameter(
            "activation",
            "categorical",
            "sigmoid",
            "hidden-layer activation",
            table=ACTIVATIONS,
        ),
        Hyperparameter(
            "dropout", "float", 0.0, "drop probability", low=0.0, high=1.0, high_inclusive=False
        ),
        Hyperparameter(
            "input_noise",
            "float",
            0.0,
            "std of Gaussian noise on training inputs",
            low=0.0,
        ),
        Hyperparameter("batch_size", "int", 10, "mini-batch size", low=1, high=MAX_BATCH_SIZE),
        Hyperparameter(
            "optimizer",
            "categorical",
            "sgd",
            "update rule",
            table=OPTIMIZERS,
        ),
        Hyperparameter(
            "momentum",
            "float",
            0.9,
            "momentum coefficient (momentum/nesterov only)",
            low=0.0,
            high=1.0,
            high_inclusive=False,
        ),
        Hyperparameter(
            "init",
            "categorical",
            "scaled",
            "weight initializer",
            table=INITIALIZERS,
        ),
    )
}

#: Canonical order of the hyperparameters; every params dict follows it.
HYPERPARAMETER_NAMES: tuple[str, ...] = tuple(HYPERPARAMETERS)

#: The value of every hyperparameter a spec leaves out of ``[space]``.
HYPERPARAMETER_DEFAULTS: dict[str, Scalar] = {h.name: h.default for h in HYPERPARAMETERS.values()}


@dataclass(frozen=True)
class FloatRange:
    """``suggest_float(low, high, log=, step=)``; ``high`` is included, as in Optuna."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.step is None:
            return True
        k = (value - self.low) / self.step
        return math.isclose(k, round(k), abs_tol=1e-8)

    def to_optuna(self) -> BaseDistribution:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            out["step"] = self.step
        return out

    def describe(self) -> str:
        step = f", step {self.step}" if self.step is not None else ""
        return f"float [{self.low}, {self.high}]{' log' if self.log else ''}{step}"


@dataclass(frozen=True)
class IntRange:
    """``suggest_int(low, high, step=, log=)``; both ends included."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )

    def to_optuna(self) -> BaseDistribution:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "int",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
        }

    def describe(self) -> str:
        step = f", step {self.step}" if self.step != 1 else ""
        return f"int [{self.low}, {self.high}]{' log' if self.log else ''}{step}"


@dataclass(frozen=True)
class Categorical:
    """``suggest_categorical(choices)``; choices keep their order."""

    choices: tuple[Scalar, ...]

    def contains(self, value: Any) -> bool:
        return any(type(value) is type(c) and value == c for c in self.choices) or (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and any(isinstance(c, float) and value == c for c in self.choices)
        )

    def to_optuna(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


Distribution = FloatRange | IntRange | Categorical

_RANGE_KEYS = ("type", "low", "high", "log", "step")
_CATEGORICAL_KEYS = ("type", "choices")
TYPES = ("float", "int", "categorical")


def parse_entry(
    name: str, raw: Any, path: str, problems: list[str]
) -> Distribution | Scalar | None:
    """Parse one ``[space]`` entry: a fixed value or a distribution table.

    Appends every problem found to ``problems`` and returns ``None`` if there was any.
    """
    h = HYPERPARAMETERS[name]
    if not isinstance(raw, Mapping):
        value, problem = h.check(raw)
        if problem:
            problems.append(f"{path}: {problem} (or a distribution table, e.g. {_example(h)})")
        return value
    before = len(problems)
    kind = raw.get("type")
    if "type" not in raw:
        # Shorthand: a table of only choices is categorical; low/high take the name's kind.
        kind = "categorical" if "choices" in raw or h.kind == "categorical" else h.kind
    elif kind not in TYPES:
        problems.append(
            f"{path}.type: expected one of 'float', 'int', 'categorical', got {show(kind)}"
        )
        return None
    allowed = _CATEGORICAL_KEYS if kind == "categorical" else _RANGE_KEYS
    unknown_keys(raw, allowed, path, problems)
    if kind == "categorical":
        dist: Distribution | None = _parse_choices(h, raw, path, problems)
    elif kind != h.kind:
        wanted = f"type = {h.kind!r}" if h.kind != "categorical" else "choices = [...]"
        problems.append(
            f"{path}.type: {name} takes {h.valid_text()}, so its table needs {wanted} "
            f"(or categorical choices), got {kind!r}"
        )
        return None
    else:
        dist = _parse_range(h, kind, raw, path, problems)
    return dist if len(problems) == before else None


def _example(h: Hyperparameter) -> str:
    if h.kind == "categorical":
        return "{choices = [" + ", ".join(f'"{c}"' for c in h.choices[:2]) + "]}"
    low = h.low if h.low is not None and h.low_inclusive else (h.low or 0) + 0.01
    high = 2 * low + 1 if h.high is None else h.high - (0 if h.high_inclusive else 0.01)
    if h.kind == "int":
        return f"{{low = {int(low)}, high = {int(high)}}}"
    return f"{{low = {low:g}, high = {high:g}}}"


def _parse_choices(
    h: Hyperparameter, raw: Mapping[str, Any], path: str, problems: list[str]
) -> Categorical | None:
    choices = raw.get("choices")
    if choices is None:
        problems.append(f"{path}.choices: missing; a categorical entry needs a list of values")
        return None
    if not isinstance(choices, list) or not choices:
        problems.append(f"{path}.choices: expected a non-empty list of values, got {show(choices)}")
        return None
    values: list[Scalar] = []
    for i, choice in enumerate(choices):
        value, problem = h.check(choice)
        if problem:
            problems.append(f"{path}.choices[{i}]: {problem}")
        elif any(value == v for v in values):
            problems.append(f"{path}.choices[{i}]: duplicate value {value!r}")
        else:
            assert value is not None
            values.append(value)
    return Categorical(tuple(values))


def _parse_range(
    h: Hyperparameter, kind: str, raw: Mapping[str, Any], path: str, problems: list[str]
) -> FloatRange | IntRange | None:
    before = len(problems)
    bounds: dict[str, Any] = {}
    for key in ("low", "high"):
        if key not in raw:
            problems.append(f"{path}.{key}: missing; a {kind} range needs low and high")
            continue
        value, problem = h.check(raw[key])
        if problem:
            problems.append(f"{path}.{key}: {problem}")
        bounds[key] = value
    log = raw.get("log", False)
    if not isinstance(log, bool):
        problems.append(f"{path}.log: expected true or false, got {show(log)}")
        log = False
    step = raw.get("step")
    if step is not None:
        ok = (
            isinstance(step, int) and not isinstance(step, bool)
            if kind == "int"
            else isinstance(step, int | float) and not isinstance(step, bool)
        )
        if not ok or not finite(step) or step <= 0:
            problems.append(f"{path}.step: expected a positive {kind}, got {show(step)}")
            step = None
    if len(problems) > before:
        return None
    low, high = bounds["low"], bounds["high"]
    if low > high:
        problems.append(f"{path}: low ({low}) must be <= high ({high})")
    if log and low <= 0:
        problems.append(f"{path}.low: log = true needs low > 0, got {low}")
    if log and step is not None and step != 1:
        problems.append(f"{path}.step: a log range can't have a step (Optuna forbids it)")
    if step is not None and low <= high and not log:
        k = (high - low) / step
        if not math.isclose(k, round(k), abs_tol=1e-8):
            problems.append(
                f"{path}.step: high - low ({high - low}) must be a multiple of step ({step})"
            )
    if len(problems) > before:
        return None
    if kind == "int":
        return IntRange(int(low), int(high), log=log, step=int(step or 1))
    return FloatRange(float(low), float(high), log=log, step=None if step is None else float(step))

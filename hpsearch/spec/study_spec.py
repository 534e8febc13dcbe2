"""Study specs: TOML files that say what to tune, on which data, with which sampler.

``load_spec(path)``/``parse_spec(mapping)`` are the one place a spec is validated.
Every problem is collected (not just the first) and raised together as a
``SpecError``; each message names its key path and what is valid. The result is a
frozen ``StudySpec`` whose ``to_dict()`` is plain JSON that ``parse_spec`` reads
back, which is how the controller stores the spec in the Optuna study.

Sections: ``[study]``, ``[data]``, ``[training]``, ``[space]``, ``[grid]``; see
``studies/*.toml`` for commented examples.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hpsearch.errors import ConfigError, SpecError
from hpsearch.spec import checks as check
from hpsearch.spec.grid import expand_grid, parse_grid
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
    parse_entry,
    show,
)
from hpsearch.spec.strategies import (
    PRUNER_NAMES,
    SAMPLER_NAMES,
    default_cohort,
    sampler_problem,
)

if TYPE_CHECKING:
    from hpsearch.data import Dataset

__all__ = [
    "HYPERPARAMETERS",
    "HYPERPARAMETER_DEFAULTS",
    "HYPERPARAMETER_NAMES",
    "METRICS",
    "Augmentation",
    "DataSection",
    "StudySection",
    "StudySpec",
    "TrainingSection",
    "load_spec",
    "parse_spec",
]

#: Most folds ``[data] folds`` takes (each trial trains that many networks).
MAX_FOLDS = 20
#: Upper bounds of the budget: a study's trials are enqueued when it is created, and
#: a timeout past a year is a typo, not a plan.
MAX_TRIALS = 100_000
MAX_TIMEOUT = 365 * 24 * 3600.0
#: Most trials a worker trains at once (``[study] cohort``).
MAX_COHORT = 64
#: Most epochs (and patience) per trial.
MAX_EPOCHS = 10_000
#: metric name -> the direction that improves it.
Direction = Literal["maximize", "minimize"]
METRICS: dict[str, Direction] = {"validation_accuracy": "maximize", "validation_loss": "minimize"}
DIRECTIONS: tuple[Direction, ...] = ("maximize", "minimize")
SCHEDULES = ("none", "halve_on_plateau")
DTYPES = ("float32", "float64")
SECTIONS = ("study", "data", "training", "space", "grid")
OVERRIDABLE = ("name", "n_trials", "timeout", "sampler", "pruner", "seed", "cohort")


@dataclass(frozen=True)
class StudySection:
    """``[study]``: what the study is called, what it optimizes and its budget."""

    name: str
    metric: str = "validation_accuracy"
    direction: Direction = "maximize"  # default follows metric
    # Left out, both are "auto": the recommended strategy (hpsearch.spec.strategies.AUTO_*).
    sampler: str = "auto"
    pruner: str = "auto"  # "none" by default for grid, "median" for a named sampler
    seed: int | None = None
    n_trials: int | None = None  # study-wide; for grid, at most the number of points
    timeout: float | None = None  # seconds, study-wide
    description: str | None = None
    # Trials a worker trains at once, as one cohort (hpsearch.nn.cohort); 1 = one by one.
    # The results do not depend on it: every trial has the same seeds either way.
    # Left out of a spec: strategies.default_cohort (4 for "auto", else 1); to_dict
    # leaves a default out, so it follows a sampler changed by with_overrides.
    cohort: int = 1


@dataclass(frozen=True)
class Augmentation:
    """``[data.augmentation]``: random transforms of training images each epoch."""

    rotation: float = 0.0  # max rotation, degrees either way
    shift: int = 0  # max translation, pixels in each axis
    flip: bool = False  # mirror left to right, half the images


@dataclass(frozen=True)
class DataSection:
    """``[data]``: the dataset and how much of it a trial trains on."""

    dataset: str
    # Both are counts (int) or fractions (float in (0, 1)) of the training set, and
    # disjoint (hpsearch.data.split): subset=None trains on all but the validation set.
    subset: int | float | None = None
    validation: int | float = 0.2
    standardize: bool = False  # per-feature zero mean / unit variance from training data
    augmentation: Augmentation | None = None
    # k-fold cross-validation instead of one validation set: each trial trains ``folds``
    # networks, each validated on one fold; ``validation`` is then 1 / folds.
    folds: int | None = None
    deskew: bool = False  # shear each image upright (hpsearch.data.deskew), train and test

    def load(self) -> Dataset:
        """The dataset as every trial, retrain and check of this spec sees it."""
        from hpsearch.data import load

        return load(self.dataset, standardize=self.standardize, deskew=self.deskew)


@dataclass(frozen=True)
class TrainingSection:
    """``[training]``: how each trial trains."""

    epochs: int = 30  # max epochs per trial
    patience: int = 5  # stop after this many epochs without a better validation accuracy
    schedule: str = "none"  # "halve_on_plateau": halve eta on each plateau, stop at eta0/1024
    dtype: str = "float32"


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec. ``space`` holds only what the spec wrote: a fixed value
    or a distribution per name; every other hyperparameter takes its default."""

    study: StudySection
    data: DataSection
    training: TrainingSection
    space: dict[str, Distribution | Scalar]
    grid: dict[str, list[Scalar]] | None = None

    @property
    def searched(self) -> tuple[str, ...]:
        """Names that vary between trials (a distribution in [space] or a [grid] key)."""
        return tuple(
            n
            for n in HYPERPARAMETER_NAMES
            if isinstance(self.space.get(n), FloatRange | IntRange | Categorical)
            or (self.grid is not None and n in self.grid)
        )

    @property
    def grid_size(self) -> int:
        """Number of distinct grid points (0 without a grid)."""
        return 0 if self.grid is None else len(expand_grid(self.grid, self.space))

    @property
    def budget(self) -> int | None:
        """Trials to run: n_trials, capped by the grid size for grid; None = until timeout."""
        if self.study.sampler == "grid":
            size = self.grid_size
            return size if self.study.n_trials is None else min(size, self.study.n_trials)
        return self.study.n_trials

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data that ``parse_spec`` turns back into an equal spec."""
        data = _drop_none(asdict(self.data))
        if self.data.folds is not None:
            del data["validation"]  # derived from folds
        study = _drop_none(asdict(self.study))
        if study["cohort"] == default_cohort(self.study.sampler):
            del study["cohort"]  # the default: specs stored before cohorts read the same
        return {
            "study": study,
            "data": data,
            "training": asdict(self.training),
            "space": {
                n: v.to_dict() if isinstance(v, FloatRange | IntRange | Categorical) else v
                for n, v in self.space.items()
            },
            **({"grid": {n: list(v) for n, v in self.grid.items()}} if self.grid else {}),
        }

    def with_cohort(self, cohort: int | None) -> StudySpec:
        """A copy with ``[study] cohort`` replaced (None: unchanged); a ``ConfigError``
        for a value out of 1..``MAX_COHORT``."""
        if cohort is None or cohort == self.study.cohort:
            return self
        problems: list[str] = []
        check.integer({"cohort": cohort}, "cohort", "cohort", 1, problems, maximum=MAX_COHORT)
        if problems:
            raise ConfigError(problems[0])
        return replace(self, study=replace(self.study, cohort=cohort))

    def with_overrides(self, *, source: str | None = None, **overrides: Any) -> StudySpec:
        """A copy with ``[study]`` fields replaced (CLI > spec > default), revalidated.

        Keys: name, n_trials, timeout, sampler, pruner, seed, cohort; ``None`` means "not given".
        Moving a grid spec to another sampler drops ``[grid]`` and searches ``[space]``.
        """
        unknown = sorted(set(overrides) - set(OVERRIDABLE))
        if unknown:
            raise ConfigError(
                f"cannot override {', '.join(unknown)}; valid: {', '.join(OVERRIDABLE)}"
            )
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        raw = self.to_dict()
        raw["study"].update(given)
        if raw["study"].get("sampler") != "grid":
            raw.pop("grid", None)
        if (
            "sampler" in given
            and "pruner" not in given
            and self.study.pruner == _default_pruner(self.study.sampler)
        ):
            raw["study"].pop("pruner", None)  # a default pruner follows the new sampler
        return parse_spec(raw, source=source)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (_drop_none(v) if isinstance(v, dict) else v) for k, v in d.items() if v is not None}


def _default_pruner(sampler: str) -> str:
    """The pruner of a spec that names ``sampler`` and no pruner: an exact grid trains
    every point fully, "auto" brings its own, any other sampler gets the median rule."""
    return {"grid": "none", "auto": "auto"}.get(sampler, "median")


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a TOML study spec; any problem (file or content) is a ``SpecError``."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError([f"no such file: {source}"], source) from None
    except IsADirectoryError:
        raise SpecError([f"is a directory, expected a .toml file: {source}"], source) from None
    except UnicodeDecodeError as error:
        raise SpecError([f"not UTF-8 text: {error}"], source) from None
    except OSError as error:
        raise SpecError([f"cannot read: {error.strerror or error}"], source) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # The message ends in "(at line L, column C)".
        raise SpecError([f"invalid TOML: {error}"], source) from None
    except RecursionError:
        raise SpecError(["invalid TOML: arrays or tables nested too deeply"], source) from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise SpecError([f"invalid TOML: {error}"], source) from None
    return parse_spec(raw, source=source)


def parse_spec(
    mapping: Mapping[str, Any], source: str | None = None, *, check_environment: bool = True
) -> StudySpec:
    """Validate a spec given as nested mappings (parsed TOML or ``to_dict()`` output).

    ``check_environment=False`` skips the checks that depend on this machine (that the
    dataset exists here, that a sampler's package is installed): a stored study must
    stay readable (status, export, dashboard) on a machine that could not run it.
    """
    if not isinstance(mapping, Mapping):
        raise SpecError([f"expected a table of sections, got {show(mapping)}"], source)
    problems: list[str] = []
    check.unknown_keys(mapping, SECTIONS, "", problems)
    tables = {s: check.table(mapping, s, s, problems) for s in SECTIONS}
    for section, needs in (("study", "name and a budget"), ("data", "dataset")):
        if section not in mapping:
            problems.append(f"{section}: missing; a spec needs a [{section}] table ({needs})")
            tables[section] = None

    study = _parse_study(tables["study"], problems, check_environment)
    data = _parse_data(tables["data"], problems, check_environment)
    training = _parse_training(tables["training"], problems)
    space = _parse_space(tables["space"], problems)
    grid = None
    if tables["grid"] is not None and "grid" in mapping:
        grid = parse_grid(tables["grid"], space, problems)
    _cross_checks(study, space, grid, mapping, problems)
    if problems or study is None or data is None:
        raise SpecError(problems or ["invalid spec"], source)
    return StudySpec(study=study, data=data, training=training, space=space, grid=grid)


def _parse_study(
    raw: Mapping[str, Any] | None, problems: list[str], check_environment: bool = True
) -> StudySection | None:
    """The [study] section; with problems, a best-effort section for the cross-checks."""
    if raw is None:
        return None
    check.unknown_keys(raw, StudySection.__dataclass_fields__, "study", problems)
    name = check.string(raw, "name", "study.name", None, problems, kind="a study name")
    if name is None and "name" not in raw:
        problems.append("study.name: missing; required (a non-empty string naming the study)")
    metric = check.choice(raw, "metric", "study.metric", METRICS, "validation_accuracy", problems)
    direction = check.choice(
        raw, "direction", "study.direction", DIRECTIONS, METRICS[metric], problems
    )
    if direction != METRICS[metric]:
        problems.append(
            f"study.direction: {metric} must be {METRICS[metric]}d, got {direction!r} "
            "(leave direction out: it follows the metric)"
        )
    sampler = check.choice(raw, "sampler", "study.sampler", SAMPLER_NAMES, "auto", problems)
    missing = sampler_problem(sampler) if check_environment else None
    if missing:
        problems.append(f"study.sampler: {missing}")
    default_pruner = _default_pruner(sampler)
    pruner = check.choice(raw, "pruner", "study.pruner", PRUNER_NAMES, default_pruner, problems)
    seed = check.integer(raw, "seed", "study.seed", None, problems, minimum=0)
    if seed is not None and seed >= 2**32:
        problems.append(f"study.seed: expected an int in [0, 2**32), got {seed}")
    n_trials = check.integer(raw, "n_trials", "study.n_trials", None, problems, maximum=MAX_TRIALS)
    timeout = check.positive_number(
        raw, "timeout", "study.timeout", None, problems, maximum=MAX_TIMEOUT
    )
    description = check.string(
        raw,
        "description",
        "study.description",
        None,
        problems,
        kind="a description",
        limit=check.MAX_DESCRIPTION_LENGTH,
    )
    cohort = check.integer(
        raw, "cohort", "study.cohort", default_cohort(sampler), problems, maximum=MAX_COHORT
    )
    sampler_known = raw.get("sampler", "auto") in SAMPLER_NAMES
    if sampler_known and sampler != "grid" and "n_trials" not in raw and "timeout" not in raw:
        problems.append(
            "study: needs a budget: n_trials (int > 0) and/or timeout (seconds > 0); "
            "only sampler = 'grid' may leave both out"
        )
    return StudySection(
        name=name or "",
        metric=metric,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        n_trials=n_trials,
        timeout=None if timeout is None else float(timeout),
        description=description,
        cohort=cohort,
    )


def _parse_data(
    raw: Mapping[str, Any] | None, problems: list[str], check_environment: bool = True
) -> DataSection | None:
    if raw is None:
        return None
    check.unknown_keys(raw, DataSection.__dataclass_fields__, "data", problems)
    before = len(problems)
    dataset = check.string(raw, "dataset", "data.dataset", None, problems)
    if "dataset" not in raw:
        problems.append("data.dataset: missing; required (e.g. 'digits' or 'fashion-mnist')")
    elif dataset is not None and check_environment:
        problem = _dataset_problem(dataset)
        if problem:
            problems.append(f"data.dataset: {problem}")
    subset = check.count_or_fraction(raw, "subset", "data.subset", None, problems)
    validation = check.count_or_fraction(raw, "validation", "data.validation", 0.2, problems)
    folds = check.integer(raw, "folds", "data.folds", None, problems, minimum=2)
    if folds is not None:
        if folds > MAX_FOLDS:
            problems.append(f"data.folds: expected an int in 2..{MAX_FOLDS}, got {folds}")
        elif "validation" in raw:
            problems.append(
                "data.folds and data.validation: give one; with folds, each fold in turn "
                "is the validation set"
            )
        else:
            validation = 1 / folds
    standardize = check.boolean(raw, "standardize", "data.standardize", False, problems)
    deskew = check.boolean(raw, "deskew", "data.deskew", False, problems)
    augmentation = None
    aug = check.table(raw, "augmentation", "data.augmentation", problems)
    if aug:
        check.unknown_keys(aug, ("rotation", "shift", "flip"), "data.augmentation", problems)
        rotation = aug.get("rotation", 0.0)
        if (
            isinstance(rotation, bool)
            or not isinstance(rotation, int | float)
            or not 0 <= rotation <= 180
        ):
            problems.append(
                f"data.augmentation.rotation: expected degrees in [0, 180], got {show(rotation)}"
            )
            rotation = 0.0
        shift = check.integer(aug, "shift", "data.augmentation.shift", 0, problems, minimum=0)
        flip = check.boolean(aug, "flip", "data.augmentation.flip", False, problems)
        augmentation = Augmentation(rotation=float(rotation), shift=shift, flip=flip)
    if len(problems) > before or dataset is None:
        return None
    return DataSection(dataset, subset, validation, standardize, augmentation, folds, deskew)


def _dataset_problem(name: str) -> str | None:
    """``hpsearch.data.check_name``: a one-line problem, or None when the name is valid."""
    from hpsearch.data import check_name  # lazy: the data package loads more than we need

    return check_name(name)


def _parse_training(raw: Mapping[str, Any] | None, problems: list[str]) -> TrainingSection:
    if not raw:
        return TrainingSection()
    check.unknown_keys(raw, TrainingSection.__dataclass_fields__, "training", problems)
    return TrainingSection(
        epochs=check.integer(raw, "epochs", "training.epochs", 30, problems, maximum=MAX_EPOCHS),
        patience=check.integer(
            raw, "patience", "training.patience", 5, problems, maximum=MAX_EPOCHS
        ),
        schedule=check.choice(raw, "schedule", "training.schedule", SCHEDULES, "none", problems),
        dtype=check.choice(raw, "dtype", "training.dtype", DTYPES, "float32", problems),
    )


def _parse_space(raw: Mapping[str, Any] | None, problems: list[str]) -> dict[str, Any]:
    space: dict[str, Any] = {}
    if not raw:
        return space
    check.unknown_keys(raw, HYPERPARAMETER_NAMES, "space", problems)
    for name in HYPERPARAMETER_NAMES:  # canonical order, whatever the file's order
        if name in raw:
            entry = parse_entry(name, raw[name], f"space.{name}", problems)
            if entry is not None:
                space[name] = entry
    return space


def _cross_checks(
    study: StudySection | None,
    space: dict[str, Any],
    grid: dict[str, list[Scalar]] | None,
    mapping: Mapping[str, Any],
    problems: list[str],
) -> None:
    """Rules that involve more than one section."""
    raw_study = mapping.get("study")
    # With an unknown sampler name, "does it fit [grid]?" has no answer: skip.
    if study is not None and (raw_study or {}).get("sampler", "auto") in SAMPLER_NAMES:
        if study.sampler == "grid" and "grid" not in mapping:
            problems.append(
                "grid: missing; sampler = 'grid' needs a [grid] table of values per "
                "hyperparameter, e.g. eta = [0.025, 0.25, 2.5]"
            )
        if study.sampler != "grid" and "grid" in mapping:
            problems.append(
                f"grid: a [grid] table needs study.sampler = 'grid', got {study.sampler!r} "
                "(remove [grid] to search [space] instead)"
            )
        if study.sampler == "grid" and grid is not None:
            # An exact grid must not sample: every varying name is a grid key.
            for name, entry in space.items():
                if isinstance(entry, FloatRange | IntRange | Categorical) and name not in grid:
                    problems.append(
                        f"space.{name}: a grid study can't sample {name}; list its values "
                        f"in [grid] or fix it (e.g. {name} = {HYPERPARAMETER_DEFAULTS[name]!r})"
                    )
        if study.sampler == "grid" and grid is not None and study.n_trials is not None:
            size = len(expand_grid(grid, space))
            if study.n_trials > size:
                problems.append(
                    f"study.n_trials: a grid runs each of its {size} points once; "
                    f"n_trials must be <= {size}, got {study.n_trials}"
                )
    # momentum is only suggested under momentum/nesterov: searching it otherwise is a slip.
    momentum_searched = isinstance(space.get("momentum"), FloatRange | IntRange | Categorical) or (
        grid is not None and "momentum" in grid
    )
    optimizer = space.get("optimizer", HYPERPARAMETER_DEFAULTS["optimizer"])
    optimizer_varies = isinstance(optimizer, Categorical) or (
        grid is not None and "optimizer" in grid
    )
    if momentum_searched and not optimizer_varies and optimizer not in MOMENTUM_OPTIMIZERS:
        problems.append(
            f"space.momentum: searched, but optimizer is {optimizer!r}, which ignores it; "
            f"momentum is used by optimizer = {' or '.join(map(repr, MOMENTUM_OPTIMIZERS))}"
        )

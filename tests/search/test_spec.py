"""Study specs: parsing, validation messages, defaults, round trips, overrides."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpsearch.errors import ConfigError, SpecError
from hpsearch.spec import study_spec as spec_module
from hpsearch.spec.hyperparams import Categorical, FloatRange, IntRange
from hpsearch.spec.study_spec import (
    HYPERPARAMETER_DEFAULTS,
    StudySpec,
    load_spec,
    parse_spec,
)

STUDIES = sorted((Path(__file__).parents[2] / "studies").glob("*.toml"))
KNOWN_DATASETS = ("digits", "fashion-mnist", "mnist")


def _stub_dataset_problem(name: str) -> str | None:
    if name in KNOWN_DATASETS:
        return None
    return f"unknown dataset {name!r}; valid: {', '.join(KNOWN_DATASETS)}"


@pytest.fixture(autouse=True)
def stub_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dataset names are checked by hpsearch.data; a stub keeps these tests independent of it."""
    monkeypatch.setattr(spec_module, "_dataset_problem", _stub_dataset_problem)


def good() -> dict[str, Any]:
    return {
        "study": {"name": "s", "n_trials": 5, "seed": 1},
        "data": {"dataset": "digits", "subset": 500, "validation": 100},
        "training": {"epochs": 5, "patience": 2},
        "space": {
            "eta": {"type": "float", "low": 0.01, "high": 3.0, "log": True},
            "lambda": {"low": 0.0, "high": 5.0},
            "hidden_width": {"type": "int", "low": 10, "high": 100, "step": 10},
            "loss": "cross_entropy",
            "activation": {"choices": ["sigmoid", "relu"]},
        },
    }


def grid_spec() -> dict[str, Any]:
    raw = good()
    raw["study"] = {"name": "g", "sampler": "grid"}
    raw["space"] = {"eta": {"low": 0.01, "high": 3.0, "log": True}, "loss": "quadratic"}
    raw["grid"] = {"eta": [0.025, 0.25, 2.5], "lambda": [0, 0.1, 1, 5]}
    return raw


def with_(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``raw`` with ``a.b.c`` set to ``value`` (``...`` deletes it)."""
    out = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return out


def test_good_spec_parses_with_defaults() -> None:
    """A valid spec parses; unwritten fields take the documented defaults."""
    spec = parse_spec(good())
    assert spec.study.metric == "validation_accuracy"
    assert spec.study.direction == "maximize"
    assert (spec.study.sampler, spec.study.pruner) == ("auto", "auto")
    assert spec.training.schedule == "none" and spec.training.dtype == "float32"
    assert spec.data.validation == 100 and spec.data.standardize is False
    assert spec.space["eta"] == FloatRange(0.01, 3.0, log=True)
    assert spec.space["lambda"] == FloatRange(0.0, 5.0)  # float bounds -> float shorthand
    assert spec.space["hidden_width"] == IntRange(10, 100, step=10)
    assert spec.space["activation"] == Categorical(("sigmoid", "relu"))
    assert spec.searched == ("eta", "lambda", "hidden_width", "activation")
    assert HYPERPARAMETER_DEFAULTS["eta"] == 0.5 and HYPERPARAMETER_DEFAULTS["momentum"] == 0.9


def test_direction_follows_metric_and_grid_defaults_to_no_pruning() -> None:
    """validation_loss is minimized by default; a grid study defaults to pruner none."""
    spec = parse_spec(with_(good(), "study.metric", "validation_loss"))
    assert spec.study.direction == "minimize"
    grid = parse_spec(grid_spec())
    assert grid.study.pruner == "none"
    assert grid.grid == {"eta": [0.025, 0.25, 2.5], "lambda": [0.0, 0.1, 1.0, 5.0]}
    assert grid.budget == 12 == grid.grid_size


BAD: list[tuple[str, Any, list[str]]] = [
    ("study.name", ..., ["study.name: missing"]),
    ("study.name", 3, ["study.name: expected a non-empty string"]),
    ("study.nmae", "x", ["study.nmae: unknown key", "did you mean 'name'"]),
    ("studdy", {}, ["studdy: unknown key", "did you mean 'study'"]),
    ("study.sampler", "tpee", ["study.sampler: expected one of tpe, random", "did you mean 'tpe'"]),
    ("study.pruner", "mediam", ["study.pruner: expected one of none, median, successive_halving"]),
    ("study.metric", "accuracy", ["study.metric: expected one of validation_accuracy"]),
    ("study.direction", "minimize", ["study.direction: validation_accuracy must be maximized"]),
    ("study.n_trials", 0, ["study.n_trials: expected an int in 1..100,000, got 0"]),
    ("study.n_trials", True, ["study.n_trials: expected an int in 1..100,000, got True"]),
    ("study.n_trials", ..., ["study: needs a budget"]),
    ("study.timeout", -1, ["study.timeout: expected a number > 0"]),
    ("study.seed", -1, ["study.seed: expected an int >= 0"]),
    ("study.sampler", "grid", ["grid: missing; sampler = 'grid' needs a [grid] table"]),
    ("data", ..., ["data: missing"]),
    ("data.dataset", ..., ["data.dataset: missing"]),
    ("data.dataset", "cifar", ["data.dataset: unknown dataset 'cifar'", "fashion-mnist"]),
    ("data.subset", 0, ["data.subset: expected an int count >= 1 or a float fraction"]),
    ("data.subset", 1.0, ["data.subset: expected an int count >= 1 or a float fraction in (0, 1)"]),
    (
        "data.validation",
        1.0,
        ["data.validation: expected an int count >= 1 or a float fraction in (0, 1)"],
    ),
    ("data.standardize", "yes", ["data.standardize: expected true or false"]),
    ("data.deskew", 1, ["data.deskew: expected true or false"]),
    ("data.augmentation", {"flip": "yes"}, ["data.augmentation.flip: expected true or false"]),
    ("space.input_noise", -0.5, ["space.input_noise: expected a number >= 0"]),
    ("data.folds", 1, ["data.folds: expected an int >= 2, got 1"]),
    ("data.folds", 50, ["data.folds: expected an int in 2..20, got 50"]),
    ("data.folds", 5, ["data.folds and data.validation: give one"]),  # good() has validation
    (
        "data.augmentation",
        {"rotation": 400, "shfit": 1},
        [
            "data.augmentation.rotation: expected degrees",
            "data.augmentation.shfit: unknown key",
            "did you mean 'shift'",
        ],
    ),
    ("training.epochs", 0, ["training.epochs: expected an int in 1..10,000"]),
    ("training.patience", 2.5, ["training.patience: expected an int in 1..10,000"]),
    ("training.schedule", "cosine", ["training.schedule: expected one of none, halve_on_plateau"]),
    ("training.dtype", "float16", ["training.dtype: expected one of float32, float64"]),
    ("training.epoch", 3, ["training.epoch: unknown key", "did you mean 'epochs'"]),
    ("space.etaa", 0.1, ["space.etaa: unknown key", "did you mean 'eta'"]),
    ("space.eta", 0, ["space.eta: expected a number > 0, got 0"]),
    ("space.eta", {"low": 3.0, "high": 1.0}, ["space.eta: low (3.0) must be <= high (1.0)"]),
    ("space.eta", {"low": 0.0, "high": 1.0, "log": True}, ["space.eta.low: expected a number > 0"]),
    (
        "space.lambda",
        {"low": 0.0, "high": 1.0, "log": True},
        ["space.lambda.low: log = true needs low > 0"],
    ),
    ("space.eta", {"low": 0.1}, ["space.eta.high: missing"]),
    (
        "space.eta",
        {"type": "normal", "low": 0.1, "high": 1},
        ["space.eta.type: expected one of 'float', 'int', 'categorical'"],
    ),
    (
        "space.eta",
        {"low": 0.1, "high": 1, "lg": True},
        ["space.eta.lg: unknown key", "did you mean 'log'"],
    ),
    ("space.eta", {"low": 0.1, "high": 1, "log": "yes"}, ["space.eta.log: expected true or false"]),
    ("space.loss", {"choices": []}, ["space.loss.choices: expected a non-empty list"]),
    (
        "space.loss",
        {"choices": ["quadratic", "mse"]},
        [
            "space.loss.choices[1]: expected one of 'quadratic', 'cross_entropy', 'log_likelihood', got 'mse'"
        ],
    ),
    (
        "space.loss",
        {"choices": ["quadratic", "quadratic"]},
        ["space.loss.choices[1]: duplicate value 'quadratic'"],
    ),
    ("space.loss", "mse", ["space.loss: expected one of 'quadratic'"]),
    ("space.loss", {"low": 1, "high": 2}, ["space.loss.choices: missing"]),
    (
        "space.activation",
        {"type": "float", "low": 1, "high": 2},
        ["space.activation.type: activation takes one of"],
    ),
    (
        "space.hidden_layers",
        {"type": "float", "low": 1, "high": 2},
        ["space.hidden_layers.type: hidden_layers takes an int in [0, 20]"],
    ),
    (
        "space.hidden_width",
        {"low": 10.5, "high": 20},
        ["space.hidden_width.low: expected an int in [1, 8192]"],
    ),
    (
        "space.hidden_width",
        {"low": 10, "high": 25, "step": 10},
        ["space.hidden_width.step: high - low (15) must be a multiple of step (10)"],
    ),
    (
        "space.hidden_width",
        {"low": 10, "high": 100, "step": 0},
        ["space.hidden_width.step: expected a positive int"],
    ),
    ("space.hidden_width", 0, ["space.hidden_width: expected an int in [1, 8192], got 0"]),
    ("space.dropout", 1.0, ["space.dropout: expected a number in [0, 1), got 1.0"]),
    (
        "space.dropout",
        {"low": 0.0, "high": 1.0},
        ["space.dropout.high: expected a number in [0, 1)"],
    ),
    (
        "space.momentum",
        {"low": 0.5, "high": 0.99},
        ["space.momentum: searched, but optimizer is 'sgd'"],
    ),
    ("space.batch_size", True, ["space.batch_size: expected an int in [1, 1000000], got True"]),
    ("space", [1, 2], ["space: expected a table, got [1, 2]"]),
    ("grid", {"eta": [0.1]}, ["grid: a [grid] table needs study.sampler = 'grid', got 'auto'"]),
]


@pytest.mark.parametrize(("path", "value", "fragments"), BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_spec_names_the_key_and_what_is_valid(
    path: str, value: Any, fragments: list[str]
) -> None:
    """Each problem is reported as one message naming its key path and the valid values."""
    with pytest.raises(SpecError) as info:
        parse_spec(with_(good(), path, value), source="x.toml")
    text = "\n".join(info.value.problems)
    for fragment in fragments:
        assert fragment in text
    assert info.value.source == "x.toml" and str(info.value).startswith("x.toml: ")


BAD_GRID: list[tuple[str, Any, list[str]]] = [
    ("grid.eta", [0.025, 5.0], ["grid.eta[1]: 5.0 is outside space.eta (float [0.01, 3.0] log)"]),
    ("grid.eta", [0.1, 0.1], ["grid.eta[1]: duplicate value 0.1"]),
    ("grid.eta", [], ["grid.eta: expected a non-empty list"]),
    ("grid.eta", 0.1, ["grid.eta: expected a non-empty list"]),
    ("grid.lambda", [-1], ["grid.lambda[0]: expected a number >= 0"]),
    ("grid.loss", ["quadratic"], ["grid.loss: space.loss is fixed to 'quadratic'"]),
    ("grid.etta", [1], ["grid.etta: unknown key", "did you mean 'eta'"]),
    ("grid", {}, ["grid: empty"]),
    (
        "space.dropout",
        {"low": 0.0, "high": 0.5},
        ["space.dropout: a grid study can't sample dropout"],
    ),
    ("study.n_trials", 13, ["study.n_trials: a grid runs each of its 12 points once"]),
    ("grid.momentum", [0.5, 0.9], ["space.momentum: searched, but optimizer is 'sgd'"]),
]


@pytest.mark.parametrize(("path", "value", "fragments"), BAD_GRID, ids=[p for p, _, _ in BAD_GRID])
def test_bad_grid_names_the_key_and_what_is_valid(
    path: str, value: Any, fragments: list[str]
) -> None:
    """Grid values must be valid, distinct, inside [space], and cover every sampled name."""
    with pytest.raises(SpecError) as info:
        parse_spec(with_(grid_spec(), path, value))
    text = "\n".join(info.value.problems)
    for fragment in fragments:
        assert fragment in text


def test_all_problems_are_reported_together() -> None:
    """Validation collects every problem instead of stopping at the first."""
    raw = with_(good(), "study.sampler", "nope")
    raw = with_(raw, "data.subset", -3)
    raw = with_(raw, "space.eta", {"low": 2.0, "high": 1.0})
    raw = with_(raw, "space.bogus", 1)
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    assert len(info.value.problems) == 4
    assert str(info.value).count("\n  - ") == 4


def test_gp_without_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """sampler = 'gp' without PyTorch installed is a problem that says how to install it."""
    from hpsearch.spec import strategies

    monkeypatch.setattr(strategies, "_installed", lambda module: module != "torch")
    with pytest.raises(SpecError, match=r"study\.sampler: .*torch.*pip install 'hpsearch\[gp\]'"):
        parse_spec(with_(good(), "study.sampler", "gp"))
    monkeypatch.setattr(strategies, "_installed", lambda module: True)
    assert parse_spec(with_(good(), "study.sampler", "gp")).study.sampler == "gp"


# Nested garbage: scalars of every TOML type, lists and tables, keys sometimes valid.
_KEYS = st.sampled_from(
    ["study", "data", "training", "space", "grid", "name", "n_trials", "sampler", "dataset",
     "eta", "lambda", "loss", "momentum", "optimizer", "low", "high", "log", "step", "type",
     "choices", "augmentation", "x", "metric", "direction", "pruner", "timeout", "seed",
     "subset", "validation", "epochs", "patience", "schedule", "dtype", "description",
     "hidden_width", "dropout", "rotation", "shift", "standardize", "deskew", "input_noise"]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 2**40)
    | st.just(10**400)
    | st.floats(allow_nan=True)
    | st.sampled_from(
        ["grid", "tpe", "digits", "sgd", "float", "int", "categorical", "l2", "", "validation_loss"]
    )
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_VALUES, st.dictionaries(_KEYS, _VALUES, max_size=6)))
def test_garbage_specs_raise_only_spec_error(raw: Any) -> None:
    """Whatever the input, parse_spec returns a StudySpec or raises SpecError, nothing else."""
    try:
        spec = parse_spec(raw)
    except SpecError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
    else:
        assert spec.study.name and parse_spec(spec.to_dict()) == spec


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "study": st.just({"name": "h", "n_trials": 3}),
            "data": st.just({"dataset": "digits"}),
            "space": st.dictionaries(_KEYS, _VALUES, max_size=4),
        }
    )
)
def test_near_valid_specs_raise_only_spec_error(raw: dict[str, Any]) -> None:
    """Specs valid except for a random [space] also fail only with SpecError."""
    try:
        spec = parse_spec(raw)
    except SpecError:
        return
    assert parse_spec(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("make", [good, grid_spec], ids=["tpe", "grid"])
def test_to_dict_round_trips_through_json(make: Any) -> None:
    """to_dict() is JSON-serialisable and parse_spec(to_dict()) equals the original."""
    raw = make()
    raw["data"]["augmentation"] = {"rotation": 10, "shift": 2, "flip": True}
    spec = parse_spec(raw)
    assert spec.data.augmentation is not None and spec.data.augmentation.flip
    again = parse_spec(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.to_dict() == spec.to_dict()


def test_flip_alone_turns_augmentation_on() -> None:
    """A spec whose augmentation only flips still augments the trials' batches."""
    from hpsearch.tuning.objective import make_augmentation

    raw = good()
    raw["data"]["augmentation"] = {"flip": True}
    augment = make_augmentation(parse_spec(raw), (8, 8))
    assert augment is not None and augment.flip and not augment.shift
    raw["data"]["augmentation"] = {"flip": False}
    assert make_augmentation(parse_spec(raw), (8, 8)) is None


def test_folds_replace_the_validation_set() -> None:
    """With [data] folds = k, each fold in turn validates: validation is 1/k (what
    retrain keeps), and to_dict() round-trips without a validation key."""
    raw = with_(good(), "data.validation", ...)
    raw["data"]["folds"] = 4
    spec = parse_spec(raw)
    assert spec.data.folds == 4 and spec.data.validation == 0.25
    stored = json.loads(json.dumps(spec.to_dict()))
    assert "validation" not in stored["data"] and parse_spec(stored) == spec
    assert parse_spec(good()).data.folds is None


@pytest.mark.parametrize("path", STUDIES, ids=[p.name for p in STUDIES])
def test_ready_studies_validate_and_round_trip(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every studies/*.toml validates against the real dataset check and round-trips."""
    monkeypatch.undo()  # the real hpsearch.data check, not the stub
    spec = load_spec(path)
    assert spec.study.name == path.stem
    assert spec.budget is not None and spec.budget > 0
    assert parse_spec(json.loads(json.dumps(spec.to_dict()))) == spec


def test_studies_exist() -> None:
    """The ready studies ship with the project."""
    assert {p.name for p in STUDIES} >= {
        "digits-quick.toml",
        "digits.toml",
        "fashion-mnist.toml",
        "fashion-mnist-grid.toml",
        "nielsen-ch3.toml",
    }


def test_with_overrides_revalidates_and_keeps_precedence() -> None:
    """Overrides replace spec values (CLI > spec), None means 'not given', bad ones fail."""
    spec = parse_spec(good())
    assert spec.with_overrides(n_trials=None, timeout=None) is spec
    changed = spec.with_overrides(n_trials=9, timeout=60, name="other", sampler="random")
    assert (changed.study.n_trials, changed.study.timeout) == (9, 60.0)
    assert (changed.study.name, changed.study.sampler) == ("other", "random")
    assert changed.space == spec.space
    with pytest.raises(SpecError, match=r"study\.n_trials: expected an int in 1..100,000"):
        spec.with_overrides(n_trials=0)
    with pytest.raises(SpecError, match="grid: missing"):
        spec.with_overrides(sampler="grid")
    with pytest.raises(ConfigError, match="cannot override epochs"):
        spec.with_overrides(epochs=3)


def test_grid_spec_overridden_to_tpe_searches_the_space() -> None:
    """Moving a grid study to another sampler drops [grid]; the default pruner follows."""
    raw = grid_spec()
    raw["space"]["lambda"] = {"low": 0.0, "high": 5.0}
    spec = parse_spec(raw)
    tpe = spec.with_overrides(sampler="tpe", n_trials=20)
    assert tpe.grid is None and tpe.study.pruner == "median"
    assert tpe.searched == ("eta", "lambda")


def test_load_spec_file_errors_are_spec_errors(tmp_path: Path) -> None:
    """A missing file, a directory, bad UTF-8 and bad TOML (with its line) are SpecErrors."""
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(binary)
    broken = tmp_path / "x.toml"
    broken.write_text('[study]\nname = "a"\nn_trials = \n')
    with pytest.raises(SpecError, match=r"invalid TOML: .*line 3") as info:
        load_spec(broken)
    assert info.value.source == str(broken)


def test_spec_is_frozen() -> None:
    """A parsed spec can't be changed in place; with_overrides makes a new one."""
    spec = parse_spec(good())
    with pytest.raises(AttributeError):
        spec.study = spec.study  # type: ignore[misc]
    assert isinstance(spec, StudySpec)


def test_explicit_none_values_are_type_problems() -> None:
    """A key present with a non-TOML None value is a wrong type, never a silent default."""
    for path in ("study.name", "study.metric", "study.n_trials", "data.subset", "space.eta"):
        with pytest.raises(SpecError, match=path.replace(".", r"\.")):
            parse_spec(with_(good(), path, None))


def test_huge_grid_is_refused_before_expansion() -> None:
    """A grid of more than 100,000 points is a problem (and is not expanded to find out)."""
    raw = grid_spec()
    raw["space"] = {}
    raw["grid"] = {
        "eta": [0.1 * i for i in range(1, 101)],
        "lambda": [0.1 * i for i in range(100)],
        "hidden_width": list(range(1, 101)),
    }
    with pytest.raises(SpecError, match="grid: 1,000,000 points; at most 100,000"):
        parse_spec(raw)

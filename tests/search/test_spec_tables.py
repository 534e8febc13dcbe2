"""The spec's hyperparameter choices are the network's own tables (hpsearch.nn)."""

from __future__ import annotations

import pytest

from hpsearch import nn
from hpsearch.errors import SpecError
from hpsearch.nn.activations import ACTIVATIONS
from hpsearch.spec import study_spec as spec_module
from hpsearch.spec.hyperparams import HYPERPARAMETERS, MOMENTUM_OPTIMIZERS
from hpsearch.spec.study_spec import parse_spec


def _spec(activation: object) -> dict[str, object]:
    return {
        "study": {"name": "s", "n_trials": 2, "seed": 1},
        "data": {"dataset": "digits", "subset": 100, "validation": 50},
        "training": {"epochs": 2, "patience": 1},
        "space": {"activation": activation},
    }


@pytest.fixture(autouse=True)
def known_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_module, "_dataset_problem", lambda name: None)


def test_choices_are_the_network_tables() -> None:
    """Every categorical lists exactly the names its nn registry has, in its order."""
    tables = {
        "activation": nn.ACTIVATIONS,
        "loss": nn.LOSSES,
        "init": nn.INITIALIZERS,
        "optimizer": nn.OPTIMIZERS,
        "regularizer": nn.REGULARIZERS,
    }
    for name, table in tables.items():
        assert HYPERPARAMETERS[name].choices == tuple(table)
    assert set(MOMENTUM_OPTIMIZERS) == set(nn.USES_MOMENTUM)


def test_an_activation_added_to_nn_is_valid_in_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering an activation in hpsearch.nn is the only edit a spec needs to use it."""
    with pytest.raises(SpecError, match="swish"):
        parse_spec(_spec({"choices": ["sigmoid", "swish"]}))
    monkeypatch.setitem(ACTIVATIONS, "swish", ACTIVATIONS["sigmoid"])
    spec = parse_spec(_spec({"choices": ["sigmoid", "swish"]}))
    assert spec.to_dict()["space"]["activation"]["choices"] == ["sigmoid", "swish"]
    assert parse_spec(_spec("swish")).to_dict()["space"]["activation"] == "swish"

"""``Ensemble``: averaged class probabilities, its loss, and one-file persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.errors import ConfigError
from hpsearch.nn import Ensemble, Network, load_model


def _members(n: int, sizes: list[int] | None = None) -> list[Network]:
    return [
        Network(sizes or [64, 12, 10], loss="log_likelihood", seed=s, activation="tanh")
        for s in range(n)
    ]


def test_probabilities_are_the_members_mean(digits: dict[str, np.ndarray]) -> None:
    """predict_proba averages the members' rows (which still sum to 1); predict is its argmax;
    a one-member ensemble predicts as its member does."""
    X = digits["X_test"]
    members = _members(3)
    ensemble = Ensemble(members)
    expected = np.mean([m.predict_proba(X) for m in members], axis=0)
    proba = ensemble.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (ensemble.predict(X) == expected.argmax(axis=1)).all()
    np.testing.assert_array_equal(Ensemble(members[:1]).predict(X), members[0].predict(X))


def test_evaluate_is_the_log_likelihood_of_the_averaged_probabilities(
    digits: dict[str, np.ndarray],
) -> None:
    """(loss, accuracy): -mean ln p_y of the mean probabilities, and the argmax hit rate;
    a one-member ensemble of a softmax net reports that net's own loss."""
    X, y = digits["X_test"], digits["y_test"]
    members = _members(4)
    proba = np.mean([m.predict_proba(X) for m in members], axis=0)
    loss, accuracy = Ensemble(members).evaluate(X, y)
    assert loss == pytest.approx(-np.log(proba[np.arange(len(y)), y]).mean(), rel=1e-5)
    assert accuracy == pytest.approx((proba.argmax(axis=1) == y).mean())
    single_loss, single_accuracy = Ensemble(members[:1]).evaluate(X, y)
    assert (single_loss, single_accuracy) == pytest.approx(members[0].evaluate(X, y), rel=1e-5)


def test_save_and_load_model_round_trip(tmp_path: Path, digits: dict[str, np.ndarray]) -> None:
    """load_model reads an ensemble back as an Ensemble that predicts identically (members
    of different hidden layers too), and a single network's file as a Network."""
    X = digits["X_test"]
    ensemble = Ensemble(_members(3))
    ensemble.save(tmp_path / "e.npz")
    loaded = load_model(tmp_path / "e.npz")
    assert isinstance(loaded, Ensemble) and len(loaded) == 3
    np.testing.assert_array_equal(loaded.predict_proba(X), ensemble.predict_proba(X))
    assert [m.config for m in loaded.members] == [m.config for m in ensemble.members]
    mixed = Ensemble(_members(1) + _members(1, [64, 20, 10]) + _members(1, [64, 7, 7, 10]))
    mixed.save(tmp_path / "mixed.npz")
    back = load_model(tmp_path / "mixed.npz")
    assert isinstance(back, Ensemble) and [m.sizes for m in back.members] == [
        [64, 12, 10],
        [64, 20, 10],
        [64, 7, 7, 10],
    ]
    np.testing.assert_array_equal(back.predict_proba(X), mixed.predict_proba(X))
    single = _members(1)[0]
    single.save(tmp_path / "n.npz")
    assert isinstance(load_model(tmp_path / "n.npz"), Network)


def test_bad_ensembles_and_files_are_clear_errors(tmp_path: Path) -> None:
    """No members, members of two input or class counts, a missing file and a damaged ensemble file:
    one ConfigError each that names the problem."""
    with pytest.raises(ConfigError, match="at least one network"):
        Ensemble([])
    with pytest.raises(ConfigError, match="must share their inputs and classes"):
        Ensemble(_members(1) + _members(1, [64, 5, 9]))
    with pytest.raises(ConfigError, match="must share their inputs and classes"):
        Ensemble(_members(1) + _members(1, [63, 5, 10]))
    with pytest.raises(ConfigError, match="no model file"):
        load_model(tmp_path / "missing.npz")
    Ensemble(_members(2)).save(tmp_path / "e.npz")
    with np.load(tmp_path / "e.npz") as data:
        arrays = {k: data[k] for k in data.files if k != "member1_biases_0"}
    np.savez(tmp_path / "damaged.npz", **arrays)
    with pytest.raises(ConfigError, match=r"damaged\.npz: not a network saved by hpsearch"):
        load_model(tmp_path / "damaged.npz")

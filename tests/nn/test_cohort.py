"""Cohorts: a member learns in a cohort exactly what it learns alone; grouping rules."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np
import pytest

from hpsearch.errors import ConfigError
from hpsearch.nn import Network, StopReason, cohort_group, train
from hpsearch.nn import cohort as cohort_module
from hpsearch.nn.cohort import CohortMember, group_members, train_cohort

DATA_SEED = 7

#: Mixed widths, activations, losses, initializers, optimizers, penalties, dropout and
#: noise; depths mixed within a group; batch sizes that fall into several groups.
#: Every member trains stably: a 1e-15 change of its initial weights moves its final
#: weights by a few 1e-15, not more. A chaotic member (eta 0.4 with this 26-14 tanh
#: net moves them by O(1)) would make the test measure BLAS's rounding, not the cohort.
CONFIGS: list[dict[str, Any]] = [
    {
        "sizes": [64, 30, 10],
        "activation": "sigmoid",
        "loss": "cross_entropy",
        "init": "scaled",
        "dropout": 0.0,
        "eta": 0.5,
        "l2": 1.0,
        "optimizer": "sgd",
        "batch_size": 10,
    },
    {
        "sizes": [64, 17, 10],
        "activation": "tanh",
        "loss": "log_likelihood",
        "init": "glorot",
        "dropout": 0.2,
        "eta": 0.1,
        "l2": 5.0,
        "optimizer": "sgd",
        "batch_size": 10,
    },
    {
        "sizes": [64, 50, 10],
        "activation": "relu",
        "loss": "quadratic",
        "init": "he",
        "dropout": 0.1,
        "eta": 2.0,
        "l2": 0.5,
        "optimizer": "sgd",
        "batch_size": 10,
    },
    {
        "sizes": [64, 23, 10],
        "activation": "leaky_relu",
        "loss": "log_likelihood",
        "init": "he",
        "dropout": 0.0,
        "eta": 0.3,
        "l2": 2.0,
        "optimizer": "sgd",
        "batch_size": 10,
        "schedule": "halve_on_plateau",
    },
    {
        "sizes": [64, 26, 14, 10],
        "activation": "tanh",
        "loss": "cross_entropy",
        "init": "glorot",
        "dropout": 0.15,
        "eta": 0.1,
        "l2": 1.5,
        "optimizer": "sgd",
        "batch_size": 10,
    },
    {
        "sizes": [64, 20, 12, 10],
        "activation": "relu",
        "loss": "log_likelihood",
        "init": "he",
        "dropout": 0.3,
        "eta": 0.05,
        "optimizer": "momentum",
        "momentum": 0.8,
        "batch_size": 16,
    },
    {
        "sizes": [64, 25, 40, 10],
        "activation": "leaky_relu",
        "loss": "cross_entropy",
        "init": "scaled",
        "dropout": 0.0,
        "eta": 0.02,
        "optimizer": "momentum",
        "batch_size": 16,
    },
    {
        "sizes": [64, 25, 10],
        "activation": "tanh",
        "loss": "log_likelihood",
        "init": "glorot",
        "dropout": 0.1,
        "eta": 0.01,
        "optimizer": "adam",
        "batch_size": 32,
    },
    {
        "sizes": [64, 33, 10],
        "activation": "sigmoid",
        "loss": "cross_entropy",
        "init": "scaled",
        "eta": 0.1,
        "optimizer": "adam",
        "batch_size": 32,
    },
    {
        "sizes": [64, 40, 10],
        "activation": "relu",
        "loss": "log_likelihood",
        "init": "he",
        "dropout": 0.2,
        "eta": 0.05,
        "l1": 2.0,
        "optimizer": "nesterov",
        "batch_size": 20,
    },
    {
        "sizes": [64, 15, 10],
        "activation": "tanh",
        "loss": "log_likelihood",
        "init": "glorot",
        "eta": 0.05,
        "l1": 1.0,
        "optimizer": "nesterov",
        "batch_size": 20,
    },
    {
        "sizes": [64, 28, 10],
        "activation": "sigmoid",
        "loss": "log_likelihood",
        "init": "scaled",
        "eta": 0.05,
        "optimizer": "adagrad",
        "batch_size": 25,
    },
    {
        "sizes": [64, 19, 10],
        "activation": "relu",
        "loss": "cross_entropy",
        "init": "he",
        "dropout": 0.25,
        "eta": 0.005,
        "l2": 1.0,
        "optimizer": "rmsprop",
        "batch_size": 25,
    },
    {
        "sizes": [64, 21, 10],
        "activation": "tanh",
        "loss": "log_likelihood",
        "init": "glorot",
        "input_noise": 0.2,
        "eta": 0.2,
        "optimizer": "sgd",
        "batch_size": 10,
    },
]
#: This member is stopped by its callback (a pruner) after epoch 3.
PRUNED = 1
EPOCHS = 14
PATIENCE = 2


def _network(config: dict[str, Any], seed: int) -> Network:
    return Network(
        config["sizes"],
        activation=config["activation"],
        loss=config["loss"],
        init=config["init"],
        dropout=config.get("dropout", 0.0),
        seed=seed,
        dtype="float64",
    )


def _options(config: dict[str, Any], seed: int) -> dict[str, Any]:
    return {
        "batch_size": config["batch_size"],
        "eta": config["eta"],
        "optimizer": config["optimizer"],
        "momentum": config.get("momentum", 0.9),
        "l2": config.get("l2", 0.0),
        "l1": config.get("l1", 0.0),
        "input_noise": config.get("input_noise", 0.0),
        "patience": PATIENCE,
        "schedule": config.get("schedule"),
        "seed": seed,
    }


def _prune_after_3(seen: list[int]) -> Any:
    def callback(epoch: int, metrics: dict[str, Any]) -> bool:
        seen.append(epoch)
        return epoch >= 3

    return callback


def _records(history: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in asdict(r).items() if k != "seconds"} for r in history.records]


def _assert_close(a: Any, b: Any, path: str = "", rel: float = 1e-9) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_close(a[key], b[key], f"{path}.{key}", rel)
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]", rel)
    elif isinstance(a, float) and b is not None:
        assert b == pytest.approx(a, rel=rel, abs=1e-12), path
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def data64(digits) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float64) if k.startswith("X") else v for k, v in digits.items()}


def test_members_learn_in_a_cohort_what_they_learn_alone(data64) -> None:
    """Rule: with the same seeds and data seed, each member's weights and history after
    train_cohort equal train()'s on that network alone (float64, rel. diff <= 1e-9),
    across mixed widths, activations, losses, optimizers, penalties, dropout, noise,
    the schedule, early stopping at different epochs and a pruning callback."""
    train_data = (data64["X_train"], data64["y_train"])
    validation = (data64["X_val"], data64["y_val"])
    alone, alone_seen = [], []
    for i, config in enumerate(CONFIGS):
        network = _network(config, seed=10 + i)
        callback = _prune_after_3(alone_seen) if i == PRUNED else None
        history = train(
            network,
            train_data,
            validation,
            epochs=EPOCHS,
            callback=callback,
            data_seed=DATA_SEED,
            **_options(config, seed=100 + i),
        )
        alone.append((network, history))

    cohort_seen: list[int] = []
    members = [
        CohortMember(
            network=_network(config, seed=10 + i),
            callback=_prune_after_3(cohort_seen) if i == PRUNED else None,
            **_options(config, seed=100 + i),
        )
        for i, config in enumerate(CONFIGS)
    ]
    histories = train_cohort(members, train_data, validation, epochs=EPOCHS, data_seed=DATA_SEED)

    assert len(histories) == len(CONFIGS)
    for (network, history), member, cohort_history in zip(alone, members, histories, strict=True):
        for a, b in zip(
            network.weights + network.biases,
            member.network.weights + member.network.biases,
            strict=True,
        ):
            assert a.shape == b.shape
            assert np.max(np.abs(a - b)) <= 1e-9 * np.max(np.abs(a))
        assert cohort_history.stop_reason == history.stop_reason
        assert cohort_history.best_epoch == history.best_epoch
        _assert_close(_records(history), _records(cohort_history))
    assert alone_seen == cohort_seen == [1, 2, 3]
    assert histories[PRUNED].stop_reason == StopReason.CALLBACK
    # The cohort really mixed stopping epochs and reasons, and the schedule halved eta.
    assert len({h.epochs_run for h in histories}) >= 3
    assert {h.stop_reason for h in histories} >= {StopReason.CALLBACK, StopReason.EARLY_STOP}
    assert min(histories[3].eta) < CONFIGS[3]["eta"]


def _random_cohort(rng: np.random.Generator) -> dict[str, Any]:
    """Tiny data and a random cohort: 0-3 hidden layers of 1-29 units, any activation,
    loss, init, optimizer and penalty, dropout, noise, patience and schedule."""
    n, d, classes = int(rng.integers(1, 80)), int(rng.integers(1, 6)), int(rng.integers(2, 5))
    n_val = int(rng.integers(0, 20))
    optimizer = str(rng.choice(["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]))
    penalty = str(rng.choice(["l2", "l1", "none"]))
    configs = []
    for _ in range(int(rng.integers(1, 7))):
        layers = int(rng.integers(0, 4))
        configs.append(
            {
                "sizes": [d, *rng.integers(1, 30, layers).tolist(), classes],
                "activation": str(rng.choice(["sigmoid", "tanh", "relu", "leaky_relu"])),
                "loss": str(rng.choice(["quadratic", "cross_entropy", "log_likelihood"])),
                "init": str(rng.choice(["scaled", "large", "he"])),
                "dropout": float(rng.choice([0.0, 0.3])) if layers else 0.0,
                "eta": float(10 ** rng.uniform(-3, 0)),
                "l2": float(rng.uniform(0, 2)) if penalty == "l2" else 0.0,
                "l1": float(rng.uniform(0, 2)) if penalty == "l1" else 0.0,
                "input_noise": float(rng.choice([0.0, 0.0, 0.1])),
                "momentum": float(rng.uniform(0, 0.95)),
                "patience": int(rng.integers(1, 4)) if n_val else None,
                "schedule": "halve_on_plateau" if n_val and rng.random() < 0.3 else None,
                "seed": int(rng.integers(10**6)),
            }
        )
    return {
        "train": (rng.normal(size=(n, d)), rng.integers(0, classes, n)),
        "validation": (rng.normal(size=(n_val, d)), rng.integers(0, classes, n_val))
        if n_val
        else None,
        "configs": configs,
        "batch_size": int(rng.choice([3, 10, 100])),
        "optimizer": optimizer,
        "epochs": int(rng.integers(1, 6)),
        "data_seed": int(rng.integers(100)),
    }


@pytest.mark.parametrize("case", range(40))
def test_random_cohorts_learn_what_their_members_learn_alone(case: int) -> None:
    """Rule: over random cohorts on tiny data (no hidden layer to three, a batch bigger
    than the data, no validation set, every optimizer and penalty), each member's
    history and weights equal train()'s (float64, rel. diff <= 1e-9)."""
    c = _random_cohort(np.random.default_rng(case))

    def network(config: dict[str, Any]) -> Network:
        return _network(config, config["seed"])

    def options(config: dict[str, Any]) -> dict[str, Any]:
        keys = ("eta", "l2", "l1", "input_noise", "momentum", "patience", "schedule", "seed")
        return {k: config[k] for k in keys} | {
            "batch_size": c["batch_size"],
            "optimizer": c["optimizer"],
        }

    alone = []
    for config in c["configs"]:
        net = network(config)
        history = train(
            net,
            c["train"],
            c["validation"],
            epochs=c["epochs"],
            data_seed=c["data_seed"],
            **options(config),
        )
        alone.append((net, history))
    members = [CohortMember(network(config), **options(config)) for config in c["configs"]]
    histories = train_cohort(
        members, c["train"], c["validation"], epochs=c["epochs"], data_seed=c["data_seed"]
    )
    for (net, history), member, cohort_history in zip(alone, members, histories, strict=True):
        assert cohort_history.stop_reason == history.stop_reason
        _assert_close(_records(history), _records(cohort_history))
        for a, b in zip(net.weights, member.network.weights, strict=True):
            assert np.max(np.abs(a - b)) <= 1e-9 * max(1e-300, float(np.max(np.abs(a))))


def test_a_diverging_member_stops_alone_as_train_does() -> None:
    """Rule: a member whose loss becomes NaN or infinite stops with ``diverged`` at the
    epoch train() stops it, and the other members train on unaffected."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 5)).astype(np.float32) * 100
    y = rng.integers(0, 3, 100)
    etas = [1e30, 1e-3]

    def network(i: int) -> Network:
        return Network(
            [5, 20 + i, 3], activation="relu", loss="log_likelihood", init="large", seed=i
        )

    alone = []
    for i, eta in enumerate(etas):
        net = network(i)
        alone.append(train(net, (X, y), epochs=20, batch_size=10, eta=eta, seed=i, data_seed=3))
    members = [
        CohortMember(network=network(i), batch_size=10, eta=eta, seed=i)
        for i, eta in enumerate(etas)
    ]
    histories = train_cohort(members, (X, y), epochs=20, data_seed=3)
    assert alone[0].stop_reason == StopReason.DIVERGED
    assert histories[0].stop_reason == StopReason.DIVERGED
    assert histories[0].epochs_run == alone[0].epochs_run < 20
    assert histories[1].stop_reason == alone[1].stop_reason == StopReason.EPOCHS
    # float32 here (the NaN comes sooner): equal up to float32 rounding, which this
    # badly scaled data amplifies over the epochs (float64 equality: the test above).
    _assert_close(_records(alone[1])[:2], _records(histories[1])[:2], rel=1e-5)
    assert all(np.isfinite(histories[1].train_loss))


def test_a_very_wide_member_probes_its_gradients_as_train_does() -> None:
    """Rule: a stack so wide that evaluation chunks shrink (8,400 units: under 500 rows
    at the chunk's width cap) still measures gradient norms on train()'s 500-row probe,
    and its history equals train()'s (it raised a ValueError once)."""
    rng = np.random.default_rng(0)
    X, y = rng.random((600, 4)), rng.integers(0, 3, 600)

    def network() -> Network:
        return Network(
            [4, 8400, 3], activation="relu", loss="log_likelihood", seed=1, dtype="float64"
        )

    assert (
        cohort_group.eval_rows(
            600, [cohort_module.MemberState(CohortMember(network(), batch_size=300, eta=0.01), 600)]
        )
        >= 500
    )
    alone = train(
        network(),
        (X, y),
        (X[:100], y[:100]),
        epochs=2,
        batch_size=300,
        eta=0.01,
        seed=1,
        data_seed=0,
    )
    member = CohortMember(network(), batch_size=300, eta=0.01, seed=1)
    (history,) = train_cohort([member], (X, y), (X[:100], y[:100]), epochs=2, data_seed=0)
    _assert_close(_records(alone), _records(history))


def test_a_finite_but_exploded_loss_diverges_as_in_train() -> None:
    """Rule: as train(), a member whose training loss exceeds 1000x its untrained loss
    (saturated units: huge but finite) stops with ``diverged``; its neighbour does not."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 5)).astype(np.float32) * 100
    y = rng.integers(0, 3, 100)

    def network(i: int) -> Network:
        return Network([5, 20 + i, 3], activation="sigmoid", seed=i)

    alone = train(network(0), (X, y), epochs=5, batch_size=10, eta=1e4, seed=0, data_seed=3)
    members = [
        CohortMember(network=network(i), batch_size=10, eta=eta, seed=i)
        for i, eta in enumerate([1e4, 1e-3])
    ]
    histories = train_cohort(members, (X, y), epochs=5, data_seed=3)
    assert alone.stop_reason == histories[0].stop_reason == StopReason.DIVERGED
    assert math.isfinite(histories[0].train_loss[-1])
    assert histories[0].epochs_run == alone.epochs_run == 1
    assert histories[1].stop_reason == StopReason.EPOCHS


def test_stopped_members_leave_the_stack(data64, monkeypatch) -> None:
    """Rule: once a member stops, the next epochs' stack holds only the live members."""
    sizes_seen: list[int] = []
    real = cohort_group.Stack

    def spy(networks: Any, *args: Any) -> Any:
        sizes_seen.append(len(networks))
        return real(networks, *args)

    monkeypatch.setattr(cohort_group, "Stack", spy)
    members = [
        CohortMember(
            network=Network([64, 10 + i, 10], seed=i),
            batch_size=50,
            eta=0.5,
            seed=i,
            callback=(lambda e, m, stop=i + 1: e >= stop),
        )
        for i in range(3)
    ]
    histories = train_cohort(
        members,
        (data64["X_train"], data64["y_train"]),
        (data64["X_val"], data64["y_val"]),
        epochs=5,
        data_seed=1,
    )
    assert [h.epochs_run for h in histories] == [1, 2, 3]
    assert sizes_seen == [3, 2, 1]


def test_grouping_by_batch_size_optimizer_penalty_and_noise() -> None:
    """Rule: members share a stack only with the same batch size, optimizer, penalty
    kind and dtype; depths, widths, activations and losses mix, but a net without
    hidden layers does not join deeper ones; a noisy member is alone."""

    def member(sizes: list[int], **kw: Any) -> CohortMember:
        network = Network(
            sizes,
            activation=kw.pop("activation", "sigmoid"),
            loss=kw.pop("loss", "cross_entropy"),
            dtype=kw.pop("dtype", "float32"),
        )
        return CohortMember(network=network, batch_size=kw.pop("batch_size", 10), eta=0.1, **kw)

    members = [
        member([64, 16, 10], l2=1.0),
        member([64, 200, 10], l2=2.0, activation="relu", loss="log_likelihood"),  # mixes
        member([64, 16, 16, 10], l2=1.0),  # deeper: joins the first group
        member([64, 30, 10], l2=1.0, batch_size=32),  # other batch size
        member([64, 30, 10], l2=1.0, optimizer="momentum"),  # other optimizer
        member([64, 30, 10], l1=1.0),  # other penalty
        member([64, 30, 10], l2=1.0, input_noise=0.1),  # noisy: alone
        member([64, 30, 10], l2=1.0, input_noise=0.1),  # noisy: alone
        member([64, 30, 10], l2=1.0, dtype="float64"),
        member([64, 99, 10], l2=0.5, activation="tanh"),  # joins the first group
        member([64, 10], l2=1.0),  # no hidden layer
    ]
    assert group_members(members) == [[0, 1, 2, 9], [3], [4], [5], [6], [7], [8], [10]]


def test_big_groups_are_split_to_stay_in_cache(monkeypatch) -> None:
    """Rule: a group's stacks hold at most STACK_BYTES of weights each."""
    monkeypatch.setattr(cohort_module, "STACK_BYTES", 3 * 64 * 100 * 4 + 100)
    members = [
        CohortMember(network=Network([64, 100, 10]), batch_size=10, eta=0.1) for _ in range(5)
    ]
    # each member holds 64*100 + 100*10 weights: two fit, a third does not
    assert group_members(members) == [[0, 1], [2, 3], [4]]


def test_bad_member_settings_are_one_clear_error(data64) -> None:
    """Rule: bad input names the problem and what is valid, no traceback from NumPy."""
    data = (data64["X_train"], data64["y_train"])
    bad = CohortMember(network=Network([64, 10, 10]), batch_size=10, eta=0.1, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="optimizer must be one of"):
        train_cohort([bad], data, epochs=1)
    bad = CohortMember(network=Network([64, 10, 10]), batch_size=10, eta=-1.0)
    with pytest.raises(ConfigError, match="eta must be a positive number"):
        train_cohort([bad], data, epochs=1)
    assert train_cohort([], data, epochs=1) == []


def test_train_draws_batch_order_from_the_data_seed(data64) -> None:
    """Rule: train()'s batch order follows data_seed and its dropout follows seed: the
    same seeds give the same weights; another data_seed gives other weights."""
    data = (data64["X_train"], data64["y_train"])

    def run(seed: int, data_seed: int | None) -> list[np.ndarray]:
        net = Network([64, 20, 10], dropout=0.2, seed=0, dtype="float64")
        train(net, data, epochs=2, batch_size=10, eta=0.5, seed=seed, data_seed=data_seed)
        return net.weights

    same = run(1, 5), run(1, 5)
    assert all(np.array_equal(a, b) for a, b in zip(*same, strict=True))
    assert not np.array_equal(run(1, 6)[0], same[0][0])  # batch order differs
    assert not np.array_equal(run(2, 5)[0], same[0][0])  # dropout masks differ
    assert all(np.array_equal(a, b) for a, b in zip(run(1, None), run(1, 1), strict=True))

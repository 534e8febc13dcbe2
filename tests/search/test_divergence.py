"""Divergence: a trial whose loss blows up fails as diverged with its epoch; the worker
goes on (issue 19: ``eta = 1e6`` used to COMPLETE at chance accuracy).

The rule (hpsearch.nn.training): a training loss that is NaN or infinite, or over
``DIVERGENCE_FACTOR`` (1,000) times the untrained network's loss on the same sample.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch.data import load
from hpsearch.nn import Network, train
from hpsearch.nn.history import StopReason
from hpsearch.nn.training import DIVERGENCE_FACTOR


def test_a_huge_but_finite_loss_is_divergence_and_a_sane_one_is_not() -> None:
    digits = load("digits")
    data = (digits.X_train[:400], digits.y_train[:400])
    blown = train(Network([64, 20, 10]), data, None, epochs=3, batch_size=10, eta=1e6)
    assert blown.stop_reason == StopReason.DIVERGED and blown.epochs_run == 1
    untrained = Network([64, 20, 10]).evaluate(*data)[0]
    assert blown.records[0].train_loss > DIVERGENCE_FACTOR * untrained
    fine = train(Network([64, 20, 10]), data, None, epochs=3, batch_size=10, eta=0.5)
    assert fine.stop_reason == StopReason.EPOCHS


def test_eta_1e6_trials_fail_as_diverged_and_the_worker_lives(
    tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = spec_file(
        {
            "study": {"n_trials": 3, "pruner": "none"},
            "training": {"epochs": 3},
            "space": {"eta": 1e6, "hidden_width": {"type": "int", "low": 10, "high": 30}},
        }
    )
    result = cli("run", str(spec), "--storage", url)
    assert "Traceback" not in result.output, result.output
    trials = optuna.load_study(study_name="tiny", storage=url).get_trials()
    assert len(trials) == 3 and all(t.state == TrialState.FAIL for t in trials)
    for t in trials:  # every trial ran: the worker survived each divergence
        assert t.user_attrs["fail_reason"].startswith("diverged at epoch 1: training loss")
        assert t.user_attrs["stop_reason"] == "diverged"

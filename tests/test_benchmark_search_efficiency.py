"""benchmarks/search_efficiency.py: per-strategy seeds, and the cohort variant's runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import optuna
import pytest

PATH = Path(__file__).parents[1] / "benchmarks" / "search_efficiency.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("search_efficiency", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


se = _module()


def test_strategies_take_their_own_number_of_seeds() -> None:
    """``NAME:N`` runs N seeds of NAME; a bare name runs --seeds."""
    args = se.parse_args(["--quick", "--seeds", "3", "--strategies", "auto,tpe:2"])
    assert args.runs == {"auto": 3, "tpe": 2}


@pytest.mark.parametrize("strategies", ["nope", "tpe:0", "tpe:x"])
def test_bad_strategy_lists_are_refused(strategies: str) -> None:
    with pytest.raises(SystemExit):
        se.parse_args(["--strategies", strategies])


def test_auto_trains_four_trials_at_once() -> None:
    """auto (cohorts of 4 by default) asks 4 trials per round and trains them as one
    cohort; auto+cohort1 trains one at a time."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    setting = se.quick_setting()
    run = se.run_strategy(setting, "auto", 0, budget=1)
    assert len(run.trials) == 4  # one round, whatever its epochs
    assert all(t.state in ("complete", "pruned", "fail") for t in run.trials)
    rate = sum(t.seconds for t in run.trials) / sum(t.epochs for t in run.trials)
    assert rate > 0 and all(t.seconds == pytest.approx(t.epochs * rate) for t in run.trials)
    assert len(se.run_strategy(setting, "auto+cohort1", 0, budget=1).trials) == 1


def test_a_cohort_member_costs_what_the_cohort_spent_until_it_stopped() -> None:
    """Members stopping after 1, 3, 20 and 25 epochs: the run has spent 4, 10, 44 and 49
    epochs at those stops (the members still training ran the same epochs)."""
    outcomes = [("complete", ran, 0.5, 0.5) for ran in (1, 25, 3, 20)]
    trials = se.in_stop_order(outcomes, 0.5)
    assert [sum(t.epochs for t in trials[: i + 1]) for i in range(4)] == [4, 10, 44, 49]
    assert [t.seconds for t in trials] == [2.0, 3.0, 17.0, 2.5]

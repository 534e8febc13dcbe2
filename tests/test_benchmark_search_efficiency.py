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


def test_cohort_variant_trains_four_trials_at_once() -> None:
    """auto+cohort4 asks 4 trials per round (the opening points first), trains them as
    one cohort, lists them in the order they stopped, and shares the round's CPU time."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    setting = se.quick_setting()
    run = se.run_strategy(setting, "auto+cohort4", 0, budget=1)
    assert len(run.trials) == 4  # one round, whatever its epochs
    assert [t.epochs for t in run.trials] == sorted(t.epochs for t in run.trials)
    assert all(t.state in ("complete", "pruned", "fail") for t in run.trials)
    per_epoch = {round(t.seconds / t.epochs, 9) for t in run.trials}
    assert len(per_epoch) == 1 and per_epoch.pop() > 0
    complete = [t for t in run.trials if t.state == "complete"]
    assert complete and all(0 < (t.test or 0) <= 1 for t in complete)

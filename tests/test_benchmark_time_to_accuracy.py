"""The pure part of benchmarks/time_to_accuracy.py: best-so-far curve -> time to threshold."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

PATH = Path(__file__).parents[1] / "benchmarks" / "time_to_accuracy.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("time_to_accuracy", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


tta = _module()

#: (seconds, value) of completed trials, in the order their rows come (not time order).
POINTS = [(40.0, 0.86), (10.0, 0.80), (25.0, 0.79), (70.0, 0.875), (55.0, math.nan), (90.0, 0.86)]


def test_best_so_far_keeps_only_improvements_in_time_order() -> None:
    assert tta.best_so_far(POINTS) == [(10.0, 0.80), (40.0, 0.86), (70.0, 0.875)]


def test_best_so_far_of_nothing_is_empty() -> None:
    assert tta.best_so_far([]) == []


def test_time_to_reach_each_threshold_or_none() -> None:
    curve = tta.best_so_far(POINTS)
    assert tta.time_to_reach(curve, [0.8, 0.85, 0.87, 0.875, 0.88]) == {
        0.8: 10.0,
        0.85: 40.0,
        0.87: 70.0,
        0.875: 70.0,  # reached exactly: >=
        0.88: None,  # never reached
    }


def test_a_tie_at_the_same_second_does_not_lower_the_best() -> None:
    assert tta.best_so_far([(5.0, 0.9), (5.0, 0.7)]) == [(5.0, 0.7), (5.0, 0.9)]
    assert tta.time_to_reach(tta.best_so_far([(5.0, 0.9), (5.0, 0.7)]), [0.8]) == {0.8: 5.0}


def test_ratio_and_never_reached_text() -> None:
    assert tta.ratio_text(100.0, 250.0, 900.0) == "2.5x"
    assert tta.ratio_text(100.0, None, 900.0) == "hpsearch only"
    assert tta.ratio_text(None, 80.0, 900.0) == "Optuna + scikit-learn only"
    assert tta.ratio_text(None, None, 900.0) == "neither within 900 s"
    assert tta.seconds_text(None, 900.0) == "not within 900 s"
    assert tta.seconds_text(41.6, 900.0) == "42 s"


@pytest.mark.parametrize("text", ["0.85,x", "0,0.5", "1.2"])
def test_bad_thresholds_are_refused(text: str) -> None:
    with pytest.raises(tta.argparse.ArgumentTypeError):
        tta.parse_thresholds(text)


def test_thresholds_and_tools_parse() -> None:
    assert tta.parse_thresholds("0.88,0.85") == (0.85, 0.88)
    assert tta.parse_tools("optuna-sklearn") == ("optuna-sklearn",)
    with pytest.raises(tta.argparse.ArgumentTypeError):
        tta.parse_tools("hpsearch,sklearn")

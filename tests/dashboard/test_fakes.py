"""The fake studies: bulk-inserted rows read back exactly as ``study.add_trials`` writes them."""

from __future__ import annotations

from pathlib import Path

import optuna
from dashboard_fakes import add_study


def test_bulk_insert_matches_add_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    slow = add_study(url, "a", n_trials=9, running=1, waiting=1, seed=7).get_trials()
    fast = add_study(url, "b", n_trials=9, running=1, waiting=1, seed=7, bulk=True).get_trials()
    assert len(slow) == len(fast) == 11
    for s, f in zip(slow, fast, strict=True):
        for attr in ("number", "state", "value", "params", "distributions", "intermediate_values"):
            assert getattr(s, attr) == getattr(f, attr), attr
        assert (s.datetime_start, s.datetime_complete) == (f.datetime_start, f.datetime_complete)
        strip = lambda attrs: {k: v for k, v in attrs.items() if k != "command"}  # noqa: E731
        assert strip(s.user_attrs) == strip(f.user_attrs)
    assert optuna.load_study(study_name="b", storage=url).best_value == max(
        t.value for t in slow if t.value is not None
    )

"""What the dashboard adds to the storage's reads: cached importances and state counts.

The SQL and Optuna's tables live behind ``hpsearch.storage.reads``; this module only
shapes what that door returns (importances are computed with Optuna's public API on
an in-memory copy of the complete trials).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch.storage.reads import NotFound, StudyInfo, StudyReader, TrialRow

__all__ = ["DashboardReader", "NotFound", "StudyInfo", "TrialRow", "count_states"]


class DashboardReader(StudyReader):
    """The storage's ``StudyReader`` plus the importances cache the dashboard serves."""

    def __init__(self, storage: optuna.storages.RDBStorage) -> None:
        super().__init__(storage)
        self._importances_lock = threading.Lock()
        self._importances: dict[int, tuple[tuple[int, int], dict[str, Any]]] = {}

    def importances(
        self,
        info: StudyInfo,
        rows: list[TrialRow],
        compute: Callable[[optuna.Study], dict[str, float]],
    ) -> dict[str, Any]:
        """``compute`` on an in-memory copy of the complete trials; cached until they change."""
        complete = [r for r in rows if r.state == TrialState.COMPLETE and r.value is not None]
        key = (len(complete), max((r.trial_id for r in complete), default=-1))
        with self._importances_lock:
            cached = self._importances.get(info.study_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        if len(complete) < 2:
            result: dict[str, Any] = {
                "importances": None,
                "message": f"importances need at least 2 complete trials; "
                f"this study has {len(complete)}",
            }
        else:
            study = optuna.create_study(direction=info.direction)
            study.add_trials(
                optuna.trial.create_trial(
                    params=r.params, distributions=r.distributions, value=r.value
                )
                for r in complete
            )
            try:
                result = {"importances": compute(study), "message": None}
            except Exception as error:  # e.g. a single-valued space; say so, do not fail the page
                result = {"importances": None, "message": f"importances unavailable: {error}"}
        result["n_complete"] = len(complete)
        with self._importances_lock:
            self._importances[info.study_id] = (key, result)
        return result


def count_states(rows: list[TrialRow]) -> dict[str, int]:
    """Trials by state name, every state present (zeros included)."""
    counts = Counter(r.state.name for r in rows)
    return {state.name: counts.get(state.name, 0) for state in TrialState}

"""What the dashboard adds to the storage's reads: which attrs to read, cached importances.

The SQL and Optuna's tables live behind ``hpsearch.storage.reads``; this module only
shapes what that door returns (importances are computed with Optuna's public API on
an in-memory copy of the complete trials).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna

from hpsearch.dashboard.columns import facts_of
from hpsearch.results.summary import TrialFacts, study_summary, summary_fields
from hpsearch.storage.reads import NotFound, StudyInfo, StudyReader
from hpsearch.storage.table import TrialTable
from hpsearch.storage.tallies import MAX_SKIP
from hpsearch.tuning.record import (
    EPOCHS_RUN,
    FAILED_TRIAL,
    LIGHT_KEYS,
    RETRY_OF,
    SYSTEM_KEYS,
    record_from_attrs,
)

__all__ = [
    "DashboardReader",
    "NotFound",
    "StudyInfo",
]


class DashboardReader(StudyReader):
    """The storage's ``StudyReader`` plus the importances cache the dashboard serves."""

    def __init__(self, storage: optuna.storages.RDBStorage) -> None:
        # The trial record's light keys: tables and counts without the curves.
        super().__init__(storage, attr_keys=LIGHT_KEYS, system_keys=SYSTEM_KEYS)
        self._importances_lock = threading.Lock()
        self._importances: dict[int, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._facts: dict[int, tuple[TrialTable, list[TrialFacts]]] = {}

    def facts(self, study_id: int) -> list[TrialFacts]:
        """The study's trials as ``results.summary`` takes them, by number; the finished
        trials' are made once per finished table (it only changes when more finish)."""
        finished, live = self.tables(study_id)
        with self._importances_lock:
            cached = self._facts.get(study_id)
        if cached is None or cached[0] is not finished:
            cached = (finished, facts_of(finished))
            with self._importances_lock:
                self._facts[study_id] = cached
        return sorted(cached[1] + facts_of(live), key=lambda f: f.number)

    def listed(self, info: StudyInfo) -> dict[str, Any]:
        """The study's ``results.summary.study_summary``, counted by the database: the
        studies list reads no trial (a 100,000-trial study in milliseconds, not seconds).
        A study with very many re-queued failures is summarized from its trials."""
        marked = self.marked_trials(info.study_id, (RETRY_OF,), (FAILED_TRIAL,))
        repeated = {
            repeats
            for _, _, user, system in marked
            if (repeats := record_from_attrs(user, system).repeats) is not None
        }
        spec = info.user_attrs.get("spec")
        direction = info.direction.name.lower()
        if len(repeated) > MAX_SKIP:
            return study_summary(info.name, direction, spec, self.facts(info.study_id))
        tally = self.tally(
            info.study_id, maximize=info.maximize, skip=repeated, epochs_key=EPOCHS_RUN
        )
        epochs, not_numbers = 0, []
        for text, count in tally.epoch_texts.items():
            run = record_from_attrs({EPOCHS_RUN: _decoded(text)}).epochs_run
            if run is None:
                not_numbers.append(text)  # such trials count the epochs they reported
            else:
                epochs += run * count
        steps = tally.steps_without
        if not_numbers:
            steps += self.steps_of(info.study_id, EPOCHS_RUN, not_numbers)
        return summary_fields(
            info.name,
            direction,
            spec,
            counts=tally.counts,
            requeued=tally.skipped,
            best=tally.best,
            first_start=tally.first_start,
            last_activity=tally.last_activity,
            total_epochs=epochs + steps,
        )

    def importances(
        self,
        info: StudyInfo,
        finished: TrialTable,
        compute: Callable[[optuna.Study], dict[str, float]],
    ) -> dict[str, Any]:
        """``compute`` on an in-memory copy of the complete trials (``finished``: the first
        of ``tables``); cached until they change."""
        # ``value`` is None but for a complete trial with a finite value.
        complete = finished.take(np.array([v is not None for v in finished.value.tolist()], bool))
        key = (len(complete), int(complete.trial_id.max()) if len(complete) else -1)
        with self._importances_lock:
            cached = self._importances.get(info.study_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        varied = _varied_params(complete)
        if len(complete) < 2:
            result: dict[str, Any] = {
                "importances": None,
                "message": f"importances need at least 2 complete trials; "
                f"this study has {len(complete)}",
            }
        elif not varied:
            result = {"importances": None, "message": "no parameter varies across the trials"}
        else:
            used = _sample(len(complete), MAX_IMPORTANCE_TRIALS)
            study = optuna.create_study(direction=info.direction)
            study.add_trials(
                optuna.trial.create_trial(
                    params={k: complete.params[k][i] for k in varied if complete.sampled[k][i]},
                    distributions={
                        k: complete.distribution(k, i) for k in varied if complete.sampled[k][i]
                    },
                    value=complete.value[i],
                )
                for i in used
            )
            try:
                result = {"importances": compute(study), "message": None}
            except Exception as error:  # e.g. a single-valued space; say so, do not fail the page
                result = {"importances": None, "message": f"importances unavailable: {error}"}
            if len(used) < len(complete):
                result["message"] = (
                    f"computed on an even sample of {len(used):,} of the "
                    f"{len(complete):,} complete trials"
                )
        result["caveat"] = caveat(info, len(complete))
        result["fixed"] = sorted(set(complete.param_names()) - set(varied))
        result["n_complete"] = len(complete)
        with self._importances_lock:
            self._importances[info.study_id] = (key, result)
        return result


MAX_IMPORTANCE_TRIALS = 2000  # PED-ANOVA takes ~2 s per 1,000 trials; a sample says as much
FEW_TRIALS = 30


def _varied_params(complete: TrialTable) -> list[str]:
    """Parameters that take more than one value: a fixed one has no importance (PED-ANOVA
    would still give it a share, e.g. 0.16 on an 8-trial grid)."""
    return sorted(
        name
        for name in complete.param_names()
        if len({repr(v) for v in complete.params[name][complete.sampled[name]].tolist()}) > 1
    )


def _sample(n: int, limit: int) -> list[int]:
    """Positions of an even sample of ``limit`` of ``n`` items (all of them if fewer)."""
    if n <= limit:
        return list(range(n))
    stride = n / limit
    return [int(i * stride) for i in range(limit)]


def caveat(info: StudyInfo, n_complete: int) -> str | None:
    """Why the importances may mislead: a grid, or too few trials to tell."""
    spec = info.user_attrs.get("spec")
    sampler = ((spec.get("study") or {}).get("sampler") if isinstance(spec, dict) else None) or ""
    if sampler == "grid":
        return (
            "caution: a grid tries each value a fixed number of times; with "
            f"{n_complete} trials the importances say little about the space between its points"
        )
    if 2 <= n_complete < FEW_TRIALS:
        return f"caution: only {n_complete} complete trials; importances this early are noisy"
    return None


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None

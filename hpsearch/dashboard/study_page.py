"""The study page's one response, fast at 100,000 trials: finished trials are encoded once.

Finished trials never change, so their columns, the best-so-far progress and the best
trial are encoded to JSON once per set of finished trials and kept, with a gzip
compressor that has already swallowed them (``zlib`` compressors can be copied).
Each request then encodes only the summary and the unfinished trials and finishes
the copied compressor: the warm cost no longer grows with the study.

The body is ``{"trials": <finished columns>, "progress": ..., "best": ..., <the rest>,
"live_trials": <unfinished columns>}``; the page merges the two trial column sets.
"""

from __future__ import annotations

import datetime as dt
import threading
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.trial import TrialState

from hpsearch.dashboard import columns as col
from hpsearch.dashboard.columns import Light
from hpsearch.dashboard.queries import StudyInfo
from hpsearch.dashboard.series import budget, pareto_front, retrain_of
from hpsearch.results.dates import iso_utc
from hpsearch.results.summary import counts_by_name, spec_fields
from hpsearch.storage.table import TrialTable
from hpsearch.tuning.record import requeued

GZIP_LEVEL = 1  # multi-megabyte JSON: level 1 is ~4x faster than 6 and ~15% larger
_GZIP_WBITS = 31  # a gzip header and trailer, as Content-Encoding: gzip wants


@dataclass
class _Finished:
    """The encoded finished part of one study's response, and what the rest needs of it."""

    key: tuple[Any, ...]
    table: TrialTable
    light: Light
    prefix: bytes  # JSON text: '{"trials":...,"progress":...,"best":...,'
    zipped: bytes  # gzip output for ``prefix`` so far
    compressor: Any  # zlib compressor after ``prefix``; copy() it, never use it directly
    epochs: int
    requeue: list[Any]  # ``columns.requeue_items`` of the finished trials


class StudyPages:
    """Builds study responses, keeping each study's finished part between requests."""

    def __init__(self, dumps: Any) -> None:
        self._dumps = dumps  # the app's JSON encoder (NaN -> null)
        self._lock = threading.Lock()
        self._finished: dict[int, _Finished] = {}

    def response(
        self,
        info: StudyInfo,
        finished: TrialTable,
        live: TrialTable,
        now: dt.datetime,
        *,
        gzip: bool,
    ) -> bytes:
        """The JSON body (gzip-compressed if ``gzip``) of ``GET /api/studies/<name>``;
        ``finished``, ``live``: ``StudyReader.tables``."""
        origin = col.origin_of(finished, live)
        param_names = col.param_names(finished, live)
        part = self._finished_part(info, finished, origin, param_names, now)
        rest = self._rest(info, part, live, origin, param_names, now)
        suffix_json = self._dumps(rest).encode()
        suffix = suffix_json[1:]  # drop its "{": it continues the prefix's object
        if not gzip:
            return part.prefix + suffix
        compressor = part.compressor.copy()
        return part.zipped + compressor.compress(suffix) + compressor.flush()

    def _finished_part(
        self,
        info: StudyInfo,
        finished: TrialTable,
        origin: np.datetime64,
        param_names: list[str],
        now: dt.datetime,
    ) -> _Finished:
        key = (info.name, len(finished), str(origin), tuple(param_names), info.maximize)
        with self._lock:
            cached = self._finished.get(info.study_id)
        if cached is not None and cached.key == key and cached.table is finished:
            return cached
        light = Light.of(finished)
        directions = _directions(info)
        n = len(directions)
        head = {
            "trials": col.trial_columns(finished, light, param_names, origin, now, n),
            "progress": col.progress(finished, light.epochs, origin, info.maximize),
            # One best trial only with one objective; with several, the Pareto front.
            "best": col.best_trial(finished, info.maximize) if n == 1 else None,
            "pareto": pareto_front(col.pareto_points(finished, n), directions) if n > 1 else None,
        }
        prefix = self._dumps(head).encode()[:-1] + b","  # leave the object open
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        zipped = compressor.compress(prefix)
        part = _Finished(
            key,
            finished,
            light,
            prefix,
            zipped,
            compressor,
            int(light.epochs.sum()),
            col.requeue_items(finished, light),
        )
        with self._lock:
            self._finished[info.study_id] = part
        return part

    def _rest(
        self,
        info: StudyInfo,
        part: _Finished,
        live: TrialTable,
        origin: np.datetime64,
        param_names: list[str],
        now: dt.datetime,
    ) -> dict[str, Any]:
        light = Light.of(live)
        spec = info.user_attrs.get("spec")
        study = (spec.get("study") or {}) if isinstance(spec, dict) else {}
        # Trials by state as ``results.summary.state_counts`` counts them: a re-queued
        # failure counts once, as its retry.
        again = requeued(part.requeue + col.requeue_items(live, light))
        found = Counter(part.table.state.tolist()) + Counter(live.state.tolist())
        found[TrialState.FAIL.name] -= len(again)
        counts = counts_by_name(found)
        first = col.from_moment(origin)
        now64 = col.to_moment(now)
        # The last activity: each started trial's end, or now while it has none.
        ends = np.concatenate([t.complete[~np.isnat(t.start)] for t in (part.table, live)])
        last = np.where(np.isnat(ends), now64, ends).max() if len(ends) else None
        return {
            "name": info.name,
            "direction": info.direction.name.lower(),
            **{k: v for k, v in spec_fields(spec).items() if k != "metric"},
            "directions": _directions(info),
            "metric": spec_fields(spec)["metric"],
            "description": study.get("description"),
            "spec": spec,
            "retrain": retrain_of(info.user_attrs),
            "counts": counts,
            "n_trials": sum(counts.values()),
            "total_epochs": part.epochs + int(light.epochs.sum()),
            "wall_seconds": (col.from_moment(last) - first).total_seconds()  # type: ignore[operator]
            if first is not None and last is not None
            else 0.0,
            "budget": budget(info.user_attrs, counts, first, now),
            "workers": col.active_workers(live, light, now),
            "param_names": param_names,
            "distributions": col.distributions(part.table, live),
            "running": live.number[live.state == TrialState.RUNNING.name].tolist(),
            "origin": iso_utc(first),
            "live_trials": col.trial_columns(
                live, light, param_names, origin, now, len(_directions(info))
            ),
            "now": iso_utc(now),
        }


def partial_response(info: StudyInfo, listed: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The study page's answer while its trials are read in the background: the summary
    (``listed``: ``DashboardReader.listed`` and the retrain), budget and spec, no trials
    yet; ``"partial": true`` tells the page to ask again soon."""
    spec = info.user_attrs.get("spec")
    study = (spec.get("study") or {}) if isinstance(spec, dict) else {}
    first = _moment(listed["first_start"])
    last = now if listed["counts"].get("RUNNING") else _moment(listed["last_activity"])
    empty = TrialTable.empty()
    none = np.datetime64("NaT", "us")
    no_trials = col.trial_columns(empty, Light.of(empty), [], none, now, len(_directions(info)))
    single = len(_directions(info)) == 1 and listed["best_trial"] is not None
    return {
        "partial": True,
        **{k: listed[k] for k in ("name", "direction", "dataset", "sampler", "pruner")},
        "directions": _directions(info),
        "metric": listed["metric"],
        "description": study.get("description"),
        "spec": spec,
        "retrain": listed["retrain"],
        "counts": listed["counts"],
        "n_trials": listed["n_trials"],
        "total_epochs": listed["total_epochs"],
        "wall_seconds": (last - first).total_seconds() if first and last else 0.0,
        "budget": budget(info.user_attrs, listed["counts"], first, now),
        "workers": [],
        "param_names": [],
        "distributions": {},
        "running": [],
        "origin": listed["first_start"],
        "trials": no_trials,
        "progress": col.progress(empty, np.zeros(0, dtype=np.int64), none, info.maximize),
        "best": {"number": listed["best_trial"], "value": listed["best_value"], "params": None}
        if single
        else None,
        "pareto": None,
        "live_trials": no_trials,
        "now": iso_utc(now),
    }


def _moment(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _directions(info: StudyInfo) -> list[str]:
    return [d.name.lower() for d in info.directions] or [info.direction.name.lower()]


def merged_rows(payload: dict[str, Any]) -> dict[str, Any]:
    """``trials`` and ``live_trials`` of a decoded response as one column set, by number
    (what the page does in JavaScript; for tests and scripts)."""
    done, live = payload["trials"], payload["live_trials"]
    numbers = done["number"] + live["number"]
    order = sorted(range(len(numbers)), key=numbers.__getitem__)

    def join(a: list[Any], b: list[Any]) -> list[Any]:
        both = a + b
        return [both[i] for i in order]

    columns: dict[str, Any] = {k: join(done[k], live[k]) for k in done if k != "params"}
    columns["params"] = {p: join(done["params"][p], live["params"][p]) for p in done["params"]}
    return columns

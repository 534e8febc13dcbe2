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
from dataclasses import dataclass
from typing import Any

from hpsearch.dashboard.queries import UNFINISHED, StudyInfo, TrialRow
from hpsearch.dashboard.series import (
    active_workers,
    best_row,
    budget,
    pareto_front,
    progress,
    study_distributions,
    study_summary,
    trial_columns,
)
from hpsearch.results.dates import iso_utc
from hpsearch.results.summary import TrialFacts, state_counts

GZIP_LEVEL = 1  # multi-megabyte JSON: level 1 is ~4x faster than 6 and ~15% larger
_GZIP_WBITS = 31  # a gzip header and trailer, as Content-Encoding: gzip wants


@dataclass
class _Finished:
    """The encoded finished part of one study's response."""

    key: tuple[Any, ...]
    prefix: bytes  # JSON text: '{"trials":...,"progress":...,"best":...,'
    zipped: bytes  # gzip output for ``prefix`` so far
    compressor: Any  # zlib compressor after ``prefix``; copy() it, never use it directly
    epochs: int


class StudyPages:
    """Builds study responses, keeping each study's finished part between requests."""

    def __init__(self, dumps: Any) -> None:
        self._dumps = dumps  # the app's JSON encoder (NaN -> null)
        self._lock = threading.Lock()
        self._finished: dict[int, _Finished] = {}

    def response(
        self,
        info: StudyInfo,
        rows: list[TrialRow],
        facts: list[TrialFacts],
        now: dt.datetime,
        *,
        gzip: bool,
    ) -> bytes:
        """The JSON body (gzip-compressed if ``gzip``) of ``GET /api/studies/<name>``;
        ``facts`` are the rows' (``DashboardReader.facts``)."""
        finished = [(r, f) for r, f in zip(rows, facts, strict=True) if r.state not in UNFINISHED]
        live = [(r, f) for r, f in zip(rows, facts, strict=True) if r.state in UNFINISHED]
        starts = [r.start for r in rows if r.start is not None]
        origin = min(starts) if starts else None
        param_names = sorted({p for r in rows for p in r.params})
        part = self._finished_part(info, finished, facts, origin, param_names, now)
        space = study_distributions(rows)
        rest = self._rest(info, facts, live, origin, param_names, space, part, now)
        suffix_json = self._dumps(rest).encode()
        suffix = suffix_json[1:]  # drop its "{": it continues the prefix's object
        if not gzip:
            return part.prefix + suffix
        compressor = part.compressor.copy()
        return part.zipped + compressor.compress(suffix) + compressor.flush()

    def _finished_part(
        self,
        info: StudyInfo,
        finished: list[tuple[TrialRow, TrialFacts]],
        facts: list[TrialFacts],
        origin: dt.datetime | None,
        param_names: list[str],
        now: dt.datetime,
    ) -> _Finished:
        key = (
            info.name,
            len(finished),
            max((r.trial_id for r, _ in finished), default=-1),
            origin,
            tuple(param_names),
            info.maximize,
        )
        with self._lock:
            cached = self._finished.get(info.study_id)
        if cached is not None and cached.key == key:
            return cached
        rows = [r for r, _ in finished]
        directions = _directions(info)
        n = len(directions)
        head = {
            # progress() takes the origin from every trial's start, as the columns do.
            "trials": trial_columns(rows, [f for _, f in finished], param_names, origin, now, n),
            "progress": progress(facts, info.maximize),
            # One best trial only with one objective; with several, the Pareto front.
            "best": best_row(rows, info.maximize) if n == 1 else None,
            "pareto": pareto_front(rows, directions) if n > 1 else None,
        }
        prefix = self._dumps(head).encode()[:-1] + b","  # leave the object open
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        zipped = compressor.compress(prefix)
        part = _Finished(key, prefix, zipped, compressor, sum(f.epochs for _, f in finished))
        with self._lock:
            self._finished[info.study_id] = part
        return part

    def _rest(
        self,
        info: StudyInfo,
        facts: list[TrialFacts],
        live: list[tuple[TrialRow, TrialFacts]],
        origin: dt.datetime | None,
        param_names: list[str],
        space: dict[str, Any],
        part: _Finished,
        now: dt.datetime,
    ) -> dict[str, Any]:
        summary = study_summary(info, facts)
        live_rows, live_facts = [r for r, _ in live], [f for _, f in live]
        spec = info.user_attrs.get("spec")
        study = (spec.get("study") or {}) if isinstance(spec, dict) else {}
        counts = state_counts(facts)
        ends = [f.complete or now for f in facts if f.start is not None]
        return {
            **{k: summary[k] for k in ("name", "direction", "dataset", "sampler", "pruner")},
            "directions": _directions(info),
            "metric": summary["metric"],
            "description": study.get("description"),
            "spec": spec,
            "retrain": summary["retrain"],
            "counts": counts,
            "n_trials": sum(counts.values()),
            "total_epochs": part.epochs + sum(f.epochs for f in live_facts),
            "wall_seconds": (max(ends) - origin).total_seconds() if origin and ends else 0.0,
            "budget": budget(info.user_attrs, counts, origin, now),
            "workers": active_workers(live_facts, now),
            "param_names": param_names,
            "distributions": space,
            "running": [r.number for r in live_rows if r.state.name == "RUNNING"],
            "origin": iso_utc(origin),
            "live_trials": trial_columns(
                live_rows, live_facts, param_names, origin, now, len(_directions(info))
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
    no_trials = trial_columns([], [], [], None, now, len(_directions(info)))
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
        "progress": progress([], info.maximize),
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

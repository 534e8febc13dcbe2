"""A study's trials as columns: one NumPy array per field, no Python object per trial.

``StudyReader.tables`` fills these straight from SQL rows (``hpsearch.storage.reads``):
the dashboard's study page turns them into its JSON columns with a few array
operations, where an object per trial (a row, then its record) cost ~3 s for 100,000
trials.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

#: Unfinished states by name (the table's ``state`` column holds names).
UNFINISHED_NAMES = (TrialState.RUNNING.name, TrialState.WAITING.name)
_STATES = {s.name: s for s in TrialState}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def nones(n: int) -> np.ndarray:
    """An object array of ``n`` Nones."""
    return np.full(n, None, dtype=object)


@dataclass
class TrialTable:
    """Trials as columns, all of one length, in one order (``StudyReader`` sorts by number).

    ``start``/``complete``: ``datetime64[us]`` in UTC, NaT where none. ``value``: the first
    objective of a complete trial, else None; ``values``: a tuple per complete trial of
    a multi-objective study, else None. ``params``: external values (None where not
    sampled; ``sampled`` says which, since None is also a choice); ``space`` holds each
    parameter's one distribution, ``varied`` a distribution per trial for a parameter
    stored with several. ``attrs``/``system``: the light attrs' JSON texts, None where
    absent. ``steps``: intermediate values reported."""

    trial_id: np.ndarray
    number: np.ndarray
    state: np.ndarray
    start: np.ndarray
    complete: np.ndarray
    value: np.ndarray
    values: np.ndarray
    steps: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    sampled: dict[str, np.ndarray] = field(default_factory=dict)
    space: dict[str, BaseDistribution] = field(default_factory=dict)
    varied: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    system: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.trial_id)

    @classmethod
    def empty(cls) -> TrialTable:
        n0 = np.zeros(0, dtype=np.int64)
        t0 = np.zeros(0, dtype="datetime64[us]")
        return cls(n0, n0, nones(0), t0, t0, nones(0), nones(0), n0)

    def take(self, index: np.ndarray) -> TrialTable:
        """The trials at ``index`` (positions or a boolean mask), in that order."""
        out: dict[str, Any] = {}
        for f in fields(self):
            column = getattr(self, f.name)
            if f.name == "space":
                out[f.name] = dict(column)
            elif isinstance(column, dict):
                out[f.name] = {k: v[index] for k, v in column.items()}
            else:
                out[f.name] = column[index]
        return TrialTable(**out)

    def by_number(self) -> TrialTable:
        return self.take(np.argsort(self.number, kind="stable"))

    def unfinished(self) -> np.ndarray:
        """A mask of the running and waiting trials."""
        return np.isin(self.state, UNFINISHED_NAMES)

    def texts(self, key: str) -> list[str | None]:
        """The JSON texts of the light user or system attr ``key``, None where absent."""
        column = self.attrs.get(key, self.system.get(key))
        return [None] * len(self) if column is None else column.tolist()

    def distribution(self, name: str, i: int) -> BaseDistribution:
        """The distribution trial ``i`` sampled ``name`` from (it did: ``sampled[name][i]``)."""
        return self.space[name] if name in self.space else self.varied[name][i]

    def param_names(self) -> list[str]:
        """The parameters some trial sampled, in the order a trial's params are given: the ones with one
        distribution by name, then the others."""
        return [n for n in (*sorted(self.space), *self.varied) if self.sampled[n].any()]


def concat(a: TrialTable, b: TrialTable) -> TrialTable:
    """``a``'s trials then ``b``'s; a parameter with a different distribution in each is
    ``varied`` in the result."""
    if not len(a):
        return b
    if not len(b):
        return a
    out: dict[str, Any] = {}
    for f in fields(a):
        if f.name not in ("params", "sampled", "space", "varied", "attrs", "system"):
            out[f.name] = np.concatenate([getattr(a, f.name), getattr(b, f.name)])
    for name in ("attrs", "system"):
        left, right = getattr(a, name), getattr(b, name)
        out[name] = {
            k: np.concatenate([left.get(k, nones(len(a))), right.get(k, nones(len(b)))])
            for k in {**left, **right}
        }
    names = list(dict.fromkeys([*a.params, *b.params]))
    out["params"], out["sampled"], out["space"], out["varied"] = {}, {}, {}, {}
    for name in names:
        out["params"][name] = np.concatenate([_param(a, name), _param(b, name)])
        out["sampled"][name] = np.concatenate([_sampled(a, name), _sampled(b, name)])
        one = {t.space[name] for t in (a, b) if name in t.space}
        if len(one) == 1 and all(name in t.space or name not in t.params for t in (a, b)):
            out["space"][name] = one.pop()
        else:
            out["varied"][name] = np.concatenate([_dists(a, name), _dists(b, name)])
    return TrialTable(**out)


def _param(table: TrialTable, name: str) -> np.ndarray:
    return table.params[name] if name in table.params else nones(len(table))


def _sampled(table: TrialTable, name: str) -> np.ndarray:
    return table.sampled[name] if name in table.sampled else np.zeros(len(table), dtype=bool)


def _dists(table: TrialTable, name: str) -> np.ndarray:
    if name in table.varied:
        return table.varied[name]
    dists = nones(len(table))
    if name in table.space:
        dists[_sampled(table, name)] = table.space[name]
    return dists


def external(dist: BaseDistribution, internals: np.ndarray) -> np.ndarray:
    """``dist.to_external_repr`` of each internal value (NaN: not sampled, None out),
    by array operations for the usual distributions."""
    missing = np.isnan(internals)
    if isinstance(dist, FloatDistribution):
        out = internals.astype(object)
    elif isinstance(dist, IntDistribution):
        out = np.where(missing, 0, internals).astype(np.int64).astype(object)
    elif isinstance(dist, CategoricalDistribution):
        choices = np.empty(len(dist.choices), dtype=object)
        choices[:] = list(dist.choices)
        out = choices[np.where(missing, 0, internals).astype(np.int64)]
    else:
        convert: Callable[[float], Any] = dist.to_external_repr
        out = np.array(
            [None if m else convert(v) for v, m in zip(internals, missing, strict=True)] or [],
            dtype=object,
        )
    out[missing] = None
    return out


def where_none(keep: np.ndarray, column: np.ndarray) -> np.ndarray:
    """``column`` with None where ``keep`` is False (a copy)."""
    out = column.copy()
    out[~keep] = None
    return out


def moments(column: np.ndarray) -> list[dt.datetime | None]:
    """A ``datetime64[us]`` column as aware UTC datetimes (None for NaT)."""
    micros = column.astype(np.int64).tolist()
    nat = np.isnat(column).tolist()
    return [
        None if n else _EPOCH + dt.timedelta(microseconds=u)
        for u, n in zip(micros, nat, strict=True)
    ]


def state_of(name: str) -> TrialState:
    return _STATES[name]

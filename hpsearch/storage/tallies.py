"""A study's totals counted by the database: trials by state, the best value, the time
span and the epochs spent, for the studies list.

``StudyReader.tables`` reads every trial (seconds at 100,000 trials); a list of studies
needs none of them, only these few aggregates (milliseconds). What a key means (which
attr marks a retry, how epochs are read) is the caller's: this module only counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from optuna.storages._rdb import models as m
from optuna.trial import TrialState

_FINITE = m.TrialValueModel.TrialValueType.FINITE
#: The most trials ``tally`` leaves out (an IN list well clear of the databases' limits).
MAX_SKIP = 500


@dataclass(frozen=True)
class Tally:
    """Aggregates over a study's trials, leaving out the failed trials named ``skip``."""

    counts: dict[str, int]  # by state name, every state (zeros included)
    skipped: int  # failed trials left out
    best: tuple[int, float] | None  # (number, value) of the best complete trial
    first_start: dt.datetime | None  # UTC
    last_activity: dt.datetime | None  # UTC: the latest start or completion
    # The epochs attr's texts and how many trials (all of them, skipped too) carry each,
    # and the intermediate values reported by trials without it.
    epoch_texts: dict[str, int]
    steps_without: int


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def marked_trials(
    engine: sa.Engine, study_id: int, user_keys: Collection[str], system_keys: Collection[str]
) -> list[tuple[int, TrialState, dict[str, str], dict[str, str]]]:
    """``(number, state, user attr texts, system attr texts)`` of the trials that carry
    one of the keys (the JSON texts undecoded), by number."""
    t = m.TrialModel.__table__
    found: dict[int, tuple[int, TrialState, dict[str, str], dict[str, str]]] = {}
    tables = [(m.TrialUserAttributeModel.__table__, user_keys, 2)]
    tables.append((m.TrialSystemAttributeModel.__table__, system_keys, 3))
    with engine.connect() as conn:
        for table, keys, slot in tables:
            if not keys:
                continue
            rows = conn.execute(
                sa.select(t.c.trial_id, t.c.number, t.c.state, table.c.key, table.c.value_json)
                .join(table, table.c.trial_id == t.c.trial_id)
                .where(t.c.study_id == study_id, table.c.key.in_(list(keys)))
            ).all()
            for tid, number, state, key, text in rows:
                entry = found.setdefault(tid, (number, state, {}, {}))
                entry[slot][key] = text  # type: ignore[index]
    return sorted(found.values(), key=lambda entry: entry[0])


def tally(
    engine: sa.Engine, study_id: int, *, maximize: bool, skip: Collection[int], epochs_key: str
) -> Tally:
    """The aggregates of the study's trials, the failed ones numbered in ``skip`` left out
    (the epochs count every trial: a left-out one cost compute too)."""
    t, v = m.TrialModel.__table__, m.TrialValueModel.__table__
    u, iv = m.TrialUserAttributeModel.__table__, m.TrialIntermediateValueModel.__table__
    mine = t.c.study_id == study_id
    if len(skip) > MAX_SKIP:
        raise ValueError(f"at most {MAX_SKIP} trials can be left out, got {len(skip)}")
    left_out = sa.and_(t.c.state == TrialState.FAIL, t.c.number.in_(sorted(skip)))
    kept = sa.and_(mine, sa.not_(left_out)) if skip else mine
    with engine.connect() as conn:
        by_state: dict[TrialState, int] = dict(
            conn.execute(
                sa.select(t.c.state, sa.func.count()).where(kept).group_by(t.c.state)
            ).all()
        )
        skipped = 0
        if skip:
            skipped = conn.execute(sa.select(sa.func.count()).where(mine, left_out)).scalar_one()
        order = v.c.value.desc() if maximize else v.c.value.asc()
        best = conn.execute(
            sa.select(t.c.number, v.c.value)
            .join(v, v.c.trial_id == t.c.trial_id)
            .where(
                mine,
                t.c.state == TrialState.COMPLETE,
                v.c.objective == 0,
                v.c.value_type == _FINITE,
            )
            .order_by(order, t.c.number)
            .limit(1)
        ).first()
        first, last_start, last_end = conn.execute(
            sa.select(
                sa.func.min(t.c.datetime_start),
                sa.func.max(t.c.datetime_start),
                sa.func.max(t.c.datetime_complete),
            ).where(kept)
        ).one()
        ids = sa.select(t.c.trial_id).where(mine)
        has_key = sa.exists().where(u.c.trial_id == t.c.trial_id, u.c.key == epochs_key)
        # The trials without the attr (running ones, typically) are few: count their
        # reports only, by index, rather than every report of the study.
        without = sa.select(t.c.trial_id).where(mine, ~has_key)
        epoch_texts: dict[str, int] = dict(
            conn.execute(
                sa.select(u.c.value_json, sa.func.count())
                .where(u.c.trial_id.in_(ids), u.c.key == epochs_key)
                .group_by(u.c.value_json)
            ).all()
        )
        steps_without = conn.execute(
            sa.select(sa.func.count()).where(iv.c.trial_id.in_(without))
        ).scalar_one()
    moments = [x for x in (last_start, last_end) if x is not None]
    return Tally(
        counts={s.name: int(by_state.get(s, 0)) for s in TrialState},
        skipped=int(skipped),
        best=None if best is None else (int(best[0]), float(best[1])),
        first_start=_utc(first),
        last_activity=_utc(max(moments)) if moments else None,
        epoch_texts={str(k): int(n) for k, n in epoch_texts.items()},
        steps_without=int(steps_without),
    )


def steps_of(engine: sa.Engine, study_id: int, key: str, texts: Collection[str]) -> int:
    """Intermediate values reported by the trials whose ``key`` attr is one of ``texts``
    (an epochs attr that is not a number: those trials count what they reported)."""
    t = m.TrialModel.__table__
    u, iv = m.TrialUserAttributeModel.__table__, m.TrialIntermediateValueModel.__table__
    ids = sa.select(u.c.trial_id).where(
        u.c.trial_id.in_(sa.select(t.c.trial_id).where(t.c.study_id == study_id)),
        u.c.key == key,
        u.c.value_json.in_(list(texts)),
    )
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).where(iv.c.trial_id.in_(ids))).scalar_one()
        )

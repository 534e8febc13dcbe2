"""The PostgreSQL connections a worker's own trial operations go through.

A worker claims its trial, reads the study's trial states and writes its trial
(``hpsearch.storage.trialwrite``) through a small pool of its own, set up for the
fewest round trips per operation, on the trial's critical path:

* autocommit: an operation is one statement, with no BEGIN and COMMIT round trips;
* ``synchronous_commit = off``: a commit does not wait for the disk (2-4 ms per commit
  on a shared disk, most of a worker's storage time per trial). Other sessions see
  each commit at once, as always, and a restart of the server or a crash of the
  worker loses nothing; only a crash of the database server itself may lose the
  commits of its last fraction of a second (``wal_writer_delay``, 0.2 s by default,
  up to three times that). What that leaves is what a killed worker leaves: a trial
  back to WAITING is claimed again; one back to RUNNING has a heartbeat that stopped
  (heartbeats, and all of Optuna's own writes, go through the durable main pool), so
  a worker fails it as stale and re-queues it. A trial is finished with one
  conditional statement, so none is ever finished twice and budgets stay exact;
* its statements are prepared on the server at their first use (``prepare_threshold``
  0; psycopg's default waits for a fifth), parsed and planned once per connection:
  they are a handful of fixed shapes, run for every trial;
* no ping before every use: a connection is pinged only after ``PING_AFTER_IDLE``
  seconds unused (a worker's connection is busy, and a dead one is retried anyway).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc

#: Seconds a pooled connection may sit unused before it is pinged at its next use.
PING_AFTER_IDLE = 5.0
#: Connections the trial pool keeps, and opens beyond them when busy (its operations
#: run on the worker's main thread, one at a time).
TRIAL_POOL = (1, 1)


def trial_engine(main: Engine) -> Engine:
    """The trial pool for ``main``'s PostgreSQL database (see module doc)."""
    engine = create_engine(
        main.url,
        isolation_level="AUTOCOMMIT",
        connect_args={"options": "-c synchronous_commit=off", "prepare_threshold": 0},
        pool_size=TRIAL_POOL[0],
        max_overflow=TRIAL_POOL[1],
        pool_recycle=3600,
    )
    ping_when_idle(engine, PING_AFTER_IDLE)
    return engine


def ping_when_idle(engine: Engine, seconds: float) -> None:
    """Ping a pooled connection before use only if it sat unused for ``seconds``; a
    dead one is replaced, as SQLAlchemy's ``pool_pre_ping`` would do at every use."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool replaces it and checks out again
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error

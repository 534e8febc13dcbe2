"""Signals of a worker: SIGTERM (and SIGINT) stop it cleanly, never mid database call.

A stop raises ``WorkerStopped`` only while trials run (``StopRequest.raising``), so the
loop can fail and re-queue every claimed trial; elsewhere it is only noted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class WorkerStopped(BaseException):
    """SIGTERM (or SIGINT) arrived: give up the current trial cleanly and exit."""


#: Code a stop must not interrupt: a database call cut off midway leaves SQLAlchemy
#: cleaning up half-used cursors and connections (with tracebacks on stderr).
_UNINTERRUPTIBLE = (
    "sqlalchemy",
    "sqlite3",
    "optuna.storages",
    "hpsearch.storage.resilient",
    "hpsearch.storage.cache",
    "hpsearch.storage.trialwrite",
    "psycopg",
    "pymysql",
    "MySQLdb",
    "alembic",
)
#: Seconds until a stop that arrived during a database call is tried again (SIGALRM).
_STOP_RETRY_SECONDS = 0.02
_CAN_RETRY = hasattr(signal, "setitimer")


def _in_database_call(frame: Any) -> bool:
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(_UNINTERRUPTIBLE):
            return True
        frame = frame.f_back
    return False


class StopRequest:
    """SIGTERM or SIGINT: raise ``WorkerStopped`` inside a trial, else just note it for the loop.

    Raising only inside the objective keeps a signal from landing between a claim and
    the first heartbeat, which would leave a RUNNING trial that no heartbeat can expire.
    Inside the objective it waits until a running database call returns (retried on
    SIGALRM a moment later), so the storage is never left mid-transaction.
    """

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._in_trial = False

    def handler(self, signum: int, frame: Any) -> None:
        if signum != getattr(signal, "SIGALRM", None):
            self.requested = True
            self.signal_name = self.signal_name or signal.Signals(signum).name
        if not (self.requested and self._in_trial):
            return
        if _CAN_RETRY and _in_database_call(frame):
            signal.setitimer(signal.ITIMER_REAL, _STOP_RETRY_SECONDS)
            return
        self._in_trial = False
        raise WorkerStopped

    @contextlib.contextmanager
    def raising(self) -> Iterator[None]:
        if self.requested:
            raise WorkerStopped
        self._in_trial = True
        try:
            yield
        finally:
            self._in_trial = False


@contextlib.contextmanager
def sigterm_raises() -> Iterator[StopRequest]:
    """SIGTERM, and SIGINT unless it is ignored (local workers of ``hpsearch run`` leave
    Ctrl-C to their parent, which sends SIGTERM), stop the worker cleanly."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    signals = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signals.append(signal.SIGINT)
    if _CAN_RETRY:
        signals.append(signal.SIGALRM)
    previous = {signum: signal.signal(signum, stop.handler) for signum in signals}
    try:
        yield stop
    finally:
        if _CAN_RETRY:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)

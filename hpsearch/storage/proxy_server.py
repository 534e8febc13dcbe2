"""``hpsearch proxy``: Optuna's gRPC storage proxy in front of one database.

It serves the database through Optuna's ``run_grpc_proxy_server``, with what
hpsearch's workers get from a database URL and Optuna's protocol lacks:

* a claim (``set_trial_state_values(RUNNING)`` of a WAITING trial) is hpsearch's
  one-statement claim, atomic on every database (Optuna's reads, then writes: on
  SQLite two of the proxy's threads could both get a trial), and records the trial's
  first heartbeat, so a worker killed right after its claim still leaves a trial that
  goes stale;
* a write of the trial system attr ``HEARTBEAT_ATTR`` is recorded as the trial's
  heartbeat in the database (``hpsearch.storage.proxy``);
* every heartbeat interval the proxy fails the stale trials of every study and
  re-queues them (Optuna's ``fail_stale_trials``), which workers on a database URL do
  themselves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.errors import StorageError
from hpsearch.storage.cache import StudyCache
from hpsearch.storage.proxy import HEARTBEAT_ATTR, check_grpc_installed, is_proxy_url
from hpsearch.storage.resilient import ResilientRDBStorage
from hpsearch.storage.urls import HEARTBEAT_INTERVAL, mask_url, open_storage

log = logging.getLogger("hpsearch.proxy")
#: Threads answering workers' calls at once; each call holds one database connection
#: at most, and the database pool (``urls.POOL``) bounds what they hold together.
THREADS = 16


class ServedStorage(StudyCache):
    """hpsearch's cached RDB storage, as the proxy serves it (module doc).

    It is a ``StudyCache`` for its light refreshes (each worker's ``get_all_trials``
    makes the proxy refresh the study: Optuna's cache re-reads every unfinished trial,
    which is the whole queue of WAITING trials) and never defers a write: the trials
    are the workers', so none is ever this process's own.
    """

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        with self._lock:
            self._own.pop(trial_id, None)  # a RUNNING trial a worker asked for: its own
        return trial_id

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        claim = state == TrialState.RUNNING and values is None
        if claim and self._backend.claim_waiting_trial(trial_id) is not None:
            if not self._backend.claims_beat and self.get_heartbeat_interval():
                self._backend.record_heartbeat(trial_id)
            return True
        # Not a claim, or a claim lost to another worker or of a trial not WAITING:
        # Optuna's answer (False, or the error for a finished or unknown trial).
        return super().set_trial_state_values(trial_id, state, values)

    def set_trial_system_attr(self, trial_id: int, key: str, value: object) -> None:
        if key == HEARTBEAT_ATTR:
            if self.get_heartbeat_interval():
                self._backend.record_heartbeat(trial_id)
            return
        super().set_trial_system_attr(trial_id, key, value)


def open_served_storage(url: str) -> ServedStorage:
    """The storage the proxy serves for the database at ``url`` (created if new)."""
    if is_proxy_url(url):
        raise StorageError(
            f"hpsearch proxy --storage {url}: the proxy needs the database URL "
            "(e.g. postgresql+psycopg://user@host/db), not another proxy's"
        )
    backend = open_storage(url)
    if not isinstance(backend, ResilientRDBStorage):
        raise StorageError(f"hpsearch proxy serves SQL databases only, not {mask_url(url)}")
    return ServedStorage(backend)


class StaleTrialReaper(threading.Thread):
    """Fails and re-queues the trials of killed workers, in every study, every interval."""

    def __init__(self, storage: ServedStorage) -> None:
        super().__init__(name="stale-trials", daemon=True)
        self.storage = storage
        self.interval = float(storage.get_heartbeat_interval() or HEARTBEAT_INTERVAL)
        self.stopped = threading.Event()
        self._studies: dict[str, optuna.Study] = {}

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.reap()
            except Exception as error:  # e.g. the database restarting: try again later
                log.warning("looking for stale trials failed: %s", error)

    def reap(self) -> None:
        """One pass over every study (Optuna's ``fail_stale_trials`` re-queues each one)."""
        for summary in self.storage.get_all_studies():
            study = self._studies.get(summary.study_name)
            if study is None:
                study = optuna.load_study(study_name=summary.study_name, storage=self.storage)
                self._studies[summary.study_name] = study
            optuna.storages.fail_stale_trials(study)


def serve(url: str, host: str, port: int, *, on_ready: Callable[[], None] | None = None) -> None:
    """Serve the database at ``url`` on ``host:port`` until interrupted (blocks);
    ``on_ready`` is called once the database is open, as the server starts.

    ``StorageError`` when the database cannot be opened or the port cannot be bound.
    """
    check_grpc_installed()
    storage = open_served_storage(url)
    if not storage.get_heartbeat_interval():
        log.warning("heartbeats are off: trials of killed workers stay RUNNING")
    reaper = StaleTrialReaper(storage)
    reaper.start()
    if on_ready is not None:
        on_ready()
    try:
        optuna.storages.run_grpc_proxy_server(
            storage,
            host=host,
            port=port,
            thread_pool=ThreadPoolExecutor(max_workers=THREADS),
        )
    except RuntimeError as error:  # grpc: "Failed to bind to address ..."
        raise StorageError(
            f"cannot listen on {host}:{port} ({error}); is something else using that port?"
        ) from None
    finally:
        reaper.stopped.set()


__all__ = ["ServedStorage", "StaleTrialReaper", "open_served_storage", "serve"]

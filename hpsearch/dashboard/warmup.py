"""First reads of big studies in the background, so the study page answers at once.

Reading a 100,000-trial study the first time takes seconds (every trial's params and
record). Rather than keep the page blank meanwhile, the API answers the first
requests with the study's summary, counted by the database (``DashboardReader.listed``,
milliseconds), marked ``"partial": true``, and reads the trials in a thread; the page
polls until the full answer comes (then from the cache, incrementally, as always).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Studies with at least this many trials are read in the background the first time.
PARTIAL_ABOVE = 20_000


class Warmup:
    """At most one background first read per study at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, threading.Thread] = {}
        self.errors: dict[int, BaseException] = {}

    def start(self, study_id: int, read: Callable[[], object]) -> None:
        """Run ``read()`` in a daemon thread unless one is already running for the study."""
        with self._lock:
            if study_id in self._running:
                return
            thread = threading.Thread(
                target=self._run, args=(study_id, read), name=f"hpsearch-warmup-{study_id}"
            )
            thread.daemon = True
            self._running[study_id] = thread
        thread.start()

    def running(self, study_id: int) -> bool:
        with self._lock:
            return study_id in self._running

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background reads (tests and the benchmark)."""
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(timeout)

    def _run(self, study_id: int, read: Callable[[], object]) -> None:
        try:
            read()
            self.errors.pop(study_id, None)
        except Exception as error:  # the next request reads in the foreground and says why
            log.warning("background read of study %s failed: %s", study_id, error)
            self.errors[study_id] = error
        finally:
            with self._lock:
                self._running.pop(study_id, None)

"""Switches for the storage speed paths, read in one place, so each can be measured.

Every speed path is on unless ``HPSEARCH_SPEED_OFF`` names it (comma-separated);
``benchmarks/workers.py`` turns each off in turn to show what it saves per trial:

* ``cache``: the worker's ``StudyCache`` (``hpsearch.storage.cache``: light refreshes,
  snapshot reads during a trial, deferred trial writes); off, a study uses Optuna's
  own cache around the RDB storage.
* ``batched_writes``: a trial's params, attrs and epoch values written together in one
  transaction (``hpsearch.storage.trialwrite``), with its final state; off, each is
  written by Optuna's own call, when it is made.
* ``deferred_reports``: epochs reported in batches at about 0.5% of trial time, and
  the objective's attrs sent with the next write (``hpsearch.tuning.reporting``);
  off, every epoch is written (and the pruner asked) when it ends.

Turning a path off changes how fast, never what is stored. Two former paths saved
less than 1% of trial time on digits-quick and were removed: PostgreSQL's writes as one
statement (``pgwrite``) and a separate trial pool with asynchronous commits
(``trialengine``).
"""

from __future__ import annotations

import os

from hpsearch.errors import StorageError

SPEED_OFF_ENV = "HPSEARCH_SPEED_OFF"
#: The speed paths, in the order the benchmark measures them.
SPEED_PATHS = ("cache", "batched_writes", "deferred_reports")


def speed_path_on(name: str) -> bool:
    """Whether the speed path ``name`` (one of ``SPEED_PATHS``) is on: it is unless
    ``HPSEARCH_SPEED_OFF`` names it. An unknown name there is one clear error."""
    assert name in SPEED_PATHS, name
    return name not in speed_paths_off()


def speed_paths_off() -> frozenset[str]:
    """The speed paths ``HPSEARCH_SPEED_OFF`` turns off (empty when it is unset)."""
    raw = os.environ.get(SPEED_OFF_ENV, "")
    names = frozenset(part.strip() for part in raw.split(",") if part.strip())
    unknown = sorted(names - set(SPEED_PATHS))
    if unknown:
        raise StorageError(
            f"{SPEED_OFF_ENV}={raw!r}: unknown speed path {', '.join(unknown)}; "
            f"valid: {', '.join(SPEED_PATHS)}"
        )
    return names

"""Shuffled mini-batches gathered into preallocated buffers, never one array per batch.

Each epoch's permutation is gathered into preallocated buffers and mini-batches are
views of them. Small batches (under ``SMALL_BATCH`` rows) are handled differently
from big ones, as measured on 2 cores (784-100-10, 60k rows, s/epoch):

* BLAS runs on one thread (``single_threaded_blas``): OpenBLAS splits even a 10-row
  GEMM across its threads, and waking them costs more than the split saves
  (batch 10: 0.49 s on one thread, 0.92 s on two; batch 64: 0.25 s vs 0.26 s);
* a helper thread gathers the permutation in chunks on the idle core, double-buffered:
  while training works through one chunk, the helper gathers the next (NumPy's
  ``take`` releases the GIL) (batch 32: 0.29 s with it, 0.32 s without).

From ``SMALL_BATCH`` rows up, BLAS keeps both cores busy (batch 256: 0.17 s on two
threads, 0.22 s on one), so each batch is gathered just before use instead, while
its rows are hot in cache for the first GEMM.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

from threadpoolctl import ThreadpoolController

from hpsearch.nn.backend import xp

#: Bytes of input rows per chunk buffer (two of them) when prefetching.
CHUNK_BYTES = 8 * 2**20
#: Batches smaller than this run BLAS on one thread and are prefetched by a helper
#: thread (see the module doc).
SMALL_BATCH = 128


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """Inspects the loaded BLAS libraries once (milliseconds); its limits then cost
    microseconds."""
    return ThreadpoolController()


def blas_threads_for(batch_size: int) -> AbstractContextManager[Any]:
    """BLAS on one thread for small batches while it is in effect (module doc); else nothing."""
    if batch_size >= SMALL_BATCH:
        return contextlib.nullcontext()
    return _blas_controller().limit(limits=1, user_api="blas")


class ShuffledBatches:
    """Iterates ``(X_batch, y_batch)`` views over a permutation of ``X, y``, epoch after epoch."""

    def __init__(self, X: Any, y: Any, batch_size: int) -> None:
        self.X, self.y, self.batch_size = X, y, batch_size
        n = len(X)
        rows = batch_size
        if batch_size < SMALL_BATCH:
            rows = max(batch_size, CHUNK_BYTES // max(1, X.shape[1] * X.itemsize))
            rows = rows // batch_size * batch_size
        self.chunk_rows = min(n, rows)
        self.prefetch = self.chunk_rows < n and batch_size < SMALL_BATCH
        self._buffers = [
            (xp.empty((self.chunk_rows, X.shape[1]), X.dtype), xp.empty(self.chunk_rows, y.dtype))
            for _ in range(2 if self.prefetch else 1)
        ]
        self._executor: ThreadPoolExecutor | None = None

    def single_threaded_blas(self) -> AbstractContextManager[Any]:
        """For small batches, BLAS on one thread while it is in effect (module doc)."""
        return blas_threads_for(self.batch_size)

    def epoch(self, order: Any) -> Iterator[tuple[Any, Any]]:
        """The mini-batches of one epoch, in the order of the permutation ``order``."""
        chunks = self._prefetched(order) if self.prefetch else self._gathered(order)
        for cx, cy in chunks:
            for b in range(0, len(cx), self.batch_size):
                yield cx[b : b + self.batch_size], cy[b : b + self.batch_size]

    def _gather(self, index: Any, slot: int) -> tuple[Any, Any]:
        bx, by = self._buffers[slot]
        m = len(index)
        # ``index`` is part of a permutation of the rows, so never out of range. With the
        # default mode="raise", NumPy gathers into a temporary and then copies that into
        # ``out``; mode="clip" writes ``out`` directly (256-row batches: 18 ms per epoch
        # instead of 33).
        return (
            xp.take(self.X, index, axis=0, out=bx[:m], mode="clip"),
            xp.take(self.y, index, out=by[:m], mode="clip"),
        )

    def _gathered(self, order: Any) -> Iterator[tuple[Any, Any]]:
        for start in range(0, len(order), self.chunk_rows):
            yield self._gather(order[start : start + self.chunk_rows], 0)

    def _prefetched(self, order: Any) -> Iterator[tuple[Any, Any]]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches")
        rows = self.chunk_rows
        pending: Future[tuple[Any, Any]] = self._executor.submit(self._gather, order[:rows], 0)
        for i, start in enumerate(range(0, len(order), rows)):
            chunk = pending.result()
            following = start + rows
            if following < len(order):
                # The other buffer is free: its chunk was used up before this one was asked for.
                pending = self._executor.submit(
                    self._gather, order[following : following + rows], (i + 1) % 2
                )
            yield chunk

    def __enter__(self) -> ShuffledBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the helper thread (if any)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

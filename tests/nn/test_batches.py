"""ShuffledBatches: every row once per epoch, and BLAS on one thread for small batches."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from hpsearch.nn import batches as batches_module
from hpsearch.nn.batches import SMALL_BATCH, ShuffledBatches


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.mark.parametrize("chunk_rows", [None, 50])
@pytest.mark.parametrize("batch_size", [1, 7, SMALL_BATCH - 1, SMALL_BATCH, 300])
def test_an_epoch_yields_each_row_once_in_permutation_order(
    batch_size: int, chunk_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batches of an epoch are the permutation's rows, in order, none twice, also
    when a helper thread prefetches them chunk by chunk."""
    X = np.arange(1000 * 3, dtype=np.float32).reshape(1000, 3)
    y = np.arange(1000)
    order = np.random.default_rng(0).permutation(1000)
    if chunk_rows is not None:
        monkeypatch.setattr(batches_module, "CHUNK_BYTES", chunk_rows * X.shape[1] * X.itemsize)
    with ShuffledBatches(X, y, batch_size) as batches:
        assert batches.prefetch == (chunk_rows is not None and batch_size < SMALL_BATCH)
        seen = [yb.copy() for _, yb in batches.epoch(order)]
        rows = [xb[:, 0].copy() for xb, _ in batches.epoch(order)]
    assert all(len(b) <= batch_size for b in seen)
    np.testing.assert_array_equal(np.concatenate(seen), order)
    np.testing.assert_array_equal(np.concatenate(rows), order * 3)


def test_small_batches_run_blas_on_one_thread_and_restore_it() -> None:
    """Below SMALL_BATCH rows BLAS is limited to one thread, then restored; not above."""
    X, y = np.zeros((10, 2), np.float32), np.zeros(10, np.int64)
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        if before != {2}:
            pytest.skip(f"BLAS does not accept 2 threads here ({before})")
        with ShuffledBatches(X, y, SMALL_BATCH - 1).single_threaded_blas():
            assert _blas_threads() == {1}
        assert _blas_threads() == before
        with ShuffledBatches(X, y, SMALL_BATCH).single_threaded_blas():
            assert _blas_threads() == before

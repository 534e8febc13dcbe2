"""Optuna's storage contract over the gRPC path hpsearch builds: a ``ProxyStorage`` client
(what ``--storage grpc://`` opens) talking to the ``ServedStorage`` that
``hpsearch proxy`` serves, on a fresh SQLite database per test.

The server is Optuna's own gRPC servicer around ``ServedStorage`` (what
``run_grpc_proxy_server`` builds), started and stopped in-process so each test gets
an empty database.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from optuna.storages._grpc.server import make_server
from optuna.testing.pytest_storages import StorageTestCase

from hpsearch.storage.proxy import ProxyStorage
from hpsearch.storage.proxy_server import open_served_storage

pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: Optuna's gRPC messages carry a trial's params as a protobuf map, which keeps no order,
#: so the order of ``params`` can change on the way: Optuna's own ``GrpcStorageProxy``
#: over a plain ``RDBStorage`` fails this test the same way, about half the time.
#: hpsearch orders params by its hyperparameter table wherever it shows them.
UNORDERED_MAPS = "test_get_all_trials_params_order["


@pytest.fixture
def storage(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ProxyStorage]:
    """A proxy client over a served, empty SQLite database (``StorageTestCase`` asks for it)."""
    if request.node.name.startswith(UNORDERED_MAPS):
        request.applymarker(
            pytest.mark.xfail(strict=False, reason="protobuf maps keep no order (Optuna's too)")
        )
    served = open_served_storage(f"sqlite:///{tmp_path / 'served.db'}")
    port = _free_port()
    server = make_server(served, "127.0.0.1", port)
    server.start()
    client = ProxyStorage(f"grpc://127.0.0.1:{port}", heartbeat_interval=None)
    client.wait_server_ready(timeout=10)
    try:
        yield client
    finally:
        client.close()
        server.stop(0).wait()
        served._backend.engine.dispose()


class TestProxyStorageContract(StorageTestCase):
    """Every test of Optuna's ``StorageTestCase`` through ``grpc://`` and ``hpsearch proxy``."""

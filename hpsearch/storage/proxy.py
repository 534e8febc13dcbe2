"""``grpc://HOST:PORT`` storages: a worker's side of Optuna's gRPC storage proxy.

Hundreds of workers that each hold a few database connections overload a database
server; behind ``hpsearch proxy`` (``hpsearch.storage.proxy_server``) they hold one
gRPC channel each, and the proxy holds the one pool of database connections.

Optuna's proxy protocol has no heartbeat calls, so a worker's heartbeat travels as a
write of the trial system attr ``HEARTBEAT_ATTR``; ``hpsearch proxy`` turns it into a
heartbeat of the database storage it serves (the attr itself is never stored), and it
fails the trials of killed workers and re-queues them. Claims need nothing here: a
worker's ``set_trial_state_values(RUNNING)`` is the proxy's atomic claim.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import optuna

from hpsearch.errors import StorageError
from hpsearch.storage.resilient import RETRY_SECONDS

log = logging.getLogger("hpsearch.storage")

SCHEME = "grpc"
#: Trial system attr whose write through the proxy is the trial's heartbeat.
HEARTBEAT_ATTR = "hpsearch:heartbeat"
#: Seconds a new client waits for the proxy to answer before giving up.
CONNECT_SECONDS = 15.0
_INSTALL = "pip install 'hpsearch[grpc]'"


def is_proxy_url(url: str) -> bool:
    """Whether ``url`` names a gRPC storage proxy (``grpc://HOST:PORT``)."""
    return url.split("://", 1)[0].lower() == SCHEME


def parse_proxy_url(url: str) -> tuple[str, int]:
    """(host, port) of ``grpc://HOST:PORT``; ``StorageError`` naming the problem otherwise."""
    expected = "expected grpc://HOST:PORT, the address `hpsearch proxy --port N` listens on"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise StorageError(f"storage URL {url!r}: {error}; {expected}") from None
    if not parts.hostname:
        raise StorageError(f"storage URL {url!r} has no host; {expected}")
    if port is None or port == 0:
        raise StorageError(f"storage URL {url!r} has no port; {expected}")
    if parts.username or parts.password or parts.path.strip("/") or parts.query:
        raise StorageError(
            f"storage URL {url!r}: a proxy URL has only a host and a port; {expected} "
            "(the database URL is the proxy's own --storage)"
        )
    return parts.hostname, port


def check_grpc_installed() -> None:
    """``StorageError`` with the install command when grpcio or protobuf is missing."""
    missing = [
        package
        for package, module in (("grpcio", "grpc"), ("protobuf", "google.protobuf"))
        if _find_spec(module) is None
    ]
    if missing:
        raise StorageError(
            f"grpc:// storages need {' and '.join(missing)}, which are not installed: {_INSTALL}"
        )


def _find_spec(module: str) -> Any:
    try:
        return importlib.util.find_spec(module)
    except ModuleNotFoundError:  # the parent package (google) is missing
        return None


def _unavailable(error: BaseException) -> bool:
    """True for a gRPC error of an unreachable proxy (restarting, a network blip)."""
    import grpc

    return isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAVAILABLE


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, retried with backoff for up to ``RETRY_SECONDS`` while the proxy is
    unreachable, as calls to a database are (``hpsearch.storage.resilient``)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + RETRY_SECONDS
        wait = 0.5
        while True:
            try:
                return method(self, *args, **kwargs)
            except Exception as error:
                if not _unavailable(error) or time.monotonic() + wait > deadline:
                    raise
                log.warning(
                    "storage proxy unreachable during %s; retrying in %.1f s", method.__name__, wait
                )
                time.sleep(wait)
                wait = min(wait * 2, 5.0)

    return wrapper


class ProxyStorage(optuna.storages.GrpcStorageProxy):
    """Optuna's ``GrpcStorageProxy`` with hpsearch's heartbeats (module doc) and its URL.

    ``get_heartbeat_interval`` and ``record_heartbeat`` are what the worker loop's
    heartbeat thread calls. It is not an Optuna ``BaseHeartbeat``: stale trials are
    found by the proxy, which holds the heartbeats, not by each worker.
    """

    def __init__(self, url: str, *, heartbeat_interval: int | None) -> None:
        host, port = parse_proxy_url(url)
        with warnings.catch_warnings():  # marked experimental in Optuna 5.0; public API
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # gRPC names an IPv6 address in brackets; urlsplit gives it without them.
            super().__init__(host=f"[{host}]" if ":" in host else host, port=port)
        self.url = url
        self._heartbeat_interval = heartbeat_interval

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, True)


#: The calls that reach the proxy; a worker rides out a proxy restart in each.
RETRIED = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "set_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_all_trials",
)
for _name in RETRIED:
    setattr(ProxyStorage, _name, _retrying(getattr(optuna.storages.GrpcStorageProxy, _name)))


def open_proxy(url: str, *, heartbeat_interval: int | None) -> ProxyStorage:
    """A client of the ``hpsearch proxy`` at ``url``, once it answers (``CONNECT_SECONDS``)."""
    check_grpc_installed()
    storage = ProxyStorage(url, heartbeat_interval=heartbeat_interval)
    try:
        storage.wait_server_ready(timeout=CONNECT_SECONDS)
    except ConnectionError:
        storage.close()
        raise StorageError(
            f"no storage proxy answers at {url} after {CONNECT_SECONDS:g} s; start one there with "
            "`hpsearch proxy --storage DATABASE_URL --port PORT`"
        ) from None
    return storage

"""``hpsearch proxy``: Optuna's gRPC storage proxy in front of a study database."""

from __future__ import annotations

import signal
from types import FrameType

import click

from hpsearch.cli import cli
from hpsearch.storage.proxy_server import serve
from hpsearch.storage.urls import mask_url, resolve_storage_url


class _Terminated(Exception):
    """SIGTERM arrived (``docker stop``, Kubernetes): stop serving."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@cli.command()
@click.option(
    "--storage",
    default=None,
    metavar="URL",
    help="Database URL to serve (default: env HPSEARCH_STORAGE, else sqlite:///hpsearch.db).",
)
@click.option(
    "--port",
    type=click.IntRange(min=1, max=65535),
    required=True,
    help="Port to listen on; workers use --storage grpc://HOST:PORT.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface; only on a private network).",
)
def proxy(storage: str | None, port: int, host: str) -> None:
    """Serve a study database to many workers through one gRPC proxy (Optuna's).

    Use it when hundreds of workers share a study: each worker on a database URL holds
    a few connections of its own, while workers started with `--storage grpc://HOST:PORT`
    hold none; the proxy keeps one pool of connections to the database (--storage,
    a database URL) and records their heartbeats. It also fails and re-queues the trials
    of killed workers. A few dozen workers need no proxy. Runs in the foreground: Ctrl-C
    stops it (exit 130), SIGTERM too (exit 0). The connection is not encrypted: keep the
    port on a private network.
    """
    url = resolve_storage_url(storage)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)

    def ready() -> None:
        click.echo(
            f"storage proxy for {mask_url(url)} on {host}:{port}: workers use "
            f"--storage grpc://{host}:{port}; Ctrl-C stops it"
        )

    try:
        serve(url, host, port, on_ready=ready)
    except KeyboardInterrupt:
        click.echo("proxy stopped (interrupted)", err=True)
        raise SystemExit(130) from None
    except _Terminated:
        click.echo("proxy stopped (SIGTERM)", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)

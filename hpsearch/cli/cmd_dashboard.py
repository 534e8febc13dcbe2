"""``hpsearch dashboard``: serve the read-only web dashboard over a study storage."""

from __future__ import annotations

import click

from hpsearch.cli import cli
from hpsearch.cli.options import storage_option
from hpsearch.errors import ConfigError


@cli.command()
@storage_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="HPSEARCH_DASHBOARD_TOKEN",
    default=None,
    help="Required by every page and API call [env HPSEARCH_DASHBOARD_TOKEN]; "
    "needed to bind a non-loopback --host.",
)
def dashboard(storage: str, host: str, port: int, token: str | None) -> None:
    """Serve the web dashboard: studies, trials, curves, comparisons (read-only).

    It binds 127.0.0.1 by default; binding any other address requires a token.
    """
    try:  # Flask and plotly are an optional extra: import them only here
        from hpsearch.dashboard import serve
        from hpsearch.dashboard.auth import check_bind
    except ImportError as error:
        raise ConfigError(
            f"the dashboard needs the 'dashboard' extra ({error.name} is missing): "
            "pip install 'hpsearch[dashboard]'"
        ) from None

    check_bind(host, token)  # before opening the storage: the clearer error first
    serve(storage, host, port, token)

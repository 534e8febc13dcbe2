"""``hpsearch data``: list the datasets and where they come from; fetch one."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from hpsearch.cli import cli
from hpsearch.cli.console import make_console
from hpsearch.cli.layout import Col, fit_table


def _console() -> Console:
    # A wide virtual terminal when piped, so paths and hashes are not folded.
    return make_console()


@cli.group()
def data() -> None:
    """Datasets: which are available, and fetching them ahead of a study."""


@data.command("list")
def list_datasets() -> None:
    """List the built-in datasets, whether each is available and where it comes from."""
    from hpsearch.data import describe_sources

    columns = [
        Col("name", priority=100),
        Col("available", "ok", priority=90),
        Col("from", priority=50, wrap=True),
        Col("location", "where", priority=30, wrap=True),
        Col("description", priority=40, wrap=True),
    ]
    rows = [
        [info.name, "yes" if info.available else "no", info.origin, info.location, info.description]
        for info in describe_sources()
    ]
    console = _console()
    console.print(fit_table(columns, rows, console.width, title="datasets"))
    console.print(
        "Also: npz:PATH (arrays X_train, y_train, X_test, y_test, or X, y) and "
        "csv:PATH (option label=COLUMN). `hpsearch data fetch NAME` downloads a missing one."
    )


@data.command("fetch")
@click.argument("name")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder holding the IDX files.")
@click.option(
    "--url",
    "base_url",
    help="Base URL to download from (default: $HPSEARCH_DATA_URL, then the mirrors).",
)
@click.option("--progress/--no-progress", default=None, help="Show a download progress bar.")
def fetch(name: str, data_dir: str | None, base_url: str | None, progress: bool | None) -> None:
    """Make dataset NAME available: find or download (and verify) its files, decode and cache them."""
    from hpsearch.data import load, load_options

    accepted = load_options(name)
    given: dict[str, Any] = {"data_dir": data_dir, "base_url": base_url, "progress": progress}
    options = {key: value for key, value in given.items() if value is not None and key in accepted}
    ignored = [
        f"--{key.replace('_', '-')}"
        for key in given
        if given[key] is not None and key not in accepted
    ]
    if ignored:
        raise click.UsageError(f"{', '.join(ignored)} does not apply to dataset {name!r}")
    dataset = load(name, **options)
    provenance = dataset.provenance
    console = _console()
    summary = Table(title=f"{dataset.name}", show_header=False)
    summary.add_column("field")
    summary.add_column("value", overflow="fold")
    summary.add_row("source", str(provenance.get("source", "")))
    summary.add_row("train", f"{len(dataset.y_train)} x {dataset.n_features}")
    summary.add_row("test", f"{len(dataset.y_test)} x {dataset.n_features}")
    summary.add_row("classes", f"{dataset.n_classes}: {', '.join(dataset.class_names)}")
    summary.add_row(
        "image shape",
        "-" if dataset.image_shape is None else "x".join(map(str, dataset.image_shape)),
    )
    console.print(summary)
    files = Table(title="files")
    for column in ("file", "bytes", "sha256"):
        files.add_column(column, overflow="fold")
    for record in provenance.get("files", []):
        files.add_row(record["path"], str(record.get("bytes", "")), record["sha256"])
    console.print(files)

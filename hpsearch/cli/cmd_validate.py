"""``hpsearch validate SPEC``: check a study spec and print what it would run."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from hpsearch.cli import cli
from hpsearch.cli.console import make_console
from hpsearch.cli.layout import Col, fit_table
from hpsearch.cli.tables import params_text
from hpsearch.spec.hyperparams import HYPERPARAMETERS
from hpsearch.spec.strategies import PRUNERS, resolve_pruner, resolve_sampler
from hpsearch.spec.study_spec import HYPERPARAMETER_NAMES, DataSection, StudySpec, load_spec
from hpsearch.tuning.opening import opening_points
from hpsearch.tuning.space import distribution_for


@cli.command()
@click.argument("spec", type=click.Path(path_type=Path))
def validate(spec: Path) -> None:
    """Check the study spec SPEC (TOML) and print a summary.

    Every problem is listed with its key path; the exit code is 1 if there is any.
    """
    loaded = load_spec(spec)  # a SpecError lists every problem; main() prints it, exit 1
    from hpsearch.workers.datacheck import check_against_data  # lazy: loads the data

    note = check_against_data(loaded, source=str(spec))  # what run checks, when it can
    console = make_console()
    console.print(f"[bold green]ok[/] {escape(str(spec))}", markup=True)
    if note:
        console.print(note)
    console.print(_summary(loaded))
    console.print(_space_table(loaded, console.width))


def _budget(spec: StudySpec) -> str:
    s = spec.study
    parts = []
    if s.sampler == "grid":
        parts.append(f"{spec.budget} of {spec.grid_size} grid points")
    elif s.n_trials is not None:
        parts.append(f"{s.n_trials} trials")
    if s.timeout is not None:
        parts.append(f"timeout {s.timeout:g} s")
    return ", ".join(parts)


def _summary(spec: StudySpec) -> Table:
    s, d, t = spec.study, spec.data, spec.training
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("name", s.name),
        ("metric", f"{s.metric} ({s.direction})"),
        ("dataset", d.dataset),
        ("subset", "all" if d.subset is None else str(d.subset)),
        ("validation", f"{d.folds} folds, each in turn" if d.folds else str(d.validation)),
        ("preprocessing", _preprocessing(d)),
        ("augmentation", _augmentation(d)),
        (
            "sampler",
            _auto(s.sampler, resolve_sampler(s.sampler))
            + ("" if s.seed is None else f" (seed {s.seed})"),
        ),
        *_opening(spec),
        ("pruner", _auto(s.pruner, resolve_pruner(s.pruner))),
        ("budget", _budget(spec)),
        ("cohort", f"{s.cohort} trial(s) trained at once by each worker"),
        ("training", f"max {t.epochs} epochs, patience {t.patience}, {t.schedule}, {t.dtype}"),
    ]
    if s.description:
        rows.insert(1, ("description", s.description))
    for key, value in rows:
        table.add_row(key, value)
    return table


def _opening(spec: StudySpec) -> list[tuple[str, str]]:
    """The "opening" row of an "auto" study: the trials it starts with."""
    if spec.study.sampler != "auto":
        return []
    points = opening_points(spec)
    return [("opening", "\n".join(f"trial {i}: {params_text(p)}" for i, p in enumerate(points)))]


def _auto(name: str, resolved: str) -> str:
    """``name``, and for "auto" what it resolves to: the user sees what will run."""
    if name == resolved:
        return name
    rule = f": {PRUNERS[resolved]}" if resolved in PRUNERS and resolved != "none" else ""
    return f"{name} -> {resolved}{rule}"


def _preprocessing(d: DataSection) -> str:
    steps = [name for name, on in (("deskew", d.deskew), ("standardize", d.standardize)) if on]
    return ", then ".join(steps) if steps else "none"


def _augmentation(d: DataSection) -> str:
    """What each training batch goes through, named by the spec's keys."""
    aug = d.augmentation
    if aug is None:
        return "none"
    steps = [
        text
        for on, text in (
            (aug.rotation, f"rotation +-{aug.rotation:g} deg"),
            (aug.shift, f"shift +-{aug.shift} px"),
            (aug.flip, "flip (half the images mirrored)"),
        )
        if on
    ]
    return ", ".join(steps) or "none"


def _space_table(spec: StudySpec, width: int) -> Table:
    columns = [
        Col("hyperparameter", "name", priority=100),
        Col("how", priority=90, wrap=True),
        Col("values", priority=95, wrap=True),
    ]
    rows = []
    for name in HYPERPARAMETER_NAMES:
        dist = distribution_for(spec, name)
        if spec.grid is not None and name in spec.grid:
            how, values = "grid", ", ".join(repr(v) for v in spec.grid[name])
        elif dist is not None:
            how, values = "searched", dist.describe()
        elif name in spec.space:
            how, values = "fixed", repr(spec.space[name])
        else:
            how, values = "default", repr(HYPERPARAMETERS[name].default)
        if name == "momentum" and how in ("searched", "grid"):
            how += " (momentum/nesterov only)"
        rows.append([name, how, values])
    return fit_table(columns, rows, width, title="search space")

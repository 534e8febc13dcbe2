"""Commands that create, run and manage studies: run, create, worker, status, trials, best, delete."""

from __future__ import annotations

import signal

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hpsearch.cli import INTERRUPTED, cli
from hpsearch.cli.console import Verbosity, make_console, note
from hpsearch.cli.formats import emit, format_option
from hpsearch.cli.options import (
    cohort_option,
    jobs_option,
    open_reader,
    spec_overrides,
    storage_option,
)
from hpsearch.cli.tables import (
    STATUS_SORTS,
    TRIAL_SORTS,
    best_records,
    best_table,
    status_records,
    status_table,
    trial_records,
    trials_table,
)
from hpsearch.spec.strategies import named, resolve_pruner, resolve_sampler
from hpsearch.spec.study_spec import load_spec
from hpsearch.storage.urls import describe_url, open_storage
from hpsearch.study.lifecycle import (
    create_or_resume,
    delete_study,
    load_study_and_spec,
    study_names,
)
from hpsearch.workers import controller

limit_option = click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    default=None,
    help="Show at most this many rows (after sorting).",
)


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@storage_option
@jobs_option("Local worker processes (each limits its BLAS threads to cores / jobs).")
@spec_overrides(timeout_help="Seconds of wall time for this run (overrides the spec).")
def run(spec_path: str, storage: str, jobs: int, **overrides: object) -> None:
    """Create the study of SPEC (a TOML file) or resume it, and run it to its budget.

    Running it again with the same study name continues where it stopped; the total
    budget (n_trials) holds across runs: a larger --n-trials extends a finished study.
    Ctrl-C stops cleanly (exit 130): running trials end as failed and return to the queue.
    """
    spec = load_spec(spec_path).with_overrides(source=spec_path, **overrides)
    url = storage
    console = make_console()
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}  running {task.fields[running]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=Verbosity.quiet(),
    )
    task = bar.add_task("trials", total=spec.budget, best="-", running=0)
    spent: list[int] = []

    def show(p: controller.Progress) -> None:
        best = "-" if p.best_value is None else f"{p.best_value:.4f}"
        bar.update(task, completed=p.done, best=best, running=p.running)

    def start(created: bool, p: controller.Progress) -> None:
        state = "created" if created else f"resumed ({p.done} trials done)"
        note(
            f"study [bold]{escape(spec.study.name)}[/] {state} in {escape(describe_url(url))}: "
            f"sampler {named(spec.study.sampler, resolve_sampler(spec.study.sampler))}, "
            f"pruner {named(spec.study.pruner, resolve_pruner(spec.study.pruner))}, {jobs} job(s)"
            + (f", cohorts of {spec.study.cohort}" if spec.study.cohort > 1 else "")
        )
        if spec.budget is not None and p.done >= spec.budget and not p.running:
            spent.append(p.done)
            return
        show(p)
        bar.start()

    try:
        controller.run_study(spec, url, jobs=jobs, on_start=start, on_progress=show)
    except KeyboardInterrupt:
        bar.stop()
        note(
            "[yellow]interrupted[/]: running trials were failed and re-queued; "
            "run the same command again to resume"
        )
        raise SystemExit(INTERRUPTED) from None
    finally:
        bar.stop()
    study, _ = load_study_and_spec(url, spec.study.name)
    if spent:
        click.echo(
            f"study {spec.study.name!r} has spent its budget ({spent[0]} of {spec.budget} "
            f"trials done): nothing to run. To extend it: hpsearch run {spec_path} "
            f"--n-trials {spent[0] + (spec.budget or 0)}",
            err=True,
        )
    width = console.width
    console.print(best_table(best_records(study), width, title=_best_title(study.study_name)))


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@storage_option
@spec_overrides(
    timeout_help="Seconds of wall time of the whole study, counted from its first trial "
    "(overrides the spec).",
)
def create(spec_path: str, storage: str, **overrides: object) -> None:
    """Create the study of SPEC in the storage (schema, stored spec, trial queue); start no workers.

    Then start `hpsearch worker STUDY` on any number of machines.
    """
    spec = load_spec(spec_path).with_overrides(source=spec_path, **overrides)
    _, created = create_or_resume(spec, storage)
    verb = "created" if created else "already exists; budget updated for"
    click.echo(f"study {spec.study.name!r} {verb} in {describe_url(storage)}")


@cli.command()
@click.argument("study_name", metavar="STUDY", required=False)
@storage_option
@click.option(
    "--study",
    "study_option",
    default=None,
    metavar="STUDY",
    help="The study, as an option (same as the STUDY argument).",
)
@click.option(
    "--max-trials",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many trials (default: until the study's budget is spent).",
)
@cohort_option
def worker(
    study_name: str | None,
    storage: str,
    study_option: str | None,
    max_trials: int | None,
    cohort: int | None,
) -> None:
    """Run trials of STUDY until its study-wide budget is spent, then exit 0.

    The spec comes from the study itself: only the storage URL and the name are needed.
    SIGTERM ends the current trial cleanly (failed, re-queued) and exits 0; Ctrl-C does
    the same and exits 130.
    """
    from hpsearch.workers.loop import run_worker, study_deadline

    if study_name and study_option and study_name != study_option:
        raise click.UsageError(f"two studies given: {study_name!r} and --study {study_option!r}")
    study_name = study_name or study_option
    if not study_name:
        raise click.UsageError("missing the STUDY to work on (hpsearch worker STUDY)")
    study, spec = load_study_and_spec(storage, study_name, cohort=cohort)
    report = run_worker(study, spec, max_trials=max_trials, deadline=study_deadline(study, spec))
    stopped = f" (stopped by signal {report.signal_name})" if report.stopped_by_signal else ""
    note(f"worker done: {report.trials} trial(s){stopped}")
    if report.signal_name == signal.SIGINT.name:
        raise click.exceptions.Exit(INTERRUPTED)


@cli.command()
@click.argument("study_name", metavar="[STUDY]", required=False)
@storage_option
@format_option
@click.option(
    "--sort",
    type=click.Choice(STATUS_SORTS),
    default="name",
    show_default=True,
    help="Order of the studies (best: best value first; activity: latest first).",
)
@limit_option
def status(study_name: str | None, storage: str, fmt: str, sort: str, limit: int | None) -> None:
    """Show every study in the storage (or one STUDY): trials by state, best value."""
    opened = open_storage(storage, create=False)
    names = [study_name] if study_name else study_names(opened)
    if not names and fmt == "table":
        click.echo(f"no studies in {describe_url(storage)}")
        return
    records = status_records([load_study_and_spec(opened, n) for n in names], sort=sort)
    records = records[:limit] if limit is not None else records
    emit(fmt, records, lambda width: status_table(records, width))


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
@click.option(
    "--state",
    multiple=True,
    type=click.Choice(["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"], case_sensitive=False),
    help="Only trials in this state (repeatable).",
)
@click.option(
    "--sort",
    type=click.Choice(TRIAL_SORTS),
    default="number",
    show_default=True,
    help="Order of the rows (value: best first).",
)
@limit_option
@format_option
def trials(
    study_name: str,
    storage: str,
    state: tuple[str, ...],
    sort: str,
    limit: int | None,
    fmt: str,
) -> None:
    """Table of a study's trials: params, value, state, epochs, seconds, stop reason."""
    study, spec = load_study_and_spec(open_reader(storage, study_name), study_name)
    records = trial_records(study, states={s.upper() for s in state}, sort=sort, limit=limit)
    total = len(study.get_trials(deepcopy=False))
    shown = f" ({len(records)} of {total})" if len(records) < total else ""
    title = f"trials of {study.study_name}{shown}"
    emit(fmt, records, lambda width: trials_table(records, spec, width, title=title))


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="How many of the best trials.",
)
@format_option
def best(study_name: str, storage: str, limit: int, fmt: str) -> None:
    """The best trials of a study and the best parameters."""
    study, _ = load_study_and_spec(open_reader(storage, study_name), study_name)
    records = best_records(study, limit)
    title = _best_title(study.study_name)
    emit(fmt, records, lambda width: best_table(records, width, title=title))


def _best_title(name: str) -> str:
    return f"best trials of {name}"


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(study_name: str, storage: str, yes: bool) -> None:
    """Delete a study and all its trials (asks first)."""
    opened = open_reader(storage, study_name)
    question = f"Delete study {study_name!r} and all its trials from {describe_url(storage)}?"
    if not yes and not click.confirm(question):
        click.echo(f"aborted: study {study_name!r} was not deleted", err=True)
        raise click.exceptions.Exit(1)
    delete_study(opened, study_name)
    click.echo(f"deleted study {study_name!r}")

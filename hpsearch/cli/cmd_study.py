"""Commands that create, run and manage studies: run, create, worker, status, trials, best, delete."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hpsearch.cli import cli
from hpsearch.cli.console import make_console
from hpsearch.cli.options import spec_overrides, storage_option
from hpsearch.cli.tables import best_table, status_table, trials_table
from hpsearch.spec.study_spec import load_spec
from hpsearch.storage.urls import mask_url, open_storage, resolve_storage_url
from hpsearch.study.lifecycle import (
    create_or_resume,
    delete_study,
    load_study_and_spec,
    study_names,
)
from hpsearch.workers import controller

console = make_console()


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@storage_option
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local worker processes (each limits its BLAS threads to cores / jobs).",
)
@spec_overrides
def run(spec_path: str, storage: str | None, jobs: int, **overrides: object) -> None:
    """Create the study of SPEC (a TOML file) or resume it, and run it to its budget.

    Running it again with the same study name continues where it stopped; the total
    budget (n_trials) holds across runs. Ctrl-C stops cleanly: running trials end as
    failed and return to the queue.
    """
    spec = load_spec(spec_path).with_overrides(source=spec_path, **overrides)
    url = resolve_storage_url(storage)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}  running {task.fields[running]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task("trials", total=spec.budget, best="-", running=0)

    def show(p: controller.Progress) -> None:
        best = "-" if p.best_value is None else f"{p.best_value:.4f}"
        bar.update(task, completed=p.done, best=best, running=p.running)

    def start(created: bool, p: controller.Progress) -> None:
        state = "created" if created else f"resumed ({p.done} trials done)"
        console.print(
            f"study [bold]{escape(spec.study.name)}[/] {state} in {escape(mask_url(url))}: "
            f"sampler {spec.study.sampler}, pruner {spec.study.pruner}, {jobs} job(s)",
            markup=True,
        )
        show(p)
        bar.start()

    try:
        controller.run_study(spec, url, jobs=jobs, on_start=start, on_progress=show)
    except KeyboardInterrupt:
        bar.stop()
        console.print(
            "[yellow]interrupted[/]: running trials were failed and re-queued; "
            "run the same command again to resume",
            markup=True,
        )
        raise SystemExit(130) from None
    finally:
        bar.stop()
    study, _ = load_study_and_spec(url, spec.study.name)
    console.print(best_table(study))


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@storage_option
@spec_overrides
def create(spec_path: str, storage: str | None, **overrides: object) -> None:
    """Create the study of SPEC in the storage (schema, stored spec, trial queue); start no workers.

    Then start `hpsearch worker --study NAME` on any number of machines.
    """
    spec = load_spec(spec_path).with_overrides(source=spec_path, **overrides)
    url = resolve_storage_url(storage)
    _, created = create_or_resume(spec, url)
    verb = "created" if created else "already exists; budget updated for"
    click.echo(f"study {spec.study.name!r} {verb} in {mask_url(url)}")


@cli.command()
@storage_option
@click.option("--study", "study_name", required=True, help="Name of the study to work on.")
@click.option(
    "--max-trials",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many trials (default: until the study's budget is spent).",
)
def worker(storage: str | None, study_name: str, max_trials: int | None) -> None:
    """Run trials of a study until its study-wide budget is spent, then exit 0.

    The spec comes from the study itself: only the storage URL and the name are needed.
    SIGTERM ends the current trial cleanly (failed, re-queued) and exits.
    """
    from hpsearch.workers.loop import run_worker, study_deadline

    url = resolve_storage_url(storage)
    study, spec = load_study_and_spec(url, study_name)
    report = run_worker(study, spec, max_trials=max_trials, deadline=study_deadline(study, spec))
    click.echo(
        f"worker done: {report.trials} trial(s)"
        + (" (stopped by signal)" if report.stopped_by_signal else "")
    )


@cli.command()
@click.argument("study_name", metavar="STUDY", required=False)
@storage_option
def status(study_name: str | None, storage: str | None) -> None:
    """Show every study in the storage (or one STUDY): trials by state, best value."""
    url = resolve_storage_url(storage)
    names = [study_name] if study_name else study_names(open_storage(url))
    if not names:
        click.echo(f"no studies in {mask_url(url)}")
        return
    console.print(status_table([load_study_and_spec(url, n) for n in names]))


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
@click.option(
    "--state",
    multiple=True,
    type=click.Choice(["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"], case_sensitive=False),
    help="Only trials in this state (repeatable).",
)
@click.option("--sort", type=click.Choice(["number", "value"]), default="number", show_default=True)
def trials(study_name: str, storage: str | None, state: tuple[str, ...], sort: str) -> None:
    """Table of a study's trials: params, value, state, epochs, seconds, stop reason."""
    study, spec = load_study_and_spec(resolve_storage_url(storage), study_name)
    console.print(trials_table(study, spec, states={s.upper() for s in state}, sort=sort))


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
def best(study_name: str, storage: str | None) -> None:
    """The best trials of a study and the best parameters."""
    study, _ = load_study_and_spec(resolve_storage_url(storage), study_name)
    console.print(best_table(study))


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(study_name: str, storage: str | None, yes: bool) -> None:
    """Delete a study and all its trials (asks first)."""
    url = resolve_storage_url(storage)
    question = f"Delete study {study_name!r} and all its trials from {mask_url(url)}?"
    if not yes and not click.confirm(question):
        click.echo(f"aborted: study {study_name!r} was not deleted", err=True)
        raise click.exceptions.Exit(1)
    delete_study(url, study_name)
    click.echo(f"deleted study {study_name!r}")

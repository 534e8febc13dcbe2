"""Commands on a study's results: export, retrain, predict, compare."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from hpsearch.cli import cli
from hpsearch.cli.console import Verbosity, make_console, note
from hpsearch.cli.formats import emit, format_option
from hpsearch.cli.options import (
    check_output_path,
    jobs_option,
    open_reader,
    output_path_option,
    storage_option,
)
from hpsearch.cli.tables import compare_records, compare_table, per_class_table
from hpsearch.errors import ConfigError
from hpsearch.results.export import FORMATS, render_export, write_export
from hpsearch.study.lifecycle import load_study_and_spec


def _console() -> Console:
    # COLUMNS (else a wide virtual terminal) when piped, so tables are not folded.
    return make_console()


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="csv: one flat row per trial; json: also learning curves and the spec.",
)
@output_path_option(
    "Write to FILE; '-' writes to standard output (the default only when it is not a "
    "terminal: a pipe or a file).",
)
def export(study_name: str, storage: str, fmt: str, output: str | None) -> None:
    """Export a study's trials: params, value, state, times, epochs, stop reason, worker.

    Writes to -o FILE, or to standard output with -o - or when it is piped.
    """
    if output is None and sys.stdout.isatty():
        raise ConfigError(
            "export writes to a file: give -o FILE (or -o - for the terminal, or pipe it)"
        )
    study, spec = load_study_and_spec(open_reader(storage, study_name), study_name)
    if output is None or output == "-":
        click.echo(render_export(study, spec, fmt), nl=False)
        return
    path = write_export(study, spec, fmt, output)
    note(
        f"exported {len(study.get_trials(deepcopy=False))} trial(s) of "
        f"{escape(repr(study_name))} to {escape(str(path))}",
        stderr=True,
    )


@cli.command()
@click.argument("study_name", metavar="STUDY")
@storage_option
@click.option(
    "--trial",
    "trial_number",
    type=click.IntRange(min=0),
    default=None,
    help="Retrain this trial's params (default: the best complete trial).",
)
@output_path_option("Where to save the model (default: models/STUDY-trialN.npz).", what="model")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Max epochs (default: the spec's [training] epochs).",
)
@click.option(
    "--validation",
    type=click.IntRange(min=1),
    default=None,
    help="Rows each network holds out for early stopping (default: the spec's [data] "
    "validation; at most half the training set). Fewer rows leave more to train on.",
)
@click.option(
    "--ensemble",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Train this many networks, each with its own seed and validation set, and "
    "average their class probabilities (N times the training time; at most 50).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Draw the ensemble's networks from the K best complete trials in turn, not all "
    "from the best: nets of different params err differently, so their average errs "
    "less. Needs --ensemble >= K; not with --trial.",
)
@jobs_option("Train an ensemble's networks in this many processes at once (one per core).")
def retrain(
    study_name: str,
    storage: str,
    trial_number: int | None,
    output: str | None,
    epochs: int | None,
    validation: int | None,
    ensemble: int,
    top: int,
    jobs: int,
) -> None:
    """Train the best params of STUDY on the full training set and test them once.

    Early stopping uses a validation set carved from the training set; the model is
    saved and the test accuracy recorded on the study (user attr "retrain").
    With --ensemble N, N networks train that way and the model averages them;
    --top K draws them from the K best trials; --jobs 2 trains two at a time.
    """
    console = _console()
    from hpsearch.results.retrain import drawn_trials
    from hpsearch.results.retrain import retrain as run_retrain

    if output == "-":
        raise ConfigError("retrain -o: give a file name for the model ('-' is not one)")
    study, spec = load_study_and_spec(open_reader(storage, study_name), study_name)
    drawn = drawn_trials(study, trial_number, ensemble=ensemble, top=top)  # before the data
    total = epochs or spec.training.epochs
    networks = f"{ensemble} networks, " if ensemble > 1 else ""
    trials = ("trials " if top > 1 else "trial ") + ", ".join(str(t.number) for t in drawn)
    console.print(
        f"retraining {trials} of [bold]{escape(study_name)}[/] on the full "
        f"{escape(spec.data.dataset)} training set ({networks}max {total} epochs)",
        markup=True,
    )
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("validation accuracy {task.fields[accuracy]}"),
        TimeElapsedColumn(),
        console=console,
        disable=Verbosity.quiet(),
    ) as bar:
        rows: dict[int, TaskID] = {}  # a row per member while it trains

        def start_member(j: int) -> None:
            description = f"network {j + 1}/{ensemble}" if ensemble > 1 else "epochs"
            rows[j] = bar.add_task(description, total=total, accuracy="-")

        def show(j: int, epoch: int, metrics: dict[str, object]) -> None:
            accuracy = metrics.get("validation_accuracy")
            shown = "-" if not isinstance(accuracy, float) else f"{accuracy:.4f}"
            bar.update(rows[j], completed=epoch, accuracy=shown)

        def end_member(j: int) -> None:
            if ensemble > 1:  # its line is printed below; one network keeps its bar
                bar.remove_task(rows.pop(j))

        result = run_retrain(
            study,
            spec,
            trial=trial_number,
            output=output,
            epochs=epochs,
            validation=validation,
            ensemble=ensemble,
            top=top,
            jobs=jobs,
            on_epoch=show,
            on_member=start_member,
            on_member_done=end_member,
        )
    n = result.examples
    best = result.validation_accuracy
    for j, member in enumerate(result.members):
        console.print(
            f"network {j + 1} (trial {member['trial']}): {member['epochs_run']} epoch(s), "
            f"test accuracy "
            f"{member['test_accuracy']:.4f}"
        )
    shown = "-" if best is None else f"{best:.4f}"
    if result.members:
        trained = (
            f"{result.ensemble} networks, {result.epochs_run} epochs in all, each on "
            f"{n['train']} examples; mean best validation accuracy {shown} on {n['validation']}"
        )
        tested = f"ensemble test accuracy [bold]{result.test_accuracy:.4f}[/]"
    else:
        trained = (
            f"{result.epochs_run} epoch(s) on {n['train']} examples "
            f"({result.history['stop_reason']}), best validation accuracy {shown} on "
            f"{n['validation']}"
        )
        tested = f"test accuracy [bold]{result.test_accuracy:.4f}[/]"
    console.print(
        f"{trials}: {trained}\n"
        f"{tested} (loss {result.test_loss:.4g}) "
        f"on {n['test']} examples\n"
        f"model saved to {escape(str(result.model_path))}; recorded on study "
        f"{escape(repr(study_name))} as 'retrain'",
        markup=True,
    )


@cli.command()
@click.argument("model_path", metavar="MODEL")
@click.option(
    "--data",
    "data_name",
    required=True,
    help="Dataset name (digits, fashion-mnist, mnist, npz:PATH, csv:PATH).",
)
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option(
    "--standardize/--no-standardize",
    default=None,
    help="Standardize features (default: as the model was trained, from MODEL.json).",
)
@click.option(
    "--deskew/--no-deskew",
    default=None,
    help="Deskew the images (default: as the model was trained, from MODEL.json).",
)
@output_path_option("Write one CSV row per example (true, predicted, confidence).")
def predict(
    model_path: str,
    data_name: str,
    split: str,
    standardize: bool | None,
    deskew: bool | None,
    output: str | None,
) -> None:
    """Run a saved MODEL on a dataset: accuracy and per-class accuracy."""
    console = _console()
    from hpsearch.results.predict import predict as run_predict
    from hpsearch.results.predict import write_predictions

    if output == "-":
        raise ConfigError("predict -o: give a file name ('-' is not one)")
    prediction = run_predict(
        model_path, data_name, split=split, standardize=standardize, deskew=deskew
    )
    console.print(
        per_class_table(
            prediction.per_class(), f"{data_name} {split} set: per-class accuracy", console.width
        )
    )
    correct = int((prediction.labels == prediction.predicted).sum())
    console.print(
        f"accuracy [bold]{prediction.accuracy:.4f}[/] ({correct} of "
        f"{len(prediction.labels)}) on the {split} set of {escape(data_name)}",
        markup=True,
    )
    if output is not None:
        console.print(f"predictions written to {write_predictions(prediction, output)}")


@cli.command()
@click.argument("study_names", metavar="STUDY...", nargs=-1, required=True)
@storage_option
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write a PNG: best so far vs cumulative epochs and vs wall time.",
)
@format_option
def compare(study_names: tuple[str, ...], storage: str, plot: str | None, fmt: str) -> None:
    """Compare studies: best value, trials, epochs, wall time, and the epochs each
    needed to reach every other study's best."""
    from hpsearch.results.compare import compare_studies, plot_comparison

    if plot is not None:
        check_output_path(plot, what="plot")
    rows = compare_studies(open_reader(storage, *study_names), list(study_names))
    emit(fmt, compare_records(rows), lambda width: compare_table(rows, width))
    if plot is not None:
        note(f"plot written to {escape(str(plot_comparison(rows, plot)))}")

"""``hpsearch export``: a study's trials as CSV (one flat row each) or JSON (with curves and spec).

Both formats hold, per trial: number, state, value, params, the start and completion
times, the wall duration, the training seconds, epochs run, stop reason and worker.
JSON adds each trial's learning curves (user attr ``history``) and intermediate
values, and the study's spec and user attrs (e.g. ``retrain``), so an export is a
self-contained record of a study. Non-finite floats (a diverged loss) become
``null``: the JSON is standard and any parser reads it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, TextIO

import optuna
from optuna.trial import FrozenTrial

from hpsearch.errors import ConfigError, HpsearchError
from hpsearch.results.dates import now_utc
from hpsearch.results.summary import trial_duration, trial_row
from hpsearch.spec.hyperparams import HYPERPARAMETER_NAMES
from hpsearch.spec.study_spec import StudySpec
from hpsearch.study.lifecycle import SPEC_ATTR
from hpsearch.tuning.record import FOLDS, TrialRecord, read_record, record_attrs

__all__ = [
    "EXPORT_FORMAT",
    "FORMATS",
    "csv_header",
    "export_json",
    "render_export",
    "trial_record",
    "write_csv",
    "write_export",
]

FORMATS = ("csv", "json")
#: Names the layout of a JSON export; bump ``version`` when it changes incompatibly.
EXPORT_FORMAT = {"format": "hpsearch.export", "version": 1}
#: CSV columns before the ``params_<name>`` ones.
BASE_COLUMNS = (
    "number",
    "state",
    "value",
    "datetime_start",
    "datetime_complete",
    "duration",
    "seconds",
    "epochs",
    "stop_reason",
    "worker",
)


def trial_record(trial: FrozenTrial, *, curves: bool = False) -> dict[str, Any]:
    """One trial as plain data; ``curves`` adds ``history`` and ``intermediate_values``; a
    cross-validated trial also gives each fold's value, best epoch and epochs (``folds``)."""
    row = trial_row(trial)
    record: dict[str, Any] = {
        "number": row["number"],
        "state": row["state"],
        "value": row["value"],
        "params": row["params"],
        "datetime_start": row["started"],
        "datetime_complete": row["finished"],
        "duration": trial_duration(trial),
        "seconds": row["seconds"],
        "epochs": row["epochs"],
        "stop_reason": row["stop_reason"],
        "worker": row["worker"],
    }
    stored = read_record(trial)
    if stored.folds is not None:
        record["folds"] = record_attrs(TrialRecord(folds=stored.folds))[FOLDS]
    if curves:
        record["intermediate_values"] = {
            str(step): v for step, v in sorted(trial.intermediate_values.items())
        }
        record["history"] = stored.history
    return record


def param_names(trials: list[FrozenTrial]) -> list[str]:
    """The params any trial has, in canonical hyperparameter order (unknown names last, sorted)."""
    present = {name for t in trials for name in t.params}
    known = [n for n in HYPERPARAMETER_NAMES if n in present]
    return known + sorted(present - set(known))


def csv_header(trials: list[FrozenTrial]) -> list[str]:
    return [*BASE_COLUMNS, *(f"params_{n}" for n in param_names(trials))]


def write_csv(study: optuna.Study, out: TextIO) -> int:
    """Write one row per trial (by number) to ``out``; returns the number of rows."""
    trials = study.get_trials(deepcopy=False)
    names = param_names(trials)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_header(trials))
    for trial in trials:
        record = trial_record(trial)
        writer.writerow(
            [_cell(record[c]) for c in BASE_COLUMNS]
            + [_cell(record["params"].get(n)) for n in names]
        )
    return len(trials)


def export_json(study: optuna.Study, spec: StudySpec) -> dict[str, Any]:
    """The whole study as JSON-able data: spec, study user attrs, trials with curves."""
    attrs = {k: v for k, v in study.user_attrs.items() if k != SPEC_ATTR}
    return json_safe(
        {
            **EXPORT_FORMAT,
            "exported_at": now_utc(),
            "study": {
                "name": study.study_name,
                "direction": study.direction.name.lower(),
                "metric": spec.study.metric,
                "user_attrs": attrs,
            },
            "spec": spec.to_dict(),
            "trials": [trial_record(t, curves=True) for t in study.get_trials(deepcopy=False)],
        }
    )


def render_export(study: optuna.Study, spec: StudySpec, fmt: str) -> str:
    """The export of ``study`` in ``fmt`` ("csv" or "json") as text."""
    if fmt == "json":
        return json.dumps(export_json(study, spec), indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(study, buffer)
        return buffer.getvalue()
    raise ConfigError(f"export format must be one of {', '.join(FORMATS)}, but got {fmt!r}")


def write_export(study: optuna.Study, spec: StudySpec, fmt: str, path: str | Path) -> Path:
    """Write the export of ``study`` in ``fmt`` to ``path`` (its folder must exist: a typo in
    it is an error, not a new folder)."""
    text = render_export(study, spec, fmt)
    path = Path(path)
    try:
        path.write_text(text, newline="")
    except OSError as error:
        raise HpsearchError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def _cell(value: Any) -> Any:
    """CSV cell: empty for None, repr-exact floats (``str`` of a float round-trips)."""
    return "" if value is None else value


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/inf float replaced by None, recursively (strict JSON has none)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value

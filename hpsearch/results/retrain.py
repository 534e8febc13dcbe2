"""``hpsearch retrain``: train the best (or a chosen) trial's params on the full training set.

1. Pick the trial: the best complete one, or trial N (any state, as long as it has params);
   with ``top=K``, the K best complete ones, whose members alternate (a hyperparameter
   ensemble: nets of different params err differently, so their average errs less).
2. Load the dataset as the search did (same ``standardize``, ``deskew``) and carve a validation
   set from the *full* training set (seeded by the study seed), for early stopping.
3. Train with the trial's params and the spec's [training] (epochs may be overridden);
   the best epoch's weights are restored. With ``ensemble=N``, N networks train this
   way, each with its own seed and validation set (in ``jobs`` processes at once), and
   their averaged class probabilities are the model (``hpsearch.nn.Ensemble``).
4. Evaluate the held-out test set once, save the model (plus a small JSON sidecar
   that says which data it expects) and record the result on the study as the user
   attr ``retrain``.
"""

from __future__ import annotations

import errno
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.data import Dataset
from hpsearch.errors import ConfigError, HpsearchError
from hpsearch.nn import Ensemble, Network
from hpsearch.results.dates import now_utc
from hpsearch.results.members import (
    MemberEpochCallback,
    Source,
    TrainedMembers,
    retrain_split,
    train_members,
)
from hpsearch.spec.study_spec import StudySpec
from hpsearch.tuning.objective import training_options, trial_seed
from hpsearch.tuning.record import read_record
from hpsearch.tuning.space import params_from_trial_params

__all__ = [
    "MAX_ENSEMBLE",
    "RETRAIN_ATTR",
    "RetrainResult",
    "Source",
    "TrainedMembers",
    "best_trials",
    "choose_trial",
    "default_model_path",
    "drawn_trials",
    "read_model_info",
    "retrain",
    "retrain_split",
    "sidecar_path",
    "train_members",
]

RETRAIN_ATTR = "retrain"
#: Most networks ``retrain --ensemble`` trains.
MAX_ENSEMBLE = 50


@dataclass
class RetrainResult:
    """What ``retrain`` did; ``to_dict()`` is what the study stores as ``retrain``."""

    trial: int
    params: dict[str, Any]
    test_accuracy: float
    test_loss: float
    validation_accuracy: float | None
    epochs_run: int
    model_path: str
    finished_at: str
    history: dict[str, Any]
    dataset: str = ""
    examples: dict[str, int] = field(default_factory=dict)  # train / validation / test sizes
    ensemble: int = 1  # networks averaged; epochs_run sums theirs, history is member 0's
    members: list[dict[str, Any]] = field(default_factory=list)  # per member, when > 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_trial(study: optuna.Study, number: int | None = None) -> FrozenTrial:
    """Trial ``number``, or the best complete trial; a ``ConfigError`` names what is missing."""
    trials = study.get_trials(deepcopy=False)
    if number is None:
        complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
        if not complete:
            raise ConfigError(
                f"study {study.study_name!r} has no complete trial yet, so no best params; "
                "run it first or pick a trial with --trial N"
            )
        trial = study.best_trial
    else:
        by_number = {t.number: t for t in trials}
        if number not in by_number:
            span = f"0..{max(by_number)}" if by_number else "none"
            raise ConfigError(
                f"study {study.study_name!r} has no trial {number} (its trials: {span})"
            )
        trial = by_number[number]
    if not trial.params:
        raise ConfigError(
            f"trial {trial.number} of study {study.study_name!r} has no params "
            f"(state {trial.state.name}: it never started); pick a finished trial"
        )
    return trial


def drawn_trials(
    study: optuna.Study, trial: int | None = None, *, ensemble: int = 1, top: int = 1
) -> list[FrozenTrial]:
    """The trials an ensemble of ``ensemble`` networks trains from: trial ``trial`` (or
    the best complete one), or with ``top=K`` the K best, best first. Checks the counts
    first; a ``ConfigError`` says what is wrong."""
    if not 1 <= ensemble <= MAX_ENSEMBLE:
        raise ConfigError(f"ensemble must be 1 to {MAX_ENSEMBLE} networks, but got {ensemble}")
    if not 1 <= top <= ensemble:
        raise ConfigError(
            f"top must be 1 to the ensemble's {ensemble} network(s) (each trial trains at "
            f"least one), but got {top}"
        )
    if top > 1 and trial is not None:
        raise ConfigError("give a trial or the number of best trials to draw from, not both")
    return [choose_trial(study, trial)] if top == 1 else best_trials(study, top)


def best_trials(study: optuna.Study, top: int) -> list[FrozenTrial]:
    """The ``top`` best complete trials, best first; a ``ConfigError`` when fewer are."""
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None
    ]
    if len(complete) < top:
        raise ConfigError(
            f"study {study.study_name!r} has {len(complete)} complete trial(s), fewer than "
            f"the {top} best asked for; run it longer or ask for fewer"
        )
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    complete.sort(key=lambda t: (sign * float(t.value or 0.0), t.number))
    return complete[:top]


def default_model_path(study_name: str, trial: int) -> Path:
    """``models/STUDY-trialN.npz`` in the working directory (unsafe name characters -> '_')."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", study_name)
    return Path("models") / f"{safe}-trial{trial}.npz"


def retrain(
    study: optuna.Study,
    spec: StudySpec,
    *,
    trial: int | None = None,
    output: str | Path | None = None,
    epochs: int | None = None,
    validation: int | None = None,
    ensemble: int = 1,
    top: int = 1,
    jobs: int = 1,
    on_epoch: MemberEpochCallback | None = None,
    on_member: Callable[[int], None] | None = None,
    on_member_done: Callable[[int], None] | None = None,
    dataset: Dataset | None = None,
) -> RetrainResult:
    """Retrain the chosen trial's params on the full training set, test once, save, record.

    ``ensemble=N`` trains N members, each with its own seed and its own validation set
    carved from the training set, and tests (and saves) the ``Ensemble`` that averages
    their class probabilities; member 0 is the model ``ensemble=1`` trains.
    ``top=K`` draws the members from the K best complete trials in turn (member j from
    the ``j mod K``-th; member 0 from the best), instead of all from one trial.
    ``validation`` rows are held out by each member (default: the spec's [data] validation).
    ``jobs`` processes train the members in parallel. ``on_member(j)`` is called as
    member j starts, ``on_epoch(j, epoch, metrics)`` after each of its epochs and
    ``on_member_done(j)`` once it has trained (progress displays).
    ``dataset`` defaults to ``spec.data.load()``.
    """
    drawn = drawn_trials(study, trial, ensemble=ensemble, top=top)
    chosen = drawn[0]
    params = params_from_trial_params(chosen.params, spec)
    if epochs is not None and epochs < 1:
        raise ConfigError(f"epochs must be >= 1, but got {epochs}")
    if validation is not None and validation < 1:
        raise ConfigError(f"validation must be >= 1 rows, but got {validation}")
    path = (
        Path(output) if output is not None else default_model_path(study.study_name, chosen.number)
    )
    _check_writable(path)
    if dataset is None:
        dataset = spec.data.load()
    sources = [_source(t, spec, epochs) for t in drawn]
    trained = train_members(
        sources,
        spec,
        dataset,
        validation=validation,
        ensemble=ensemble,
        jobs=jobs,
        on_member=on_member,
        on_epoch=on_epoch,
        on_member_done=on_member_done,
    )
    networks, histories = trained.networks, trained.histories
    model = networks[0] if ensemble == 1 else Ensemble(networks)
    test_loss, test_accuracy = model.evaluate(dataset.X_test, dataset.y_test)  # once
    members = [  # an ensemble's members, each tested alone too (reported, never chosen on)
        {
            "trial": drawn[j % top].number,
            "seed": sources[j % top].seed + j,
            "epochs_run": history.epochs_run,
            "validation_accuracy": history.best_validation_accuracy,
            "test_accuracy": float(network.evaluate(dataset.X_test, dataset.y_test)[1]),
        }
        for j, (network, history) in enumerate(zip(networks, histories, strict=True))
        if ensemble > 1
    ]
    _save(model, path, spec, study.study_name, chosen.number)
    known = [
        h.best_validation_accuracy for h in histories if h.best_validation_accuracy is not None
    ]
    result = RetrainResult(
        trial=chosen.number,
        params=params,
        test_accuracy=float(test_accuracy),
        test_loss=float(test_loss),
        validation_accuracy=sum(known) / ensemble if len(known) == ensemble else None,
        epochs_run=sum(h.epochs_run for h in histories),
        model_path=str(path.resolve()),
        finished_at=now_utc(),
        history=histories[0].to_dict(),
        dataset=spec.data.dataset,
        examples={**trained.examples, "test": len(dataset.y_test)},
        ensemble=ensemble,
        members=members,
    )
    study.set_user_attr(RETRAIN_ATTR, result.to_dict())
    return result


def _source(trial: FrozenTrial, spec: StudySpec, epochs: int | None) -> Source:
    """What members train from ``trial``: its params and options (``epochs`` overriding
    the spec's), its seed and the data seed it recorded."""
    params = params_from_trial_params(trial.params, spec)
    options = training_options(params, spec)
    if epochs is not None:
        options["epochs"] = epochs
    return Source(params, options, trial_seed(spec, trial.number), read_record(trial).data_seed)


def _check_writable(path: Path) -> None:
    """Fail before training, not after it, when no model can be written at ``path``."""
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".hpsearch-write-check-"):
            pass
    except OSError as error:
        raise _write_error(path, error) from None


def _write_error(path: Path, error: OSError) -> HpsearchError:
    return HpsearchError(f"cannot write the model to {path}: {error.strerror or error}")


def _save(
    model: Network | Ensemble, path: Path, spec: StudySpec, study_name: str, trial: int
) -> None:
    try:  # the folder exists: ``_check_writable`` made it before training
        model.save(path)
        sidecar_path(path).write_text(
            json.dumps(
                {
                    "study": study_name,
                    "trial": trial,
                    "dataset": spec.data.dataset,
                    "standardize": spec.data.standardize,
                    "deskew": spec.data.deskew,
                },
                indent=2,
            )
            + "\n"
        )
    except OSError as error:
        raise _write_error(path, error) from None


def sidecar_path(model_path: str | Path) -> Path:
    """``MODEL.json`` beside ``MODEL.npz``: the data the model expects (dataset,
    standardize, deskew)."""
    return Path(model_path).with_suffix(".json")


def read_model_info(model_path: str | Path) -> dict[str, Any]:
    """The sidecar of a model saved by ``retrain`` ({} when there is none).

    A sidecar that is there but damaged is a ``ConfigError``: ignoring it would
    silently predict on data preprocessed differently from the training data.
    """
    path = sidecar_path(model_path)
    if not path.exists():
        return {}
    fix = "fix it, delete it, or give --standardize/--no-standardize and --deskew/--no-deskew"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the model's sidecar ({error}); {fix}") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{path}: the model's sidecar is not a JSON object; {fix}")
    for key in ("standardize", "deskew"):
        if key in info and not isinstance(info[key], bool):
            raise ConfigError(f"{path}: {key} is {info[key]!r}, expected true or false; {fix}")
    return info

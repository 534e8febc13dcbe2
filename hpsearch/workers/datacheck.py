"""What ``run`` checks of a spec against its data, for ``validate`` to check too.

``run`` loads the dataset and splits it before it stores anything (a subset plus
validation set larger than the training set fails there). ``validate`` runs the
same checks when the data is here, and says plainly when it is not, instead of
passing a spec that ``run`` then rejects. Two rules need no data: a search space
with nothing to search trains the same network every trial, and a validation set
of a handful of examples measures nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hpsearch.data import Folds, Split, check_name
from hpsearch.errors import HpsearchError, SpecError
from hpsearch.spec.study_spec import DataSection, StudySpec

#: Fewest validation examples (per fold) that give an accuracy worth comparing.
MIN_VALIDATION = 20


def space_problem(spec: StudySpec) -> str | None:
    """A problem when no hyperparameter varies (every trial would be the same)."""
    if spec.searched:
        return None
    return (
        "space: nothing is searched; every trial would train the same network. Give at "
        "least one hyperparameter a range or choices, e.g. eta = {low = 0.05, high = 5.0, "
        "log = true}"
    )


def data_available(spec: StudySpec) -> str | None:
    """None when the spec's dataset can be loaded here without a download, else why not."""
    name = spec.data.dataset
    problem = check_name(name)
    if problem:
        return problem
    if ":" in name:
        return None  # a local npz/csv file that exists (check_name looked)
    from hpsearch.data import describe_sources

    for info in describe_sources():
        if info.name == name:
            return None if info.available else f"{name} is not on this machine ({info.location})"
    return None


def check_against_data(spec: StudySpec, source: str | None = None) -> str | None:
    """Raise ``SpecError`` for what ``run`` would reject about the data; return a note
    when the data is not here to check (None when it was checked)."""
    problems = []
    space = space_problem(spec)
    if space:
        problems.append(space)
    missing = data_available(spec)
    if missing is None:
        if ":" in spec.data.dataset:  # a user's file: it may change between two checks
            problems += _data_problems(spec.data, spec.study.seed)
        else:
            problems += _builtin_data_problems(spec.data, spec.study.seed)
    if problems:
        raise SpecError(problems, source)
    if missing is not None:
        return f"data not checked: {missing}; run checks it before it stores anything"
    return None


def _data_problems(data: DataSection, seed: int | None) -> list[str]:
    from hpsearch.workers.loop import load_split

    spec = _DataOnly(data, seed)
    try:
        split, _ = load_split(spec)  # type: ignore[arg-type]  # reads .data and .study.seed
    except HpsearchError as error:
        return [f"data: {error}"]
    return _split_problems(split)


@functools.lru_cache(maxsize=16)
def _builtin_data_problems(data: DataSection, seed: int | None) -> tuple[str, ...]:
    """Built-in datasets do not change: one load per process answers every check."""
    return tuple(_data_problems(data, seed))


@dataclass(frozen=True)
class _Seed:
    seed: int | None


class _DataOnly:
    """What ``load_split`` reads of a spec: its data section and study seed."""

    def __init__(self, data: DataSection, seed: int | None) -> None:
        self.data, self.study = data, _Seed(seed)


def _split_problems(data: Split | Folds) -> list[str]:
    first = data[0] if isinstance(data, Folds) else data
    n_val, k = len(first.y_validation), first.n_classes
    need = max(MIN_VALIDATION, k)
    if n_val < need:
        what = "each fold's validation set" if isinstance(data, Folds) else "the validation set"
        return [
            f"data.validation: {what} has {n_val} examples; accuracy on so few measures "
            f"nothing: use at least {need} ({k} classes)"
        ]
    return []

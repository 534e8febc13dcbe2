"""Dataset names -> loaders: ``load(name, **options)`` and the cheap ``check_name(name)``."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from hpsearch.data.builtin import load_digits, load_idx
from hpsearch.data.dataset import Dataset
from hpsearch.data.deskew import deskewed
from hpsearch.data.files import load_csv, load_npz
from hpsearch.data.sources import IDX_SOURCES
from hpsearch.errors import DataError

#: The built-in dataset names (besides the ``npz:PATH`` and ``csv:PATH`` forms).
DATASET_NAMES: tuple[str, ...] = ("digits", "fashion-mnist", "mnist")

#: ``KIND:PATH`` forms for the user's own files.
FILE_LOADERS: dict[str, Callable[..., Dataset]] = {"npz": load_npz, "csv": load_csv}


def _builtin_names() -> tuple[str, ...]:
    return ("digits", *IDX_SOURCES)


def _valid_forms() -> str:
    return ", ".join(_builtin_names()) + ", npz:PATH or csv:PATH"


def check_name(name: str) -> str | None:
    """Return a one-line problem with dataset ``name``, or None when it is fine.

    Cheap: nothing is loaded or downloaded; for ``npz:PATH``/``csv:PATH`` only
    the file's existence is checked.
    """
    if not isinstance(name, str):
        return f"dataset must be a string, got {name!r}; valid: {_valid_forms()}"
    if name in _builtin_names():
        return None
    kind, colon, rest = name.partition(":")
    if colon and kind in FILE_LOADERS:
        if not rest.strip():
            return f"dataset {name!r} needs a path after '{kind}:', e.g. {kind}:data/my.{kind}"
        if "\0" in rest:
            return f"dataset {name!r}: a path cannot contain a NUL character"
        path = Path(rest).expanduser()
        try:
            if path.is_dir():
                return f"dataset {name!r}: {path} is a folder, not a .{kind} file"
            if not path.is_file():
                return f"dataset {name!r}: no such file {path}"
        except OSError as error:  # e.g. "File name too long"
            return f"dataset {_short(name)!r}: cannot use this path: {error.strerror or error}"
        return None
    close = difflib.get_close_matches(name.lower(), _builtin_names(), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown dataset {name!r}{hint}; valid: {_valid_forms()}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _loader(name: str) -> tuple[Callable[..., Dataset], list[str]]:
    """The loader for ``name`` (partially applied) and the options it accepts."""
    problem = check_name(name)
    if problem is not None:
        raise DataError(problem)
    if name == "digits":
        loader: Callable[..., Dataset] = load_digits
    elif name in IDX_SOURCES:
        loader = partial(load_idx, name)
    else:
        kind, _, rest = name.partition(":")
        loader = partial(FILE_LOADERS[kind], rest)
    options = [
        parameter.name
        for parameter in inspect.signature(loader).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    return loader, options


#: Options ``load`` itself applies to any dataset, after its loader.
COMMON_OPTIONS: tuple[str, ...] = ("deskew",)


def load_options(name: str) -> list[str]:
    """The options ``load(name, ...)`` accepts."""
    return [*_loader(name)[1], *COMMON_OPTIONS]


def load(name: str, **options: Any) -> Dataset:
    """Load dataset ``name``: ``digits``, ``fashion-mnist``, ``mnist``, ``npz:PATH`` or ``csv:PATH``.

    Every dataset accepts ``standardize=True`` (zero mean, unit variance per
    feature, fitted on the training set), and every image dataset ``deskew=True``
    (each image sheared upright before any standardizing; ``hpsearch.data.deskew``);
    see the loaders for the rest (``load_options(name)`` lists them). An unknown
    name or option is a ``DataError``.
    """
    loader, own = _loader(name)
    accepted = [*own, *COMMON_OPTIONS]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(
            f"dataset {name!r}: unknown option(s) {', '.join(unknown)}; "
            f"valid options: {', '.join(accepted)}"
        )
    deskew = options.pop("deskew", False)
    if not isinstance(deskew, bool):
        raise DataError(f"dataset {name!r}: deskew must be true or false, got {deskew!r}")
    if not deskew:
        return loader(**options)
    standardize = options.pop("standardize", False)
    return deskewed(loader(**options), standardize=standardize)

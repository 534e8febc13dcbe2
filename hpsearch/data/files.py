"""Datasets from the user's own files: ``npz:PATH`` and ``csv:PATH``."""

from __future__ import annotations

import contextlib
import csv
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.dataset import Dataset, carve_test, encode_labels, preprocess
from hpsearch.data.download import sha256_file
from hpsearch.errors import DataError

DEFAULT_TEST_SIZE = 0.2
DEFAULT_SEED = 0
LABEL_COLUMN_NAMES = ("label", "labels", "class", "target", "y")


def _existing(path: str | Path, kind: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{kind}:{path}: no such file")
    return path


def _check_image_shape(
    image_shape: Sequence[int] | None, n_features: int, where: str
) -> tuple[int, int] | None:
    if image_shape is None:
        return None
    try:
        height, width = (int(d) for d in image_shape)
    except (TypeError, ValueError):
        raise DataError(f"{where}: image_shape={image_shape!r}: expected (height, width)") from None
    if height < 1 or width < 1 or height * width != n_features:
        raise DataError(
            f"{where}: image_shape={image_shape!r} has {height * width} pixels but the data "
            f"has {n_features} features per example"
        )
    return height, width


def _features(X: np.ndarray, where: str, key: str) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Flatten images (n, h, w) to rows; accept (n, features) as is."""
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: {key} has dtype {X.dtype}; expected numbers")
    if X.ndim == 3:
        return X.reshape(len(X), -1), (int(X.shape[1]), int(X.shape[2]))
    if X.ndim == 2:
        return X, None
    raise DataError(f"{where}: {key} has shape {X.shape}; expected (n, features) or (n, h, w)")


def _finish(
    name: str,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    class_names: tuple[str, ...] | None,
    image_shape: tuple[int, int] | None,
    scale: float | str | None,
    standardize: bool,
    provenance: dict[str, Any],
    split_info: dict[str, Any],
) -> Dataset:
    X_train, y_train, X_test, y_test = parts
    for key, X in (("X_train", X_train), ("X_test", X_test)):
        if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
            raise DataError(f"{name}: {key} holds NaN or infinite values")
    y_train, y_test, names = encode_labels(y_train, y_test, class_names)
    present = np.unique(y_train)
    if len(present) < 2:
        only = names[int(present[0])] if len(present) else "none"
        raise DataError(
            f"{name}: the training data has only one class ({only!r}); a classifier "
            "needs examples of at least 2 classes"
        )
    X_train, X_test, info = preprocess(X_train, X_test, scale=scale, standardize=standardize)
    provenance["preprocessing"] = {**info, **split_info}
    return Dataset(name, X_train, y_train, X_test, y_test, names, image_shape, provenance)


def load_npz(
    path: str | Path,
    *,
    standardize: bool = False,
    test_size: int | float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SEED,
    scale: float | str | None = "auto",
    image_shape: Sequence[int] | None = None,
) -> Dataset:
    """A NumPy ``.npz`` with ``X_train, y_train, X_test, y_test``, or ``X, y`` (test carved out).

    Images may be stored as (n, h, w); an optional ``class_names`` array names
    the classes. ``test_size`` and ``seed`` fix the stratified test split of ``X, y``.
    """
    path = _existing(path, "npz")
    name = f"npz:{path}"
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        NotImplementedError,  # "zip file version 17.3": a damaged header
        zipfile.BadZipFile,
        zlib.error,
        struct.error,
    ) as error:
        raise DataError(f"{name}: not a readable .npz file ({error})") from error
    names = arrays.pop("class_names", None)
    class_names = tuple(str(v) for v in names.tolist()) if names is not None else None
    split_info: dict[str, Any] = {}
    if {"X_train", "y_train", "X_test", "y_test"} <= arrays.keys():
        X_train, shape = _features(arrays["X_train"], name, "X_train")
        X_test, test_shape = _features(arrays["X_test"], name, "X_test")
        if shape != test_shape:
            raise DataError(
                f"{name}: X_train images are {shape} but X_test images are {test_shape}"
            )
        y_train, y_test = arrays["y_train"].ravel(), arrays["y_test"].ravel()
        for X, y, part in ((X_train, y_train, "train"), (X_test, y_test, "test")):
            if len(X) != len(y):
                raise DataError(f"{name}: X_{part} has {len(X)} rows but y_{part} has {len(y)}")
    elif {"X", "y"} <= arrays.keys():
        X, shape = _features(arrays["X"], name, "X")
        y = arrays["y"].ravel()
        if len(X) != len(y):
            raise DataError(f"{name}: X has {len(X)} rows but y has {len(y)}")
        codes, _, labels = encode_labels(y, y[:0], class_names)
        X_train, y_train, X_test, y_test, split_info = carve_test(
            X, codes, test_size=test_size, seed=seed, class_names=labels, source=name
        )
        class_names = labels
    else:
        raise DataError(
            f"{name}: holds arrays {sorted(arrays)}; expected X_train, y_train, X_test, y_test "
            "(a fixed test set) or X, y (a test set is carved out)"
        )
    image_shape = _check_image_shape(image_shape, X_train.shape[1], name) or shape
    provenance = {
        "name": name,
        "source": f"npz file {path}",
        "origin": "npz",
        "files": [
            {"role": "data", "name": path.name, "path": str(path), "sha256": sha256_file(path)}
        ],
    }
    return _finish(
        name,
        (X_train, y_train, X_test, y_test),
        class_names=class_names,
        image_shape=image_shape,
        scale=scale,
        standardize=standardize,
        provenance=provenance,
        split_info=split_info,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_index(label: int | str | None, header: list[str] | None, width: int, name: str) -> int:
    if isinstance(label, str) and header is None and label.lstrip("-").isdigit():
        label = int(label)
    if label is None:
        if header is None:
            raise DataError(
                f"{name}: the file has no header row; add one that names the label column "
                f"{' or '.join(LABEL_COLUMN_NAMES)} (the others are features)"
            )
        lowered = [column.strip().lower() for column in header]
        for candidate in LABEL_COLUMN_NAMES:
            if candidate in lowered:
                return lowered.index(candidate)
        raise DataError(
            f"{name}: no label column among the header's {', '.join(header)}; name the "
            f"label column {' or '.join(LABEL_COLUMN_NAMES)}"
        )
    if isinstance(label, int) and not isinstance(label, bool):
        if not -width <= label < width:
            raise DataError(f"{name}: label={label}: the file has {width} columns (0..{width - 1})")
        return label % width
    if isinstance(label, str) and header is not None:
        stripped = [column.strip() for column in header]
        if label in stripped:
            return stripped.index(label)
        raise DataError(f"{name}: label={label!r} is not a column; columns: {', '.join(stripped)}")
    raise DataError(f"{name}: label={label!r}: expected a column name or index")


def _first_non_number(
    body: list[tuple[int, list[str]]], columns: list[int]
) -> tuple[int, int, str]:
    for line, fields in body:
        for column in columns:
            if not _is_number(fields[column]):
                return line, column, fields[column]
    raise AssertionError("every field is a number")


def _csv_rows(path: Path, name: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a UTF-8 CSV file with their 1-based line numbers."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{name}: not UTF-8 text (byte {error.start}); save the file as UTF-8 CSV"
        ) from None
    except OSError as error:
        raise DataError(f"{name}: cannot read: {error.strerror or error}") from None
    try:
        reader = csv.reader(text.splitlines(), delimiter=delimiter)
        return [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except csv.Error as error:
        raise DataError(f"{name}: not a readable CSV file ({error})") from None


def load_csv(
    path: str | Path,
    *,
    label: int | str | None = None,
    delimiter: str = ",",
    standardize: bool = False,
    test_size: int | float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SEED,
    scale: float | str | None = "auto",
    image_shape: Sequence[int] | None = None,
) -> Dataset:
    """A CSV table, one example per row: a label column and numeric feature columns.

    ``label`` names the label column (by header name, or 0-based index, negative
    from the end); by default a header column called label/class/target/y. A
    header row is detected when its fields are not all numbers. The test set is
    a stratified ``test_size`` split with ``seed``.
    """
    path = _existing(path, "csv")
    name = f"csv:{path}"
    rows = _csv_rows(path, name, delimiter)
    first = rows[0][1] if rows else None
    if not first:
        raise DataError(f"{name}: the file is empty")
    header = None if all(_is_number(field) for field in first) else first
    width = len(first)
    if width < 2:
        raise DataError(
            f"{name}: found 1 column with delimiter {delimiter!r}; expected a label column "
            "and at least one feature column, separated by commas"
        )
    label_index = _label_index(label, header, width, name)
    body = rows[1:] if header is not None else rows
    for line, fields in body:
        if len(fields) != width:
            raise DataError(
                f"{name}: row {line} has {len(fields)} fields but the first row has {width}; "
                "every row needs the same columns"
            )
    if not body:
        raise DataError(f"{name}: the file has a header but no rows")
    feature_columns = [i for i in range(width) if i != label_index]
    cells = np.array([[fields[c] for c in feature_columns] for _, fields in body], dtype=str)
    try:
        X = np.char.strip(cells).astype(np.float64)
    except ValueError:
        line, column, text = _first_non_number(body, feature_columns)
        raise DataError(
            f"{name}: row {line}, column {column + 1}: {text!r} is not a number; "
            "every feature column must hold numbers"
        ) from None
    if not np.all(np.isfinite(X)):
        raise DataError(f"{name}: the features hold NaN or infinite values")
    y = np.array([fields[label_index].strip() for _, fields in body])
    with contextlib.suppress(ValueError):  # else string labels: sorted, they are the classes
        y = y.astype(np.int64)
    codes, _, labels = encode_labels(y, y[:0])
    X_train, y_train, X_test, y_test, split_info = carve_test(
        X, codes, test_size=test_size, seed=seed, class_names=labels, source=name
    )
    provenance = {
        "name": name,
        "source": f"csv file {path}",
        "origin": "csv",
        "label_column": header[label_index].strip() if header is not None else label_index,
        "files": [
            {"role": "data", "name": path.name, "path": str(path), "sha256": sha256_file(path)}
        ],
    }
    return _finish(
        name,
        (X_train, y_train, X_test, y_test),
        class_names=labels,
        image_shape=_check_image_shape(image_shape, X.shape[1], name),
        scale=scale,
        standardize=standardize,
        provenance=provenance,
        split_info=split_info,
    )

"""``hpsearch predict``: a saved model on a dataset split: accuracy and a per-class summary."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data import Dataset, load
from hpsearch.errors import ConfigError, HpsearchError
from hpsearch.nn import load_model
from hpsearch.results.retrain import read_model_info

__all__ = ["SPLITS", "Prediction", "predict", "write_predictions"]

SPLITS = ("test", "train")


@dataclass
class Prediction:
    """Predictions of a model on one split, with the confusion matrix (rows: true class)."""

    dataset: str
    split: str
    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    class_names: tuple[str, ...]
    confusion: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.labels == self.predicted)) if len(self.labels) else float("nan")

    def per_class(self) -> list[dict[str, Any]]:
        """Per true class: count, correct, accuracy and the class it is most often mistaken for."""
        rows = []
        for c, name in enumerate(self.class_names):
            row = self.confusion[c]
            count, correct = int(row.sum()), int(row[c])
            wrong = row.copy()
            wrong[c] = 0
            confused = int(wrong.argmax()) if wrong.any() else None
            rows.append(
                {
                    "class": name,
                    "count": count,
                    "correct": correct,
                    "accuracy": correct / count if count else None,
                    "most_confused_with": None if confused is None else self.class_names[confused],
                    "confused_count": 0 if confused is None else int(wrong[confused]),
                }
            )
        return rows


def predict(
    model_path: str | Path,
    data: str,
    *,
    split: str = "test",
    standardize: bool | None = None,
    deskew: bool | None = None,
    dataset: Dataset | None = None,
) -> Prediction:
    """Run the model at ``model_path`` on ``split`` of dataset ``data``.

    ``standardize=None`` and ``deskew=None`` follow the model's sidecar (written by
    ``retrain``), else False.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, but got {split!r}")
    model = load_model(model_path)
    info = read_model_info(model_path) if standardize is None or deskew is None else {}
    if standardize is None:
        standardize = bool(info.get("standardize", False))
    if deskew is None:
        deskew = bool(info.get("deskew", False))
    if dataset is None:
        dataset = load(data, standardize=standardize, deskew=deskew)
    if model.sizes[0] != dataset.n_features:
        raise ConfigError(
            f"model {model_path} takes {model.sizes[0]} input features but dataset {data!r} "
            f"has {dataset.n_features}; use the dataset the model was trained on"
        )
    if model.n_classes != dataset.n_classes:
        raise ConfigError(
            f"model {model_path} has {model.n_classes} outputs but dataset {data!r} "
            f"has {dataset.n_classes} classes; use the dataset the model was trained on"
        )
    X, y = (
        (dataset.X_test, dataset.y_test) if split == "test" else (dataset.X_train, dataset.y_train)
    )
    proba = model.predict_proba(X)
    predicted = proba.argmax(axis=1)
    k = dataset.n_classes
    confusion = np.bincount(y * k + predicted, minlength=k * k).reshape(k, k)
    return Prediction(
        dataset=data,
        split=split,
        labels=np.asarray(y),
        predicted=predicted,
        confidence=proba.max(axis=1),
        class_names=dataset.class_names,
        confusion=confusion,
    )


def write_predictions(prediction: Prediction, path: str | Path) -> Path:
    """One CSV row per example: index, true and predicted class (index and name), confidence."""
    path = Path(path)
    names = prediction.class_names
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(
                ["index", "label", "predicted", "label_name", "predicted_name", "confidence"]
            )
            for i, (label, guess, conf) in enumerate(
                zip(prediction.labels, prediction.predicted, prediction.confidence, strict=True)
            ):
                writer.writerow(
                    [i, int(label), int(guess), names[label], names[guess], f"{float(conf):.6g}"]
                )
    except OSError as error:
        raise HpsearchError(f"cannot write {path}: {error.strerror or error}") from None
    return path

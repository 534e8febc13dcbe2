from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


@pytest.fixture(scope="session")
def digits() -> dict[str, np.ndarray]:
    """scikit-learn's digits, pixels in [0, 1], split 1000 train / 297 validation / 500 test."""
    data = load_digits()
    X = (data.data / 16.0).astype(np.float32)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, data.target, test_size=500, random_state=0, stratify=data.target
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, train_size=1000, random_state=0, stratify=y_rest
    )
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_val": X_val,
        "y_val": y_val,
        "X_test": X_test,
        "y_test": y_test,
    }

"""``NeuralNetClassifier``: the ch. 3 network as a scikit-learn estimator.

It builds a ``Network`` and runs ``train`` on it, so it fits in a ``Pipeline``,
``GridSearchCV`` or ``cross_val_score`` like any scikit-learn classifier.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from hpsearch.nn.activations import ACTIVATIONS
from hpsearch.nn.backend import DTYPES
from hpsearch.nn.history import History, StopReason
from hpsearch.nn.initializers import INITIALIZERS
from hpsearch.nn.losses import LOSSES
from hpsearch.nn.network import Network
from hpsearch.nn.optimizers import OPTIMIZERS
from hpsearch.nn.training import SCHEDULES, train

#: Seeds drawn from ``random_state`` are below this bound (any int NumPy accepts).
_SEED_BOUND = 2**31 - 1


class NeuralNetClassifier(ClassifierMixin, BaseEstimator):
    """A fully connected network trained by mini-batch gradient descent.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(30,)
        Width of each hidden layer; ``()`` fits a softmax/logistic regression.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}, default="sigmoid"
        Activation of the hidden layers.
    loss : {"log_likelihood", "cross_entropy", "quadratic"}, default="log_likelihood"
        Cost; ``log_likelihood`` uses softmax outputs, the others sigmoid outputs
        (whose ``predict_proba`` is normalized to sum to 1).
    init : {"scaled", "large", "he", "glorot"}, default="scaled"
        Weight initializer.
    learning_rate : float > 0, default=0.5
        Step size eta.
    optimizer : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}, default="sgd"
        Parameter-update rule.
    momentum : float in [0, 1), default=0.9
        Momentum coefficient, used by ``momentum`` and ``nesterov`` only.
    l2, l1 : float >= 0, default=0.0
        Weight-penalty strengths, scaled by 1/n_samples as in the book; at most one
        of them may be positive.
    dropout : float in [0, 1), default=0.0
        Probability of dropping a hidden unit during training.
    input_noise : float >= 0, default=0.0
        Standard deviation of the Gaussian noise added to every input of every
        training batch (in the units of ``X``; 0 adds none).
    batch_size : int >= 1, default=10
        Mini-batch size (capped at the number of training samples).
    max_epochs : int >= 1, default=30
        Most passes over the training set.
    patience : int >= 1 or None, default=None
        Stop after this many epochs without a new best validation accuracy, and keep
        the best epoch's weights. Holds out ``validation_fraction`` of the data.
    schedule : {"halve_on_plateau"} or None, default=None
        Halve the learning rate on each plateau of ``patience`` (default 10) epochs
        instead of stopping. Also holds out ``validation_fraction`` of the data.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out (stratified when every class has at
        least two samples) when ``patience`` or ``schedule`` is set; unused otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, dropout and the validation split.
    dtype : {"float32", "float64"}, default="float32"
        Floating-point type of the parameters and computations.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; output unit ``i`` stands for ``classes_[i]``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit``, when ``X`` had string column names.
    network_ : Network
        The trained network.
    history_ : History
        Per-epoch metrics and the stop reason.
    best_validation_score_ : float or None
        Best validation accuracy, or None when no validation set was held out.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "loss": [StrOptions(set(LOSSES))],
        "init": [StrOptions(set(INITIALIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_noise": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "schedule": [StrOptions(set(SCHEDULES)), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "dtype": [StrOptions(set(DTYPES))],
    }

    def __init__(
        self,
        hidden_layer_sizes: int | tuple[int, ...] = (30,),
        activation: str = "sigmoid",
        loss: str = "log_likelihood",
        init: str = "scaled",
        learning_rate: float = 0.5,
        optimizer: str = "sgd",
        momentum: float = 0.9,
        l2: float = 0.0,
        l1: float = 0.0,
        dropout: float = 0.0,
        input_noise: float = 0.0,
        batch_size: int = 10,
        max_epochs: int = 30,
        patience: int | None = None,
        schedule: str | None = None,
        validation_fraction: float = 0.1,
        random_state: int | np.random.RandomState | None = None,
        dtype: str = "float32",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.init = init
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.momentum = momentum
        self.l2 = l2
        self.l1 = l1
        self.dropout = dropout
        self.input_noise = input_noise
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.schedule = schedule
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.dtype = dtype

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        """Train a fresh network on ``X`` (n_samples, n_features) and labels ``y``."""
        hidden = self._check_combined_params()
        X, y = validate_data(self, X, y, dtype=DTYPES[self.dtype])
        check_classification_targets(y)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, "
                f"but y holds one class only: {self.classes_[0]!r}."
            )
        rng = check_random_state(self.random_state)
        network_seed, train_seed, split_seed = (int(s) for s in rng.randint(_SEED_BOUND, size=3))
        training, validation = (X, y_encoded), None
        if self.patience is not None or self.schedule is not None:
            training, validation = self._split(X, y_encoded, split_seed)

        self.network_ = Network(
            [X.shape[1], *hidden, len(self.classes_)],
            activation=self.activation,
            loss=self.loss,
            init=self.init,
            dropout=self.dropout,
            seed=network_seed,
            dtype=self.dtype,
        )
        self.history_: History = train(
            self.network_,
            training,
            validation,
            epochs=self.max_epochs,
            batch_size=self.batch_size,
            eta=self.learning_rate,
            optimizer=self.optimizer,
            momentum=self.momentum,
            l2=self.l2,
            l1=self.l1,
            input_noise=self.input_noise,
            patience=self.patience,
            schedule=self.schedule,
            seed=train_seed,
        )
        self.best_validation_score_ = self.history_.best_validation_accuracy
        if self.history_.stop_reason == StopReason.DIVERGED:
            warnings.warn(
                f"Training diverged (loss non-finite or over 1000x the untrained loss) in epoch {self.history_.epochs_run}; "
                f"try a learning_rate below {self.learning_rate}.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=DTYPES[self.dtype], reset=False)
        return self.network_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row of ``X``."""
        proba = self.predict_proba(X)  # checks fitted first, before classes_ is read
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Dense, finite inputs only; any number of classes, one label per sample.
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags

    def _check_combined_params(self) -> list[int]:
        """The checks ``_parameter_constraints`` cannot express; returns the hidden widths."""
        given: Any = self.hidden_layer_sizes
        sizes: list[Any] = [given] if isinstance(given, Integral) else list(given)
        if not all(isinstance(s, Integral) and int(s) >= 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, but got {self.hidden_layer_sizes!r}."
            )
        if self.l1 > 0 and self.l2 > 0:
            raise ValueError(
                f"use either l2 or l1, not both, but got l2={self.l2!r} and l1={self.l1!r}."
            )
        return [int(s) for s in sizes]

    def _split(
        self, X: np.ndarray, y: np.ndarray, seed: int
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        # Stratify only when every class can appear on both sides of the split.
        n_classes = len(self.classes_)
        n_validation = int(np.ceil(self.validation_fraction * len(y)))
        stratify = (
            y
            if np.bincount(y).min() >= 2 and n_classes <= n_validation <= len(y) - n_classes
            else None
        )
        X_train, X_val, y_train, y_val = train_test_split(
            X, y, test_size=self.validation_fraction, random_state=seed, stratify=stratify
        )
        return (X_train, y_train), (X_val, y_val)

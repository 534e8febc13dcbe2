"""The NumPy neural network of Nielsen's *Neural Networks and Deep Learning*, ch. 3."""

from hpsearch.nn.activations import ACTIVATIONS
from hpsearch.nn.cohort import CohortMember, train_cohort
from hpsearch.nn.ensemble import Ensemble, load_model
from hpsearch.nn.history import EpochRecord, History, StopReason
from hpsearch.nn.initializers import INITIALIZERS
from hpsearch.nn.losses import LOSSES
from hpsearch.nn.network import Network
from hpsearch.nn.optimizers import OPTIMIZERS, USES_MOMENTUM
from hpsearch.nn.regularizers import REGULARIZERS
from hpsearch.nn.training import SCHEDULES, train

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "OPTIMIZERS",
    "REGULARIZERS",
    "SCHEDULES",
    "USES_MOMENTUM",
    "CohortMember",
    "Ensemble",
    "EpochRecord",
    "History",
    "Network",
    "NeuralNetClassifier",
    "StopReason",
    "load_model",
    "train",
    "train_cohort",
]


def __getattr__(name: str) -> object:
    # The estimator imports scikit-learn (~0.7 s): only load it when asked for, so
    # worker processes, which never use it, start faster.
    if name == "NeuralNetClassifier":
        from hpsearch.nn.estimator import NeuralNetClassifier

        return NeuralNetClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

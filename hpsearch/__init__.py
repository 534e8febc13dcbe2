"""hpsearch: hyperparameter search for a NumPy neural network, driven by Optuna."""

__version__ = "0.1.0"

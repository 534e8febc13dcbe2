"""The feed-forward network of the book's ch. 3: layers ``X @ W + b``, rows are examples."""

from __future__ import annotations

import itertools
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.activations import get_activation
from hpsearch.nn.backend import resolve_dtype, xp
from hpsearch.nn.initializers import get_initializer, initial_biases
from hpsearch.nn.losses import get_loss
from hpsearch.nn.propagation import Workspace

#: Rows evaluated at once by ``forward``: bounds memory on big inputs.
EVAL_CHUNK = 4096


#: What reading a damaged or foreign ``.npz`` raises (a truncated file is a BadZipFile).
UNREADABLE = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    EOFError,
    AttributeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
)


class Network:
    """A fully connected network.

    ``sizes`` lists the layer widths, input first: ``[784, 100, 10]``. Hidden
    layers use ``activation``; the output layer follows ``loss`` (sigmoid for
    ``quadratic`` and ``cross_entropy``, softmax for ``log_likelihood``).
    ``weights[l]`` has shape ``(n_in, n_out)`` and ``biases[l]`` shape ``(n_out,)``.
    """

    def __init__(
        self,
        sizes: list[int] | tuple[int, ...],
        *,
        activation: str = "sigmoid",
        loss: str = "cross_entropy",
        init: str = "scaled",
        dropout: float = 0.0,
        seed: int | None = None,
        dtype: str = "float32",
    ) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ConfigError(
                f"sizes must list at least an input and an output width, all >= 1, but got {sizes}."
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), but got {dropout!r}.")
        self.sizes = sizes
        self.activation = activation
        self.loss = loss
        self.init = init
        self.dropout = float(dropout)
        self.seed = seed
        self.dtype = resolve_dtype(dtype)
        self.activation_fn = get_activation(activation)
        self.loss_fn = get_loss(loss)
        initializer = get_initializer(init)
        rng = xp.random.default_rng(seed)
        self.weights = [
            xp.ascontiguousarray(initializer(rng, n_in, n_out), dtype=self.dtype)
            for n_in, n_out in itertools.pairwise(sizes)
        ]
        self.biases = [initial_biases(rng, init, n_out).astype(self.dtype) for n_out in sizes[1:]]

    # -- configuration -------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable."""
        return {
            "sizes": self.sizes,
            "activation": self.activation,
            "loss": self.loss,
            "init": self.init,
            "dropout": self.dropout,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "sizes")
        return f"Network({self.sizes}, {args})"

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    # -- inference -----------------------------------------------------------

    def forward(self, X: Any) -> Any:
        """Output-layer activations for the rows of ``X`` (dropout off)."""
        X = self.check_inputs(X)
        out = xp.empty((len(X), self.n_classes), self.dtype)
        workspace = Workspace(self, min(len(X), EVAL_CHUNK) or 1)
        for start in range(0, len(X), EVAL_CHUNK):
            chunk = X[start : start + EVAL_CHUNK]
            out[start : start + len(chunk)] = workspace.forward(chunk)
        return out

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities: softmax outputs, or sigmoid outputs normalized to sum to 1
        (uniform where every sigmoid output underflowed to 0)."""
        out = self.forward(X)
        if self.loss_fn.output != "softmax":
            total = out.sum(axis=1, keepdims=True)
            dead = total[:, 0] <= xp.finfo(self.dtype).tiny
            out[dead] = 1.0
            total[dead] = self.n_classes
            out /= total
        return out

    def predict(self, X: Any) -> Any:
        """The most likely class index of each row."""
        return self.forward(X).argmax(axis=1)

    def evaluate(self, X: Any, y: Any) -> tuple[float, float]:
        """(mean loss, accuracy) over ``X, y``, in chunks, dropout off."""
        X = self.check_inputs(X)
        y = xp.asarray(y)
        if len(X) == 0:
            return float("nan"), float("nan")
        workspace = Workspace(self, min(len(X), EVAL_CHUNK))
        total_loss = 0.0
        correct = 0
        last = len(self.weights) - 1
        for start in range(0, len(X), EVAL_CHUNK):
            chunk, labels = X[start : start + EVAL_CHUNK], y[start : start + EVAL_CHUNK]
            a = workspace.forward(chunk)
            z = workspace.z[last][: len(chunk)]
            total_loss += self.loss_fn.value(z, a, labels) * len(chunk)
            correct += int((a.argmax(axis=1) == labels).sum())
        return total_loss / len(X), correct / len(X)

    # -- training support ----------------------------------------------------

    def gradients(self, X: Any, y: Any) -> tuple[float, list[Any], list[Any]]:
        """(mean data loss, weight gradients, bias gradients) over the batch ``X, y``.

        Exact backpropagation with dropout off and no regularization term, in the
        network's dtype (use ``dtype="float64"`` for gradient checks).
        """
        X = self.check_inputs(X)
        y = xp.asarray(y)
        workspace = Workspace(self, len(X))
        a = workspace.forward(X)
        loss = self.loss_fn.value(workspace.z[-1][: len(X)], a, y)
        workspace.backward(y)
        return loss, workspace.grad_weights, workspace.grad_biases

    def check_inputs(self, X: Any) -> Any:
        """``X`` as a 2-D array of this network's dtype; a ConfigError if its width is wrong."""
        X = xp.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ConfigError(
                f"inputs must have shape (n, {self.sizes[0]}), but got {tuple(X.shape)}."
            )
        return X if X.dtype == self.dtype else X.astype(self.dtype)

    # -- persistence ---------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write configuration and parameters to one ``.npz`` file; returns its path."""
        path = Path(path)
        arrays: dict[str, Any] = {f"weights_{i}": w for i, w in enumerate(self.weights)}
        arrays.update({f"biases_{i}": b for i, b in enumerate(self.biases)})
        with path.open("wb") as fh:
            arrays["config"] = xp.array(json.dumps(self.config))
            xp.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        """Rebuild a network written by ``save``; it predicts identically."""
        try:
            with xp.load(path, allow_pickle=False) as data:
                config = json.loads(str(data["config"]))
                network = cls(**{**config, "sizes": config["sizes"]})
                n = len(network.weights)
                network.weights = [data[f"weights_{i}"].copy() for i in range(n)]
                network.biases = [data[f"biases_{i}"].copy() for i in range(n)]
        except UNREADABLE:
            raise ConfigError(
                f"{path}: not a network saved by hpsearch (expected an .npz file written by "
                "Network.save or `hpsearch retrain`)."
            ) from None
        network.check_parameters(path)
        return network

    def check_parameters(self, source: str | os.PathLike[str]) -> None:
        """A ``ConfigError`` naming ``source`` unless every weight is (n_in, n_out) and
        every bias (n_out,) for the layer sizes of the config, in its dtype."""
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            want = (self.sizes[i], self.sizes[i + 1])
            if tuple(w.shape) != want or tuple(b.shape) != (want[1],):
                raise ConfigError(
                    f"{source}: layer {i} has weights {tuple(w.shape)} and biases "
                    f"{tuple(b.shape)}, but its config's sizes {list(self.sizes)} need "
                    f"{want} and ({want[1]},); the file is damaged or was not written by hpsearch"
                )
            if w.dtype.kind != "f" or b.dtype.kind != "f":
                raise ConfigError(f"{source}: layer {i} holds {w.dtype} values, not floats")
            self.weights[i], self.biases[i] = w.astype(self.dtype), b.astype(self.dtype)

    def copy_parameters(self) -> tuple[list[Any], list[Any]]:
        """Copies of the weights and biases (e.g. to restore the best epoch later)."""
        return [w.copy() for w in self.weights], [b.copy() for b in self.biases]

    def set_parameters(self, weights: list[Any], biases: list[Any]) -> None:
        """Overwrite the parameters in place with ``weights`` and ``biases``."""
        for target, source in zip(self.weights + self.biases, weights + biases, strict=True):
            target[...] = source

"""Losses with their output layers, looked up by name (the book's ch. 3).

Every loss is the mean over the batch of a per-example cost, and gives the
output error ``delta = dC/dz`` per example for backpropagation. Labels are
integer class indices; the one-hot target ``y`` is never materialized.
"""

from __future__ import annotations

from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import sigmoid, xp


def softmax(z: Any, out: Any) -> Any:
    """a_j = e^{z_j} / sum_k e^{z_k}, computed after subtracting the row max (stable)."""
    xp.subtract(z, z.max(axis=1, keepdims=True), out=out)
    xp.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


_ROWS = xp.arange(4096)


def _rows(y: Any) -> Any:
    """Row indices 0..len(y)-1 (a view of a shared range for batch-sized inputs)."""
    return _ROWS[: len(y)] if len(y) <= len(_ROWS) else xp.arange(len(y))


class Loss:
    """Base: output activation, mean cost ``value`` and output error ``delta``.

    ``value(z, a, y)`` and ``delta(z, a, y, out)`` take both the weighted input
    ``z`` and the output ``a`` even when one is unused, so all losses share a signature.
    """

    name: str = ""
    output: str = "sigmoid"

    def activate(self, z: Any, out: Any) -> Any:
        return sigmoid(z, out=out)

    def value(self, z: Any, a: Any, y: Any) -> float:
        raise NotImplementedError

    def delta(self, z: Any, a: Any, y: Any, out: Any) -> Any:
        raise NotImplementedError

    def values(self, z: Any, a: Any, y: Any) -> Any:
        """``value`` of k networks at once: ``z`` and ``a`` shaped (m, k, classes), the
        k mean costs (float64) out (a cohort's evaluation, in a few calls for all)."""
        raise NotImplementedError


class Quadratic(Loss):
    """C = 1/2 ||a - y||^2 with sigmoid outputs;  delta = (a - y) sigma'(z)."""

    name = "quadratic"

    def value(self, z: Any, a: Any, y: Any) -> float:
        diff = a.astype(xp.float64, copy=True)
        diff[_rows(y), y] -= 1.0
        return float(0.5 * xp.einsum("ij,ij->", diff, diff) / len(y))

    def values(self, z: Any, a: Any, y: Any) -> Any:
        diff = a.astype(xp.float64, copy=True)
        diff[_rows(y), :, y] -= 1.0
        return 0.5 * xp.einsum("mkc,mkc->k", diff, diff) / len(y)

    def delta(self, z: Any, a: Any, y: Any, out: Any) -> Any:
        derivative = a - a * a  # sigma'(z) = a (1 - a), before ``out`` (maybe ``a``) changes
        if out is not a:
            out[...] = a
        out[_rows(y), y] -= 1
        out *= derivative
        return out


class CrossEntropy(Loss):
    """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] with sigmoid outputs;  delta = a - y.

    Evaluated as sum_j [softplus(z_j) - y_j z_j], which never takes the log of 0.
    """

    name = "cross_entropy"

    def value(self, z: Any, a: Any, y: Any) -> float:
        z64 = z.astype(xp.float64, copy=False)
        total = xp.logaddexp(0.0, z64).sum() - z64[_rows(y), y].sum()
        return float(total / len(y))

    def values(self, z: Any, a: Any, y: Any) -> Any:
        z64 = z.astype(xp.float64, copy=False)
        totals = xp.logaddexp(0.0, z64).sum(axis=(0, 2)) - z64[_rows(y), :, y].sum(axis=0)
        return totals / len(y)

    def delta(self, z: Any, a: Any, y: Any, out: Any) -> Any:
        if out is not a:
            out[...] = a
        out[_rows(y), y] -= 1
        return out


class LogLikelihood(Loss):
    """C = -ln a_y with softmax outputs;  delta = a - y.

    Evaluated as logsumexp(z) - z_y, stable for logits of any size.
    """

    name = "log_likelihood"
    output = "softmax"

    def activate(self, z: Any, out: Any) -> Any:
        return softmax(z, out)

    def value(self, z: Any, a: Any, y: Any) -> float:
        z64 = z.astype(xp.float64, copy=False)
        top = z64.max(axis=1)
        logsumexp = top + xp.log(xp.exp(z64 - top[:, None]).sum(axis=1))
        return float((logsumexp - z64[_rows(y), y]).mean())

    def values(self, z: Any, a: Any, y: Any) -> Any:
        z64 = z.astype(xp.float64, copy=False)
        top = z64.max(axis=2)
        logsumexp = top + xp.log(xp.exp(z64 - top[:, :, None]).sum(axis=2))
        return (logsumexp - z64[_rows(y), :, y]).mean(axis=0)

    def delta(self, z: Any, a: Any, y: Any, out: Any) -> Any:
        if out is not a:
            out[...] = a
        out[_rows(y), y] -= 1
        return out


LOSSES: dict[str, Loss] = {cls.name: cls() for cls in (Quadratic, CrossEntropy, LogLikelihood)}


def get_loss(name: str) -> Loss:
    """The loss called ``name``; an unknown name lists the valid ones."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"loss must be one of {sorted(LOSSES)}, but got {name!r}.") from None

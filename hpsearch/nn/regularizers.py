"""Weight penalties of the book's ch. 3, added to the weight gradients (biases are never regularized).

With n the size of the training set and lambda the strength:
- L2: C = C0 + lambda/(2n) sum w^2, so dC/dw = dC0/dw + (lambda/n) w; with plain SGD
  this is the weight decay w <- (1 - eta lambda / n) w - eta dC0/dw.
- L1: C = C0 + lambda/n sum |w|, so dC/dw = dC0/dw + (lambda/n) sgn(w), sgn(0) = 0.
"""

from __future__ import annotations

from typing import Any

from hpsearch.nn.backend import xp


def add_l2(weights: Any, grad: Any, coefficient: float, scratch: Any) -> None:
    """grad += coefficient * w (coefficient = lambda/n, times eta for pre-scaled gradients)."""
    xp.multiply(weights, coefficient, out=scratch)
    grad += scratch


def add_l1(weights: Any, grad: Any, coefficient: float, scratch: Any) -> None:
    """grad += coefficient * sgn(w)."""
    xp.sign(weights, out=scratch)
    scratch *= coefficient
    grad += scratch


#: Weight penalties by name: the names a spec's ``regularizer`` accepts.
REGULARIZERS = {"l2": add_l2, "l1": add_l1}

"""Hidden-layer activations, looked up by name.

Each activation computes ``a = f(z)`` in place and multiplies a back-propagated
error by ``f'(z)`` expressed through ``a`` alone, so ``z`` never has to be kept.
"""

from __future__ import annotations

from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import sigmoid, xp


class Activation:
    """Base: ``apply`` computes f(z) into ``out``; ``backprop`` does delta *= f'(z)."""

    name: str = ""

    def apply(self, z: Any, out: Any) -> Any:
        raise NotImplementedError

    def backprop(self, delta: Any, a: Any, scratch: Any) -> None:
        raise NotImplementedError


class Sigmoid(Activation):
    """sigma(z) = 1 / (1 + e^-z);  sigma'(z) = a (1 - a)."""

    name = "sigmoid"

    def apply(self, z: Any, out: Any) -> Any:
        return sigmoid(z, out=out)

    def backprop(self, delta: Any, a: Any, scratch: Any) -> None:
        xp.multiply(a, a, out=scratch)
        xp.subtract(a, scratch, out=scratch)
        delta *= scratch


class Tanh(Activation):
    """tanh(z);  tanh'(z) = 1 - a^2."""

    name = "tanh"

    def apply(self, z: Any, out: Any) -> Any:
        return xp.tanh(z, out=out)

    def backprop(self, delta: Any, a: Any, scratch: Any) -> None:
        xp.multiply(a, a, out=scratch)
        xp.subtract(1, scratch, out=scratch)
        delta *= scratch


class ReLU(Activation):
    """max(0, z);  derivative 1 where a > 0, else 0."""

    name = "relu"

    def apply(self, z: Any, out: Any) -> Any:
        return xp.maximum(z, 0, out=out)

    def backprop(self, delta: Any, a: Any, scratch: Any) -> None:
        xp.sign(a, out=scratch)  # a >= 0, so sign(a) is exactly the 0/1 derivative
        delta *= scratch


class LeakyReLU(Activation):
    """z if z > 0 else 0.01 z;  derivative 1 where a > 0, else 0.01."""

    name = "leaky_relu"
    slope = 0.01

    def apply(self, z: Any, out: Any) -> Any:
        return xp.maximum(z, z * self.slope, out=out)

    def backprop(self, delta: Any, a: Any, scratch: Any) -> None:
        xp.greater(a, 0, out=scratch)  # 1.0 / 0.0
        scratch *= 1 - self.slope
        scratch += self.slope
        delta *= scratch


ACTIVATIONS: dict[str, Activation] = {cls.name: cls() for cls in (Sigmoid, Tanh, ReLU, LeakyReLU)}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; an unknown name lists the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"activation must be one of {sorted(ACTIVATIONS)}, but got {name!r}."
        ) from None

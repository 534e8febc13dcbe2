"""Parameter-update rules, looked up by name. Each updates its parameters in place.

``step(params, grads, eta)`` receives the gradients of the full cost (data loss plus
penalty). Plain SGD is ``prescaled``: the training loop hands it gradients already
multiplied by eta (folded into backpropagation), so its step is one subtraction.
"""

from __future__ import annotations

from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import xp


class Optimizer:
    """Base: in-place ``step``; state arrays are created on the first step."""

    name = ""
    prescaled = False

    def __init__(self, momentum: float = 0.9) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), but got {momentum!r}.")
        self.momentum = momentum
        self.state: list[Any] = []

    def _state(self, params: list[Any]) -> list[Any]:
        if not self.state:
            self.state = [xp.zeros_like(p) for p in params]
        return self.state

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """w <- w - eta g (``grads`` arrive as eta g)."""

    name = "sgd"
    prescaled = True

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        for p, g in zip(params, grads, strict=True):
            p -= g


class Momentum(Optimizer):
    """v <- mu v - eta g;  w <- w + v."""

    name = "momentum"

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        for p, g, v in zip(params, grads, self._state(params), strict=True):
            v *= self.momentum
            g *= eta
            v -= g
            p += v


class Nesterov(Optimizer):
    """v <- mu v - eta g;  w <- w + mu v - eta g (look-ahead form of Sutskever et al.)."""

    name = "nesterov"

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        for p, g, v in zip(params, grads, self._state(params), strict=True):
            v *= self.momentum
            g *= eta
            v -= g
            p -= g
            p += self.momentum * v


class Adagrad(Optimizer):
    """G <- G + g^2;  w <- w - eta g / (sqrt(G) + eps)."""

    name = "adagrad"
    eps = 1e-8

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        for p, g, acc in zip(params, grads, self._state(params), strict=True):
            acc += g * g
            p -= eta * g / (xp.sqrt(acc) + self.eps)


class RMSProp(Optimizer):
    """G <- rho G + (1 - rho) g^2;  w <- w - eta g / (sqrt(G) + eps), rho = 0.9."""

    name = "rmsprop"
    rho = 0.9
    eps = 1e-8

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        for p, g, acc in zip(params, grads, self._state(params), strict=True):
            acc *= self.rho
            acc += (1 - self.rho) * g * g
            p -= eta * g / (xp.sqrt(acc) + self.eps)


class Adam(Optimizer):
    """Kingma & Ba: bias-corrected first and second moments, beta1 0.9, beta2 0.999."""

    name = "adam"
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, momentum: float = 0.9) -> None:
        super().__init__(momentum)
        self.second: list[Any] = []
        self.t = 0

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        first = self._state(params)
        if not self.second:
            self.second = [xp.zeros_like(p) for p in params]
        self.t += 1
        rate = eta * (1 - self.beta2**self.t) ** 0.5 / (1 - self.beta1**self.t)
        for p, g, m, v in zip(params, grads, first, self.second, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= rate * m / (xp.sqrt(v) + self.eps)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSProp, Adam)
}

#: Optimizers that use the ``momentum`` coefficient.
USES_MOMENTUM = frozenset({"momentum", "nesterov"})


def make_optimizer(name: str, *, momentum: float = 0.9) -> Optimizer:
    """A fresh optimizer called ``name``; an unknown name lists the valid ones."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"optimizer must be one of {sorted(OPTIMIZERS)}, but got {name!r}."
        ) from None
    return cls(momentum=momentum)

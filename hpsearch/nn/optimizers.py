"""Parameter-update rules, looked up by name. Each updates its parameters in place.

``step(params, grads, eta)`` receives the gradients of the full cost (data loss plus
penalty). Plain SGD is ``prescaled``: the training loop hands it gradients already
multiplied by eta (folded into backpropagation), so its step is one subtraction.

The adaptive rules (Adagrad, RMSProp, Adam) divide by the root of the squared
gradients, so the L2 pull on a weight whose data gradient is 0 (into a dead ReLU
unit) shrinks it by a steady ratio each step, until it and the squares of its
gradient are float subnormals, which x86 computes ~100x slower: every later GEMM and
update pays (``benchmarks/optimizer_speed.py``). So every ``FLUSH_EVERY`` steps these
rules zero the weights and state entries below sqrt(finfo.tiny) (1.1e-19 in float32),
whose squares underflow. Such a weight is invisible beside float32's rounding of
any sum it enters, and a zeroed accumulator only lets ``eps`` (1e-8) bound the next
step of a gradient below 3e-10, as it nearly does already.
"""

from __future__ import annotations

from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import xp

#: Steps between two ``flush_tiny`` sweeps of the adaptive rules (0: never).
FLUSH_EVERY = 64


def flush_tiny(arrays: list[Any]) -> None:
    """Zero, in place, the entries whose square underflows: |x| < sqrt(finfo.tiny)."""
    for a in arrays:
        a[xp.abs(a) < xp.sqrt(xp.finfo(a.dtype).tiny)] = 0


class Optimizer:
    """Base: in-place ``step``; state arrays are created on the first step."""

    name = ""
    prescaled = False

    def __init__(self, momentum: float = 0.9) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), but got {momentum!r}.")
        self.momentum = momentum
        self.state: list[Any] = []
        self.steps = 0

    def _count_step(self, *arrays: list[Any]) -> None:
        """Adaptive rules call this after each step: every ``FLUSH_EVERY`` steps it
        ``flush_tiny``s ``arrays`` (parameters and state)."""
        self.steps += 1
        if FLUSH_EVERY and self.steps % FLUSH_EVERY == 0:
            for group in arrays:
                flush_tiny(group)

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
        self._count_step(params, self.state)


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
        self._count_step(params, self.state)


class Adam(Optimizer):
    """Kingma & Ba: bias-corrected first and second moments, beta1 0.9, beta2 0.999."""

    name = "adam"
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, momentum: float = 0.9) -> None:
        super().__init__(momentum)
        self.second: list[Any] = []

    def step(self, params: list[Any], grads: list[Any], eta: float) -> None:
        first = self._state(params)
        if not self.second:
            self.second = [xp.zeros_like(p) for p in params]
        t = self.steps + 1
        rate = eta * (1 - self.beta2**t) ** 0.5 / (1 - self.beta1**t)
        for p, g, m, v in zip(params, grads, first, self.second, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= rate * m / (xp.sqrt(v) + self.eps)
        self._count_step(params, first, self.second)


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

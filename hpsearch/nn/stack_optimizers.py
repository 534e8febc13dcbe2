"""The update rules of ``optimizers`` over a ``Stack``'s flat buffers, one call for all members.

Each rule performs the operations of its single-network twin in the same order, with
each member's eta (and momentum) spread over that member's elements, so an element
is updated as it would be alone (exactly, but for the momentum rules, which take
gradients already times eta, as SGD does: a rounding apart). The adaptive rules keep ``flush_tiny``'s
sweep every ``FLUSH_EVERY`` steps: all members of a stack step together, so their
step counts agree. State is kept per flat buffer (weights, biases), and can be
unpacked per member when the stack is rebuilt without the members that stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpsearch.nn.backend import xp
from hpsearch.nn.optimizers import FLUSH_EVERY, OPTIMIZERS, flush_tiny


def _uniform(values: Any) -> bool:
    return len(values) > 0 and bool(xp.all(values == values[0]))


def spread(per_member: Any, index: Any) -> Any:
    """``per_member`` values over the elements whose member index is ``index``: one
    scalar when all members share the value (a pass then reads no coefficient array:
    the common case of a one-member stack), else one value per element."""
    return per_member[0] if _uniform(per_member) else per_member[index]


def at(coefficient: Any, sl: slice) -> Any:
    """The part of a ``spread`` coefficient for the elements ``sl``."""
    return coefficient if coefficient.ndim == 0 else coefficient[sl]


class StackOptimizer:
    """Updates the flat ``params`` [W, B] from ``grads`` [GW, GB], per-element coefficients."""

    def __init__(self, name: str, state: list[list[Any]] | None = None, steps: int = 0) -> None:
        self.name = name
        #: gradients arrive times eta (folded into backpropagation, as SGD's in train()):
        #: the momentum rules then skip their ``g *= eta`` pass (a rounding apart).
        self.prescaled = OPTIMIZERS[name].prescaled or name in ("momentum", "nesterov")
        self.reference: Any = OPTIMIZERS[name]  # its class: beta1, rho, eps, ...
        #: state[i]: a list [for W, for B] of arrays (momentum: velocity; adam: m then v).
        self.state = state or []
        self.steps = steps
        self.eta: list[Any] = []  # per element, for W and B
        self.mu: list[Any] = []
        self.eta64: Any = None  # per member, float64 (Adam's rate)
        self.index: list[Any] = []

    @property
    def n_states(self) -> int:
        return {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2}.get(self.name, 1)

    def configure(self, eta: Any, momentum: Any, index: list[Any], dtype: Any) -> None:
        """Per-member ``eta`` and ``momentum`` (float64 arrays) spread over the elements
        whose member index is ``index`` [for W, for B] (``spread``)."""
        self.index = index
        self.eta64 = xp.asarray(eta, dtype=xp.float64)
        self.eta = [spread(self.eta64.astype(dtype), i) for i in index]
        self.mu = [spread(xp.asarray(momentum, dtype=dtype), i) for i in index]

    def _update(self, p: Any, g: Any, state: list[Any], a: int, sl: slice, rate: Any) -> None:
        name, ref = self.name, self.reference
        if name == "sgd":
            p -= g
        elif name in ("momentum", "nesterov"):
            (v,) = state
            mu = at(self.mu[a], sl)
            v *= mu
            v -= g  # already eta g
            if name == "momentum":
                p += v
            else:
                p -= g
                p += mu * v
        elif name == "adam":
            m, v = state
            m *= ref.beta1
            m += (1 - ref.beta1) * g
            v *= ref.beta2
            v += (1 - ref.beta2) * g * g
            p -= (rate if rate.ndim == 0 else rate[self.index[a][sl]]) * m / (xp.sqrt(v) + ref.eps)
        else:  # adagrad, rmsprop
            (acc,) = state
            if name == "rmsprop":
                acc *= ref.rho
                acc += (1 - ref.rho) * g * g
            else:
                acc += g * g
            p -= at(self.eta[a], sl) * g / (xp.sqrt(acc) + ref.eps)

    def ensure_state(self, params: list[Any]) -> None:
        if not self.state and self.n_states:
            self.state = [[xp.zeros_like(p) for p in params] for _ in range(self.n_states)]

    def step(
        self,
        params: list[Any],
        grads: list[Any],
        blocks: list[tuple[int, slice]],
        penalize: Callable[[Any, Any, slice], None] | None = None,
    ) -> None:
        """One update of ``params`` [W, B] from ``grads``, block by block (``blocks``:
        (array, slice) pairs covering both): each block's penalty (``penalize(grad,
        weights, slice)``, weights only) and update run while it is in cache."""
        self.ensure_state(params)
        rate = None
        if self.name == "adam":
            ref = self.reference
            t = self.steps + 1
            # Python's order: eta * a / b, in float64, per member.
            rate = (self.eta64 * (1 - ref.beta2**t) ** 0.5 / (1 - ref.beta1**t)).astype(
                params[0].dtype
            )
            if _uniform(rate):
                rate = rate[0]
        for a, sl in blocks:
            p, g = params[a][sl], grads[a][sl]
            if penalize is not None and a == 0:
                penalize(g, p, sl)
            state = [group[a][sl] for group in self.state]
            self._update(p, g, state, a, sl, rate)
        if self.name in ("sgd", "momentum", "nesterov"):
            return
        self.steps += 1
        if FLUSH_EVERY and self.steps % FLUSH_EVERY == 0:
            flush_tiny(params)
            for group in self.state:
                flush_tiny(group)

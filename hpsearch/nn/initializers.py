"""Weight initializers, looked up by name.

Biases start from N(0, 1) for the book's two initializers (``large`` and
``scaled``, as in its network2.py) and from zero for He and Glorot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import xp

Initializer = Callable[[xp.random.Generator, int, int], Any]


def large(rng: xp.random.Generator, n_in: int, n_out: int) -> Any:
    """w ~ N(0, 1): the book's ch. 1 start, which saturates sigmoid neurons."""
    return rng.standard_normal((n_in, n_out))


def scaled(rng: xp.random.Generator, n_in: int, n_out: int) -> Any:
    """w ~ N(0, 1/n_in): the book's ch. 3 default."""
    return rng.standard_normal((n_in, n_out)) / xp.sqrt(n_in)


def he(rng: xp.random.Generator, n_in: int, n_out: int) -> Any:
    """w ~ N(0, 2/n_in): He et al., for ReLU."""
    return rng.standard_normal((n_in, n_out)) * xp.sqrt(2.0 / n_in)


def glorot(rng: xp.random.Generator, n_in: int, n_out: int) -> Any:
    """w ~ U(-r, r), r = sqrt(6/(n_in + n_out)): Glorot & Bengio, for tanh."""
    limit = xp.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


INITIALIZERS: dict[str, Initializer] = {
    "large": large,
    "scaled": scaled,
    "he": he,
    "glorot": glorot,
}


def get_initializer(name: str) -> Initializer:
    """The initializer called ``name``; an unknown name lists the valid ones."""
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"init must be one of {sorted(INITIALIZERS)}, but got {name!r}."
        ) from None


def initial_biases(rng: xp.random.Generator, name: str, n_out: int) -> Any:
    """N(0, 1) biases for the book's initializers, zeros for He and Glorot."""
    return rng.standard_normal(n_out) if name in ("large", "scaled") else xp.zeros(n_out)

"""Adaptive optimizers with and without zeroing the tiny values (``FLUSH_EVERY``).

Run::

    python benchmarks/optimizer_speed.py [--epochs 20]

Trains the same ReLU net on digits (2 x 256 hidden units, L2, batch 10) with each
update rule, once with the optimizers' periodic ``flush_tiny`` sweep and once with it
off (``FLUSH_EVERY = 0``), and prints seconds per epoch, the best validation accuracy
and how many weights end subnormal. Without the sweep, the L2 pull on the weights
into dead ReLU units drives them (and the squares of their gradients) into float
subnormals under the adaptive rules, which x86 computes many times slower.
Momentum, which never sweeps, is the reference.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hpsearch.data import load, split
from hpsearch.nn import Network, optimizers, train

RULES = (("momentum", 0.03), ("adagrad", 0.03), ("rmsprop", 0.001), ("adam", 0.001))


def run(rule: str, eta: float, epochs: int, data: object) -> tuple[float, float, int]:
    """(seconds per epoch, best validation accuracy, subnormal weights at the end)."""
    network = Network([64, 256, 256, 10], activation="relu", loss="log_likelihood", seed=0)
    started = time.perf_counter()
    history = train(
        network,
        (data.X_train, data.y_train),
        (data.X_validation, data.y_validation),
        epochs=epochs,
        eta=eta,
        l2=0.1,
        batch_size=10,
        optimizer=rule,
        seed=0,
    )
    seconds = (time.perf_counter() - started) / epochs
    tiny = np.finfo(np.float32).tiny
    subnormal = sum(int(((w != 0) & (np.abs(w) < tiny)).sum()) for w in network.weights)
    return seconds, float(history.best_validation_accuracy or 0.0), subnormal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs per run (default 20)")
    args = parser.parse_args()
    data = split(load("digits"), validation=0.2, seed=0)
    every = optimizers.FLUSH_EVERY
    print(
        f"digits: {len(data.y_train)} train / {len(data.y_validation)} validation; "
        f"relu 64-256-256-10, l2 0.1, batch 10, {args.epochs} epochs per run"
    )
    print(
        f"{'rule':10s} {'eta':>6s}  {'s/epoch swept':>13s} {'s/epoch not':>11s} {'speed-up':>8s}  "
        f"{'best val acc swept / not':>24s}  {'subnormal weights swept / not':>29s}"
    )
    for rule, eta in RULES:
        optimizers.FLUSH_EVERY = every
        swept = run(rule, eta, args.epochs, data)
        optimizers.FLUSH_EVERY = 0
        plain = run(rule, eta, args.epochs, data)
        optimizers.FLUSH_EVERY = every
        print(
            f"{rule:10s} {eta:6g}  {swept[0]:13.3f} {plain[0]:11.3f} {plain[0] / swept[0]:7.1f}x  "
            f"{swept[1]:11.4f} / {plain[1]:.4f}  {swept[2]:17d} / {plain[2]}"
        )
    print(f"(sweep every {every} steps; momentum never sweeps)")


if __name__ == "__main__":
    main()

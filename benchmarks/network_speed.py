"""Seconds per training epoch of a 784-100-10 network: hpsearch vs scikit-learn vs PyTorch.

One epoch over 60,000 examples of 784 features (Fashion-MNIST when installed, else
random data of that shape): sigmoid hidden layer, softmax + log-likelihood, plain
mini-batch SGD with eta 0.5, at batch sizes 10, 64 and 256; every library gets the
same thread count; the median of several repeats is printed, with the ratios, the
achieved GFLOP/s, this machine's float32 GEMM GFLOP/s, and the peak memory of a
full 60k-example training run.

A second table gives floors per batch size, measured in the same run: one epoch of
only the two big GEMMs (the hidden layer's forward pass and weight gradient, on
contiguous slices, with the BLAS threads hpsearch's training uses at that batch size)
in NumPy and in PyTorch, and of only the shuffle's row gather; next to them, the
seconds the speed bar allows (bar x PyTorch's epoch).

    python benchmarks/network_speed.py [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import tracemalloc
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from hpsearch.nn import Network, train
from hpsearch.nn.batches import blas_threads_for

N_EXAMPLES, N_FEATURES, N_HIDDEN, N_CLASSES = 60_000, 784, 100, 10
ETA = 0.5
BATCH_SIZES = (10, 64, 256)
#: The speed bar of issue 2: hpsearch / PyTorch seconds per epoch, by batch size.
BARS = {10: 0.3, 64: 0.5, 256: 0.6}


def load_data() -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from hpsearch.data import load

        data = load("fashion-mnist")
        # A writable copy: the decoded cache is a read-only memory map, which torch refuses.
        X = np.array(data.X_train[:N_EXAMPLES], dtype=np.float32)
        return X, data.y_train[:N_EXAMPLES].astype(np.int64), "fashion-mnist"
    except Exception:  # not installed: random data of the same shape
        rng = np.random.default_rng(0)
        X = rng.random((N_EXAMPLES, N_FEATURES), dtype=np.float32)
        return X, rng.integers(0, N_CLASSES, N_EXAMPLES), "random"


def flops_per_epoch(n: int) -> float:
    per_example = N_FEATURES * N_HIDDEN + N_HIDDEN * N_CLASSES
    # forward (2 flops per weight) + weight gradients (2) + hidden-layer error (2 * 100 * 10)
    return n * (2 * per_example * 2 + 2 * N_HIDDEN * N_CLASSES)


def gemm_gflops() -> float:
    a = np.random.default_rng(0).random((2000, 2000), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(5))
    return 2 * 2000**3 / best / 1e9


#: Pause before each timing: BLAS and OpenMP worker threads spin for a while after a
#: library's last call, and would otherwise slow whichever library runs next.
SETTLE_SECONDS = 0.5


def _timed(fn) -> float:
    time.sleep(SETTLE_SECONDS)
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def time_hpsearch(X, y, batch_size: int, seed: int) -> float:
    network = Network([N_FEATURES, N_HIDDEN, N_CLASSES], loss="log_likelihood", seed=seed)
    return _timed(
        lambda: train(network, (X, y), epochs=1, batch_size=batch_size, eta=ETA, seed=seed)
    )


def time_sklearn(X, y, batch_size: int, seed: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=(N_HIDDEN,),
        activation="logistic",
        solver="sgd",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate_init=ETA,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=1,
        shuffle=True,
        random_state=seed,
        tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _timed(lambda: model.fit(X, y))


def time_torch(X, y, batch_size: int, seed: int, threads: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, N_HIDDEN),
        torch.nn.Sigmoid(),
        torch.nn.Linear(N_HIDDEN, N_CLASSES),
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=ETA)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def epoch() -> None:
        order = torch.randperm(len(Xt))
        for start in range(0, len(Xt), batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(Xt[index]), yt[index]).backward()
            optimizer.step()

    return _timed(epoch)


def gemm_floor_numpy(X, batch_size: int) -> float:
    """One epoch of only the hidden layer's two GEMMs (forward, weight gradient), as
    hpsearch's training runs them: into preallocated buffers, its BLAS threads."""
    rng = np.random.default_rng(0)
    weights = rng.normal(0, N_FEATURES**-0.5, (N_FEATURES, N_HIDDEN)).astype(np.float32)
    delta = rng.random((batch_size, N_HIDDEN), dtype=np.float32)
    z, grad = np.empty_like(delta), np.empty_like(weights)
    stop = len(X) - batch_size + 1

    def epoch() -> None:
        for start in range(0, stop, batch_size):
            rows = X[start : start + batch_size]
            np.matmul(rows, weights, out=z)
            np.matmul(rows.T, delta, out=grad)

    with blas_threads_for(batch_size):
        return min(_timed(epoch) for _ in range(3))


def gather_floor(X, batch_size: int) -> float:
    """One epoch of only the shuffle: gathering the permuted rows, batch by batch."""
    order = np.random.default_rng(0).permutation(len(X))
    out = np.empty((batch_size, X.shape[1]), X.dtype)
    stop = len(X) - batch_size + 1

    def epoch() -> None:
        for start in range(0, stop, batch_size):
            np.take(X, order[start : start + batch_size], axis=0, out=out, mode="clip")

    return min(_timed(epoch) for _ in range(3))


def gemm_floor_torch(X, batch_size: int, threads: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    Xt = torch.from_numpy(X)
    weights, delta = torch.rand(N_FEATURES, N_HIDDEN), torch.rand(batch_size, N_HIDDEN)
    z, grad = torch.empty(batch_size, N_HIDDEN), torch.empty(N_FEATURES, N_HIDDEN)
    stop = len(X) - batch_size + 1

    def epoch() -> None:
        for start in range(0, stop, batch_size):
            rows = Xt[start : start + batch_size]
            torch.mm(rows, weights, out=z)
            torch.mm(rows.t(), delta, out=grad)

    return min(_timed(epoch) for _ in range(3))


def peak_training_memory(X, y) -> tuple[float, float]:
    """(peak bytes traced during a 3-epoch run incl. the data, training data bytes)."""
    network = Network([N_FEATURES, N_HIDDEN, N_CLASSES], loss="log_likelihood", seed=0)
    validation = (X[:10_000], y[:10_000])
    tracemalloc.start()
    tracemalloc.reset_peak()
    train(network, (X, y), validation, epochs=3, batch_size=64, eta=ETA, patience=2, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak + X.nbytes + y.nbytes, X.nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    X, y, source = load_data()
    with threadpool_limits(args.threads):
        blas = {i["internal_api"] for i in threadpool_info() if i["user_api"] == "blas"}
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"threads {args.threads}, BLAS {','.join(sorted(blas))}; data: {source} {X.shape} float32"
        )
        print(
            f"float32 GEMM (2000x2000): {gemm_gflops():.0f} GFLOP/s; "
            f"work per epoch: {flops_per_epoch(len(X)) / 1e9:.1f} GFLOP"
        )
        print(
            f"{'batch':>5}  {'hpsearch':>9}  {'sklearn':>9}  {'pytorch':>9}  "
            f"{'hp/torch':>8}  {'hp/sk':>6}  {'hp GFLOP/s':>10}"
        )
        torch_epochs: dict[int, float] = {}
        for batch_size in BATCH_SIZES:
            times: dict[str, list[float]] = {"hp": [], "sk": [], "torch": []}
            for repeat in range(args.repeats):  # interleaved, so load drifts hit all alike
                times["hp"].append(time_hpsearch(X, y, batch_size, repeat))
                times["sk"].append(time_sklearn(X, y, batch_size, repeat))
                t = time_torch(X, y, batch_size, repeat, args.threads)
                if t is not None:
                    times["torch"].append(t)
            hp, sk = statistics.median(times["hp"]), statistics.median(times["sk"])
            torch_s = statistics.median(times["torch"]) if times["torch"] else float("nan")
            torch_epochs[batch_size] = torch_s
            print(
                f"{batch_size:>5}  {hp:>8.3f}s  {sk:>8.3f}s  {torch_s:>8.3f}s  "
                f"{hp / torch_s:>8.2f}  {hp / sk:>6.2f}  {flops_per_epoch(len(X)) / hp / 1e9:>10.0f}"
            )
        print(
            f"floors, s/epoch: {'batch':>5}  {'numpy GEMMs':>11}  {'torch GEMMs':>11}  "
            f"{'row gather':>10}  {'bar allows':>10}"
        )
        for batch_size in BATCH_SIZES:
            torch_gemms = gemm_floor_torch(X, batch_size, args.threads)
            allowed = BARS[batch_size] * torch_epochs[batch_size]
            print(
                f"{'':16}{batch_size:>5}  {gemm_floor_numpy(X, batch_size):>10.3f}s  "
                f"{torch_gemms if torch_gemms is not None else float('nan'):>10.3f}s  "
                f"{gather_floor(X, batch_size):>9.3f}s  {allowed:>9.3f}s"
            )
        peak, data_bytes = peak_training_memory(X, y)
        print(
            f"peak memory, 3-epoch training run on {len(X)} examples: {peak / 2**20:.0f} MiB "
            f"= {peak / data_bytes:.2f} x the float32 training data ({data_bytes / 2**20:.0f} MiB)"
        )


if __name__ == "__main__":
    main()

"""Load times of Fashion-MNIST: first (cold: empty cache) and second (decoded cache).

Run: ``python benchmarks/data_load.py [NAME] [--standardize]``. The cache is a
fresh temporary folder, so the first load finds or downloads the IDX files,
decodes and caches them; the second reads the cached arrays. Also times the
augmentation of the whole training set.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from hpsearch.data import Augmentation, load, load_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="fashion-mnist")
    parser.add_argument("--standardize", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpsearch-bench-cache-") as cache_dir:
        options = {"cache_dir": cache_dir, "standardize": args.standardize}
        options = {key: value for key, value in options.items() if key in load_options(args.name)}
        started = time.perf_counter()
        first = load(args.name, **options)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        second = load(args.name, **options)
        warm = time.perf_counter() - started
        assert np.array_equal(first.y_train, second.y_train)
        print(
            f"{args.name}: {len(first.y_train)} train + {len(first.y_test)} test, "
            f"source: {first.provenance['source']}"
        )
        print(f"first load (cold, empty cache {cache_dir}): {cold:.3f} s")
        print(f"second load (decoded cache): {warm:.3f} s")
        if first.image_shape is not None:
            augment = Augmentation(first.image_shape, rotation=10.0, shift=2)
            started = time.perf_counter()
            augment(second.X_train, np.random.default_rng(0))
            elapsed = time.perf_counter() - started
            print(
                f"augmentation (rotation=10, shift=2) of {len(second.y_train)} images: "
                f"{elapsed:.3f} s ({len(second.y_train) / elapsed:,.0f} images/s)"
            )


if __name__ == "__main__":
    main()

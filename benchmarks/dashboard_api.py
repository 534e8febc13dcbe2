"""Seconds the dashboard's study-page API takes on a 5,000-trial study.

Builds the study in a temporary SQLite file (5,000 trials, ~20-epoch histories with
per-layer gradient norms, as the objective stores them; bulk-inserted in a few
seconds), then times, in-process through Flask's test client:

- ``GET /api/studies`` (the studies list),
- ``GET /api/studies/<name>`` cold (first request of a fresh app) and warm (finished
  trials cached in memory), the one the study page needs before it draws,
- ``GET /api/studies/<name>/curves`` for 5 trials, ``GET .../trials/<n>``,
- ``GET /api/studies/<name>/importances`` cold and cached (fetched after the page drew).

    python benchmarks/dashboard_api.py [--trials 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "dashboard"))
from dashboard_fakes import add_study

from hpsearch.dashboard import create_app

NAME = "big"


def timed(client, path: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (path, response.status_code)
    return elapsed, len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        start = time.perf_counter()
        add_study(url, NAME, n_trials=args.trials, running=4, bulk=True)
        size = Path(tmp, "bench.db").stat().st_size / 1e6
        print(
            f"created {args.trials} trials + 4 running in {time.perf_counter() - start:.1f} s "
            f"({size:.0f} MB SQLite)"
        )
        colds, warms, sizes = [], [], 0
        for _ in range(args.repeats):
            client = create_app(url).test_client()  # a fresh app: nothing cached
            cold, sizes = timed(client, f"/api/studies/{NAME}")
            colds.append(cold)
            warms.append(timed(client, f"/api/studies/{NAME}")[0])
        rows = [
            ("GET /api/studies", timed(client, "/api/studies")[0]),
            (f"GET /api/studies/{NAME}  cold (median of {args.repeats})", statistics.median(colds)),
            (f"GET /api/studies/{NAME}  warm (median of {args.repeats})", statistics.median(warms)),
            (
                "GET .../curves?trials=0,1,2,3,4",
                timed(client, f"/api/studies/{NAME}/curves?trials=0,1,2,3,4")[0],
            ),
            (
                "GET .../trials/4999",
                timed(client, f"/api/studies/{NAME}/trials/{args.trials - 1}")[0],
            ),
            ("GET .../importances  cold", timed(client, f"/api/studies/{NAME}/importances")[0]),
            ("GET .../importances  cached", timed(client, f"/api/studies/{NAME}/importances")[0]),
        ]
        for label, seconds in rows:
            print(f"{label:<52} {seconds * 1000:8.0f} ms")
        print(
            f"study page API: {args.trials} trials, cold {statistics.median(colds):.3f} s, "
            f"warm {statistics.median(warms):.3f} s, {sizes / 1e6:.1f} MB JSON"
        )


if __name__ == "__main__":
    main()

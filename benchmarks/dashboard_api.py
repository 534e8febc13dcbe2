"""Seconds the dashboard's study-page API takes on a 100,000-trial study, and its memory.

Builds the study in an SQLite file (100,000 finished trials with ~20-epoch curves and
per-layer gradient norms, as the objective stores them, plus 4 running; bulk-inserted
with NumPy and executemany by ``tests/dashboard/big_fakes.py``, ~1 min), then times, in
process through Flask's test client with ``Accept-Encoding: gzip`` as a browser sends:

- ``GET /api/studies`` (the studies list: counted in SQL, no trial read) on a fresh app,
- ``GET /api/studies/<name>`` cold: the first request of a fresh app, which for a study
  of 20,000 trials or more answers the summary (counted in SQL; ``"partial": true``)
  while the trials are read in the background (``hpsearch.dashboard.warmup``), then
  the time until the full answer (the background read and the next poll); and warm
  (finished trials cached and already encoded),
- ``GET /api/studies/<name>/curves`` for 5 trials, ``GET .../trials/<n>``,
- ``GET /api/studies/<name>/importances`` cold and cached (fetched after the page drew),

each in wall and CPU seconds (``time.process_time``: this process's CPU, SQLite's
included, on all threads; steadier than the wall clock on a shared machine), and the
dashboard process's memory (peak and current resident set) after them.

    python benchmarks/dashboard_api.py [--trials 100000] [--repeats 3] [--db PATH]

``--db PATH`` keeps the built database there and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "dashboard"))
from big_fakes import big_study

from hpsearch.dashboard import create_app

NAME = "big"
GZIP = {"Accept-Encoding": "gzip, deflate"}


def timed(client, path: str) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    """Wall seconds, CPU seconds (this process: the app and SQLite's work, on every
    thread), bytes sent and bytes after decompression for one GET."""
    start, cpu = time.perf_counter(), time.process_time()
    response = client.get(path, headers=GZIP)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert response.status_code == 200, (path, response.status_code)
    body = response.data
    plain = gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body
    return elapsed, cpu, len(body), len(plain)


def rss_mb() -> tuple[float, float]:
    """(peak, current) resident set of this process in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current = peak
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return peak, current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", type=Path, default=None, help="keep/reuse the database here")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp, "bench.db")
        url = f"sqlite:///{path}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            big_study(url, NAME, n_trials=args.trials, running=4)
            print(
                f"created {args.trials} trials + 4 running in {time.perf_counter() - start:.1f} s"
            )
        print(f"database {path.stat().st_size / 1e6:.0f} MB SQLite; load average {os.getloadavg()}")
        before = rss_mb()[1]
        lists, firsts, colds, warms = [], [], [], []
        for _ in range(args.repeats):
            app = create_app(url)  # a fresh app: nothing cached
            client = app.test_client()
            lists.append(timed(client, "/api/studies")[:2])  # cold too: it reads no trial
            start, cpu = time.perf_counter(), time.process_time()
            firsts.append(timed(client, f"/api/studies/{NAME}")[:2])  # the summary (partial)
            app.extensions["hpsearch_warmup"].join()  # the trials, read in the background
            _, _, sent, plain = timed(client, f"/api/studies/{NAME}")  # the full answer
            colds.append((time.perf_counter() - start, time.process_time() - cpu))
            warms.append(min(timed(client, f"/api/studies/{NAME}")[:2] for _ in range(3)))
        med = lambda pairs: tuple(statistics.median(p[i] for p in pairs) for i in (0, 1))  # noqa: E731
        rows = [
            (f"GET /api/studies  cold app (median of {args.repeats})", med(lists)),
            (f"GET /api/studies/{NAME}  cold: first data (summary)", med(firsts)),
            (f"GET /api/studies/{NAME}  cold: until all trials (median)", med(colds)),
            (f"GET /api/studies/{NAME}  warm (median of {args.repeats})", med(warms)),
            (
                "GET .../curves?trials=0,1,2,3,4",
                timed(client, f"/api/studies/{NAME}/curves?trials=0,1,2,3,4")[:2],
            ),
            (
                f"GET .../trials/{args.trials - 1}",
                timed(client, f"/api/studies/{NAME}/trials/{args.trials - 1}")[:2],
            ),
            ("GET .../importances  cold", timed(client, f"/api/studies/{NAME}/importances")[:2]),
            ("GET .../importances  cached", timed(client, f"/api/studies/{NAME}/importances")[:2]),
        ]
        print(f"{'':<52} {'wall':>8}    {'CPU':>8}")
        for label, (wall, cpu) in rows:
            print(f"{label:<52} {wall * 1000:8.0f} ms {cpu * 1000:8.0f} ms")
        peak, current = rss_mb()
        (first, first_cpu), (cold, cold_cpu), (warm, warm_cpu) = med(firsts), med(colds), med(warms)
        print(
            f"study page API: {args.trials} trials, cold first data {first:.3f} s "
            f"(CPU {first_cpu:.3f} s), cold until all trials {cold:.3f} s (CPU {cold_cpu:.3f} s), "
            f"warm {warm:.3f} s (CPU {warm_cpu:.3f} s), {sent / 1e6:.1f} MB gzip "
            f"({plain / 1e6:.1f} MB JSON); load average now {os.getloadavg()[0]:.2f} "
            f"on {os.cpu_count()} CPUs"
        )
        print(
            f"dashboard process memory: {current:.0f} MB resident now, {peak:.0f} MB peak "
            f"({before:.0f} MB before the first app; {args.repeats} apps were created)"
        )


if __name__ == "__main__":
    main()

"""Benchmark: the full-scale workforce against one Faker `name()` call per row.

What it measures, side by side in one run:
  * `build_workforce(scale)` wall time and peak RSS, each repeat in a fresh Python
    process (so the peak includes imports and nothing left over from earlier repeats);
    Parquet writing is timed separately;
  * the naive approach: `Faker().name()` once per row, timed on a sample and
    extrapolated to the same row count;
  * names alone: numpy sampling of Faker's weighted tables (`sample_names`) for all rows.

Prints medians over the repeats and the ratios naive / ours. Targets (issue 3): full
scale (2.3M rows) in <= 5 s wall with peak RSS <= 1.5 GB, ratio >= 100x.

    python benchmarks/bench_workforce.py [--scale 1.0] [--repeats 3] [--sample 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
from simulator.workforce import build_workforce, load_tables, write_workforce
scale = float(sys.argv[1])
tables = load_tables()
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
table = build_workforce(scale, 1, tables)
t1 = time.perf_counter()
rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with tempfile.TemporaryDirectory() as d:
    t2 = time.perf_counter()
    write_workforce(table, Path(d) / "wf.parquet")
    t3 = time.perf_counter()
print(json.dumps({"rows": table.num_rows, "generate_s": t1 - t0, "write_s": t3 - t2,
                  "rss_before_mb": rss_before, "rss_peak_mb": rss_peak}))
"""


def run_child(scale: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(scale)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def faker_rate(sample: int) -> float:
    """Rows per second of one `Faker().name()` call per row."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(1)
    t0 = time.perf_counter()
    for _ in range(sample):
        fake.name()
    return sample / (time.perf_counter() - t0)


def names_seconds(rows: int) -> float:
    import numpy as np

    from simulator.workforce.names import faker_tables, sample_names

    faker_tables()  # load the tables outside the timing, as the generator does once
    t0 = time.perf_counter()
    sample_names(np.random.default_rng(1), rows)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20_000, help="Faker rows timed per repeat")
    args = parser.parse_args()

    runs, rates, names = [], [], []
    for i in range(args.repeats):
        runs.append(run_child(args.scale))
        rates.append(faker_rate(args.sample))
        names.append(names_seconds(int(runs[-1]["rows"])))
        r = runs[-1]
        print(
            f"repeat {i + 1}: generate {r['generate_s']:.2f} s, write {r['write_s']:.2f} s, "
            f"peak RSS {r['rss_peak_mb']:.0f} MB; Faker {rates[-1]:,.0f} names/s; "
            f"numpy names {names[-1]:.2f} s"
        )
    rows = int(runs[0]["rows"])
    generate = statistics.median(r["generate_s"] for r in runs)
    write = statistics.median(r["write_s"] for r in runs)
    peak = statistics.median(r["rss_peak_mb"] for r in runs)
    before = statistics.median(r["rss_before_mb"] for r in runs)
    naive = rows / statistics.median(rates)
    print(f"\nrows: {rows:,} (scale {args.scale}), medians of {args.repeats} repeats")
    print(f"build_workforce:     {generate:.2f} s wall   (target <= 5 s at scale 1)")
    print(f"write Parquet:       {write:.2f} s")
    print(f"peak RSS:            {peak:.0f} MB (after imports {before:.0f} MB; target <= 1536)")
    print(f"naive Faker name():  {naive:.1f} s extrapolated from {args.sample:,} rows")
    print(f"numpy names only:    {statistics.median(names):.2f} s")
    print(f"ratio naive / build_workforce (all columns): {naive / generate:.0f}x (target >= 100x)")
    print(f"ratio naive / numpy names (names only):      {naive / statistics.median(names):.0f}x")


if __name__ == "__main__":
    main()

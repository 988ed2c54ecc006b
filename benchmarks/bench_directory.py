"""Benchmark: the collection systems' workforce directory, dict against columns.

What it measures, side by side in one run: the same workforce Parquet loaded as the
dict directory (`Directory`, one Python string per address: the peer) and as the column
directory (`ColumnDirectory`, what a file above `DICT_UP_TO` people gets), each in a
process of its own, `--repeats` times in alternation. For each: the load time, the
process's peak RSS (ru_maxrss of that process alone), and the time per lookup of
`department()` for random known addresses (the mail server's case: senders and managers
spread over the whole file) and for unknown ones. Medians are printed with the
column/dict ratios.

    python benchmarks/bench_directory.py --scale 10 [--workforce wf.parquet] [--repeats 3]

Without `--workforce` it builds one with `pulsecheck workforce --scale S` in a temporary
directory first (11 s and 2 GB at scale 10).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOOKUPS = 50_000

ONE = """
import json, resource, sys, time
import numpy as np, pyarrow.parquet as pq
from simulator.collect.directory import ColumnDirectory, Directory
from simulator.tables import read_stage
kind, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
if kind == "columns":
    d = ColumnDirectory(read_stage(__import__("pathlib").Path(path), "workforce",
                                   ["email", "department"]))
else:
    table = pq.read_table(path, columns=["email", "department"])
    d = Directory(zip(table.column("email").to_pylist(),
                      table.column("department").cast("string").to_pylist()))
    del table
load = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
emails = pq.read_table(path, columns=["email"]).column("email")
known = emails.take(np.random.default_rng(7).integers(0, len(emails), n)).to_pylist()
unknown = [f"nobody.{i}@nowhere.example" for i in range(n)]
out = {"kind": kind, "rows": len(d), "load_s": load, "rss": rss}
for label, batch in (("known_us", known), ("unknown_us", unknown)):
    start = time.perf_counter()
    found = sum(d.department(e) is not None for e in batch)
    out[label] = (time.perf_counter() - start) / n * 1e6
    assert found == (n if label == "known_us" else 0), (label, found)
print(json.dumps(out))
"""


def measure(kind: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", ONE, kind, str(path), str(LOOKUPS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--workforce", type=Path, help="an existing workforce Parquet")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-directory-") as tmp:
        path = args.workforce
        if path is None:
            path = Path(tmp) / "workforce.parquet"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "simulator",
                    "workforce",
                    "--scale",
                    str(args.scale),
                    "--out",
                    str(path),
                ],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        runs: dict[str, list[dict[str, float]]] = {"dict": [], "columns": []}
        for k in range(args.repeats):
            for kind in runs:
                got = measure(kind, path)
                runs[kind].append(got)
                print(
                    f"round {k + 1} {kind:<7} {int(got['rows']):,} addresses: load "
                    f"{got['load_s']:.1f} s, RSS {got['rss'] / 1e9:.2f} GB, "
                    f"known {got['known_us']:.2f} us, unknown {got['unknown_us']:.2f} us",
                    flush=True,
                )
    med = {
        kind: {f: statistics.median(r[f] for r in rs) for f in rs[0]} for kind, rs in runs.items()
    }
    print(f"\nmedians of {args.repeats} ({int(med['dict']['rows']):,} addresses):")
    for kind, m in med.items():
        print(
            f"  {kind:<7} load {m['load_s']:5.1f} s  RSS {m['rss'] / 1e9:5.2f} GB  "
            f"known {m['known_us']:5.2f} us  unknown {m['unknown_us']:5.2f} us"
        )
    d, c = med["dict"], med["columns"]
    print(
        f"columns / dict: memory {c['rss'] / d['rss']:.2f}x, load {c['load_s'] / d['load_s']:.2f}x,"
        f"\n  known lookup {c['known_us'] / d['known_us']:.1f}x, "
        f"unknown {c['unknown_us'] / d['unknown_us']:.1f}x"
    )


if __name__ == "__main__":
    main()

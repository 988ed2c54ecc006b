"""Start-up time of the `pulsecheck` command, beside bare Python and `import numpy`.

Goal: `pulsecheck --version` and `pulsecheck --help` in at most 0.3 s on the project's
2-core machine, so neither may import numpy, pyarrow, rich, aiohttp or matplotlib. Each
command runs in a fresh interpreter (subprocess, output discarded), once untimed to warm
the file cache and then `--repeat` times; the table gives the median and the fastest run
and the ratio of the median to `python -c pass` and to `python -c "import numpy"`, the
two peers measured in the same run. The commands run as `python -m simulator ...` (the
entry point without the console-script wrapper) from this checkout; with `--script`
the `pulsecheck` script found on PATH is timed too. Exit 1 when a goal is missed.

    python benchmarks/bench_startup.py [--repeat 7] [--script]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.cli import STAGES  # noqa: E402  (light: the table only)

GOAL_S = 0.3
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def seconds(argv: list[str], repeat: int) -> list[float]:
    """Wall time of `repeat` runs of argv after one warm-up run."""
    times = []
    for i in range(repeat + 1):
        started = time.perf_counter()
        subprocess.run(
            argv,
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        if i:
            times.append(time.perf_counter() - started)
    return times


def cases(script: str | None) -> list[tuple[str, list[str], bool]]:
    """(label, argv, held to the goal)."""
    py, cli = sys.executable, [sys.executable, "-m", "simulator"]
    rows = [
        ('python -c "pass"', [py, "-c", "pass"], False),
        ('python -c "import numpy"', [py, "-c", "import numpy"], False),
        ("pulsecheck --version", [*cli, "--version"], True),
        ("pulsecheck --help", [*cli, "--help"], True),
    ]
    if script:
        rows += [
            ("pulsecheck --version (script)", [script, "--version"], True),
            ("pulsecheck --help (script)", [script, "--help"], True),
        ]
    rows += [(f"pulsecheck {c} --help", [*cli, c, "--help"], False) for c in STAGES]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per command")
    parser.add_argument("--script", action="store_true", help="also time `pulsecheck` on PATH")
    args = parser.parse_args()
    if not 1 <= args.repeat <= 100:
        parser.error(f"--repeat = {args.repeat}: must be 1..100")
    script = shutil.which("pulsecheck") if args.script else None
    if args.script and script is None:
        parser.error("--script: no `pulsecheck` on PATH")
    print(f"{sys.executable}, median of {args.repeat} warm runs each, goal <= {GOAL_S} s")
    results = [(label, seconds(argv, args.repeat), goal) for label, argv, goal in cases(script)]
    bare = statistics.median(results[0][1])
    numpy = statistics.median(results[1][1])
    print(f"{'command':34s} {'median s':>9s} {'min s':>7s} {'x pass':>7s} {'x numpy':>8s}  goal")
    missed = 0
    for label, times, goal in results:
        med = statistics.median(times)
        verdict = ("ok" if med <= GOAL_S else "MISSED") if goal else ""
        missed += verdict == "MISSED"
        ratios = f"{med / bare:7.1f} {med / numpy:8.2f}"
        print(f"{label:34s} {med:9.3f} {min(times):7.3f} {ratios}  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

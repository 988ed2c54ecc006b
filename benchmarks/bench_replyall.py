"""Time the reply-all storm model on a 1M-recipient list against its budgets.

Budgets (issue 10): one seeded run <= 5 s; a band of 100 seeded runs <= 60 s. There is
no external peer for this model, so the script prints the medians against the budgets
and the cost per run. Usage: python benchmarks/bench_replyall.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from simulator.replyall.params import load_replyall
from simulator.replyall.process import simulate
from simulator.replyall.summary import summarize

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "replyall-1m.toml"
BUDGET_ONE_S, BUDGET_BAND_S = 5.0, 60.0


def _time(runs: int, seed: int) -> float:
    sc = load_replyall(SCENARIO)
    t0 = time.perf_counter()
    summarize(simulate(sc, runs, seed))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    sc = load_replyall(SCENARIO)
    print(
        f"list {sc.list_size:,} recipients, {sc.horizon_h:g} h at {sc.step_s} s steps "
        f"({sc.n_steps:,} steps), defences on: {sc.defences.enabled_names()}"
    )
    one = [_time(1, seed) for seed in range(repeat)]
    band = [_time(100, seed) for seed in range(repeat)]
    m1, m100 = statistics.median(one), statistics.median(band)
    print(
        f"one run:       median {m1:6.2f} s  (budget {BUDGET_ONE_S:g} s, "
        f"{m1 / BUDGET_ONE_S:.0%} of it)  runs: {[round(x, 2) for x in one]}"
    )
    print(
        f"band 100 runs: median {m100:6.2f} s  (budget {BUDGET_BAND_S:g} s, "
        f"{m100 / BUDGET_BAND_S:.0%} of it)  runs: {[round(x, 2) for x in band]}"
    )
    print(
        f"per run in a band: {m100 / 100 * 1000:.1f} ms; vectorised batch is "
        f"{m1 * 100 / m100:.0f}x cheaper per run than 100 single runs"
    )


if __name__ == "__main__":
    main()

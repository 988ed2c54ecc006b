"""Monte Carlo cost: 100k draws with whole-column numpy against a per-draw Python loop.

Goal (issue 8): 100k draws of every cost assumption, every term, P10/P50/P90 of each term
and of the total, in at most 1 s. The peer is the obvious hand-written version: for each
draw, sample every assumption with `random.betavariate` (the same PERT distribution) and
add the terms with Python floats. Both run side by side on the same counts (a round-1
sized round: 2.3M recipients, ~1M replies), a few times; medians and the ratio are
printed.

    python benchmarks/bench_cost.py [--draws 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

import numpy as np

from simulator.cost.counts import RoundCounts
from simulator.cost.montecarlo import estimate
from simulator.cost.terms import ASSUMPTIONS
from simulator.parameters import cost_specs
from simulator.validation import Range

# Round-1 sized counts (about 2.3M recipients, 45% replying, ~$61/h median loaded cost).
ROUND1 = RoundCounts(
    recipients=2_313_216,
    replies=1_036_700,
    inbound_messages=1_040_000,
    stored_bytes=7.6e9,
    writer_hourly_sum=1_036_700 * 66.0,
    silent=1_100_000,
    silent_hourly_sum=1_100_000 * 64.0,
    cc_replies=1_030_000,
    cc_hourly_sum=1_030_000 * 78.0,
    peak_per_s=730.0,
)


def pert(rng: random.Random, r: Range) -> float:
    span = r.high - r.low
    if span <= 0:
        return r.low
    a = 1 + 4 * (r.likely - r.low) / span
    b = 1 + 4 * (r.high - r.likely) / span
    return r.low + span * rng.betavariate(a, b)


def naive(counts: RoundCounts, ranges: dict[str, Range], n: int, seed: int) -> list[float]:
    """The peer: one draw at a time, Python floats, then sort for percentiles."""
    rng = random.Random(seed)
    c = counts
    totals, terms = [], {k: [] for k in range(7)}  # type: ignore[var-annotated]
    for _ in range(n):
        d = {name: pert(rng, ranges[name]) for name in ASSUMPTIONS}
        share = d["review_model_share"]
        human = d["review_human_minutes"] / 60 * d["reviewer_hourly_cost"]
        cores = math.ceil(c.peak_per_s * d["infra_headroom"] / d["capacity_acks_per_core_s"])
        values = (
            c.recipients / 1000 * d["send_price_per_1000"]
            + c.inbound_messages / 1000 * d["inbound_price_per_1000"],
            c.stored_bytes / 1e9 * d["storage_price_per_gb"],
            c.writer_hourly_sum * d["minutes_per_reply"] / 60,
            c.silent_hourly_sum * d["minutes_deciding_not_to_reply"] / 60,
            c.cc_hourly_sum * d["manager_minutes_per_cc"] / 60,
            c.replies * (share * d["review_model_cost_per_reply"] + (1 - share) * human),
            cores * d["infra_core_hour"] * d["infra_hours"],
        )
        for k, v in enumerate(values):
            terms[k].append(v)
        totals.append(sum(values))
    out = []
    for series in [*terms.values(), totals]:
        s = sorted(series)
        out += [s[int(0.1 * n)], s[int(0.5 * n)], s[int(0.9 * n)]]
    return out


def timed(fn: object, *args: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args)  # type: ignore[operator]
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ranges = {n: s.default for n, s in cost_specs().items()}
    ours, peer = [], []
    for i in range(args.repeat):
        t, est = timed(estimate, {"r1": ROUND1}, {"r1": 1}, ranges, args.draws, i)
        ours.append(t)
        t, naive_pct = timed(naive, ROUND1, ranges, args.draws, i)
        peer.append(t)
    total = est.rounds["r1"]["total"]  # type: ignore[attr-defined]
    print(f"draws: {args.draws:,}, repeats: {args.repeat} (side by side, same counts)")
    print(
        f"numpy estimate (terms + P10/P50/P90 + envelope): median {statistics.median(ours):.3f} s "
        f"(runs: {', '.join(f'{x:.3f}' for x in ours)})"
    )
    print(
        f"per-draw Python loop (peer):                     median {statistics.median(peer):.3f} s "
        f"(runs: {', '.join(f'{x:.3f}' for x in peer)})"
    )
    print(f"ratio peer / numpy: {statistics.median(peer) / statistics.median(ours):.1f}x")
    verdict = "met" if statistics.median(ours) <= 1 else "NOT met"
    print(f"goal <= 1 s for {args.draws:,} draws: {verdict}")
    p = naive_pct[-3:]  # type: ignore[index]
    print(
        f"total P10/P50/P90: numpy ${total.p10:,.0f} / ${total.p50:,.0f} / ${total.p90:,.0f}; "
        f"loop ${p[0]:,.0f} / ${p[1]:,.0f} / ${p[2]:,.0f} (different random streams)"
    )
    assert np.isfinite(total.p50)


if __name__ == "__main__":
    main()

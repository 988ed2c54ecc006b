"""Monte Carlo percentiles are ordered, inside the deterministic envelope, and add up
over a year as the rounds' cadence says."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.cost.counts import counts_by_round
from simulator.cost.montecarlo import bounds, corners, estimate
from simulator.cost.terms import ASSUMPTIONS, evaluate
from simulator.parameters import cost_specs
from tests.cost import tables

RANGES = {n: s.default for n, s in cost_specs().items()}


def test_percentiles_are_ordered_and_inside_the_envelope() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule())
    est = estimate(counts, {"r1": 1}, RANGES, draws=20_000, seed=5)
    low, high = est.envelope["r1"]
    for pct in est.rounds["r1"].values():
        assert pct.p10 <= pct.p50 <= pct.p90
    total = est.rounds["r1"]["total"]
    assert low <= total.p10 and total.p90 <= high
    assert low < high


def test_envelope_holds_every_random_draw() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule())["r1"]
    low, high = bounds(counts, RANGES)
    rng = np.random.default_rng(9)
    # uniform draws over the whole box, not only near the likely values
    draws = {n: rng.uniform(RANGES[n].low, RANGES[n].high, 5000) for n in ASSUMPTIONS}
    total = evaluate(draws, counts)["total"]
    assert low - 1e-9 <= total.min() and total.max() <= high + 1e-9


def test_corners_cover_every_combination() -> None:
    c = corners(RANGES, ("minutes_per_reply", "review_model_share"))
    assert sorted(zip(c["minutes_per_reply"], c["review_model_share"], strict=True)) == [
        (1.5, 0.0),
        (1.5, 1.0),
        (30.0, 0.0),
        (30.0, 1.0),
    ]


def test_year_weights_each_round_by_its_rounds_per_year() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule(("r1", "r2")))
    est = estimate(counts, {"r1": 1, "r2": 24}, RANGES, draws=10_000, seed=1)
    # the two rounds are identical and share draws, so the year is 25 times one round
    for name, pct in est.year.items():
        assert pct.p50 == pytest.approx(25 * est.rounds["r1"][name].p50, rel=1e-9)


def test_likely_case_is_reported_per_round() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule())
    est = estimate(counts, {"r1": 1}, RANGES, draws=1000)
    # writing at the likely 10 minutes: writers' hourly sum 190 x 10 / 60
    assert est.likely["r1"]["writing"] == pytest.approx(190 * 10 / 60)


def test_no_rounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        estimate({}, {}, RANGES)

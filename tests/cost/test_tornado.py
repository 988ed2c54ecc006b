"""Tornado swings are sorted and each equals a hand-computed change of the total."""

from __future__ import annotations

import pytest

from simulator.cost.counts import counts_by_round
from simulator.cost.terms import ASSUMPTIONS
from simulator.cost.tornado import tornado
from simulator.parameters import cost_specs
from tests.cost import tables

RANGES = {n: s.default for n, s in cost_specs().items()}


def test_swings_are_sorted_largest_first_and_cover_every_assumption() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule())
    swings = tornado(counts, RANGES)
    sizes = [s.swing for s in swings]
    assert sizes == sorted(sizes, reverse=True)
    assert sorted(s.name for s in swings) == sorted(ASSUMPTIONS)


def test_minutes_per_reply_swing_is_its_range_times_the_writers_cost() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule())
    swing = next(s for s in tornado(counts, RANGES) if s.name == "minutes_per_reply")
    # writers' hourly sum 190; minutes from 1.5 to 30
    assert swing.swing == pytest.approx(190 * (30 - 1.5) / 60)
    assert swing.total_at_low < swing.base < swing.total_at_high


def test_model_share_swing_can_lower_the_total() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule())
    swing = next(s for s in tornado(counts, RANGES) if s.name == "review_model_share")
    # all by model (share 1) is cheaper than all by people (share 0)
    assert swing.total_at_high < swing.total_at_low


def test_rounds_per_year_scale_the_swings() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule())
    one = {s.name: s.swing for s in tornado(counts, RANGES)}
    year = {s.name: s.swing for s in tornado(counts, RANGES, {"r1": 24})}
    assert year["minutes_per_reply"] == pytest.approx(24 * one["minutes_per_reply"])

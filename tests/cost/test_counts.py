"""The counts taken from the tiny tables match a count by hand."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.cost.counts import counts_by_round, recipient_mask
from tests.cost import tables


def test_counts_of_the_tiny_round() -> None:
    c = counts_by_round(tables.workforce(), tables.schedule())["r1"]
    assert c.recipients == 6
    assert c.replies == 3  # employees 1, 2 and 0
    assert c.inbound_messages == 5  # 3 replies, a bounce, an out-of-office reply
    assert c.stored_bytes == 2000 * 2 + 800 + 4000 * 2 + 1000 + 500  # cc copies stored too
    assert c.writer_hourly_sum == 50 + 40 + 100
    assert c.silent == 1  # employee 5; 3 is away and 4 never got it
    assert c.silent_hourly_sum == 80
    assert c.cc_replies == 2
    assert c.cc_hourly_sum == 100 + 100  # manager 0 reads two replies
    # arrivals at 0, 5, 30, 90, 100 s: the busiest minute [0, 60) holds three
    assert c.peak_per_s == pytest.approx(3 / 60)


def test_rounds_are_split_and_kept_in_order() -> None:
    counts = counts_by_round(tables.workforce(), tables.schedule(("r1", "r2")))
    assert list(counts) == ["r1", "r2"]
    assert counts["r1"] == counts["r2"]


def test_recipient_ranges_may_overlap_and_touch() -> None:
    mask = recipient_mask(8, np.array([0, 2, 5]), np.array([3, 2, 1]))
    assert mask.tolist() == [True, True, True, True, False, True, False, False]


def test_scaling_up_multiplies_counts_and_sums() -> None:
    c = counts_by_round(tables.workforce(), tables.schedule())["r1"].scaled(100)
    assert (c.recipients, c.replies, c.silent, c.cc_replies) == (600, 300, 100, 200)
    assert c.writer_hourly_sum == 19_000
    assert c.peak_per_s == pytest.approx(5.0)

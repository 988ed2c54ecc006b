"""Draws stay inside their range and centre where PERT and triangular say they do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.cost.draws import at_likely, pert_mean, sample, sample_range
from simulator.validation import Range


@given(
    st.floats(0, 1e6),
    st.floats(0, 1),
    st.floats(0, 1e6),
    st.sampled_from(["pert", "triangular"]),
)
def test_draws_stay_within_low_and_high(low: float, where: float, span: float, shape: str) -> None:
    r = Range(low=low, high=low + span, likely=low + where * span)
    x = sample_range(r, 500, np.random.default_rng(1), shape)
    assert x.min() >= r.low
    assert x.max() <= r.high


def test_pert_mean_is_the_classic_weighted_mean() -> None:
    r = Range(low=1.5, high=30.0, likely=10.0)
    x = sample_range(r, 200_000, np.random.default_rng(2))
    assert x.mean() == pytest.approx(pert_mean(r), rel=0.01)  # (1.5 + 40 + 30) / 6


def test_triangular_mean_is_the_mean_of_the_three_points() -> None:
    r = Range(low=1.5, high=30.0, likely=10.0)
    x = sample_range(r, 200_000, np.random.default_rng(3), "triangular")
    assert x.mean() == pytest.approx((1.5 + 10 + 30) / 3, rel=0.01)


def test_a_point_range_is_a_constant() -> None:
    x = sample_range(Range(0.1, 0.1, 0.1), 10, np.random.default_rng(0))
    assert x.tolist() == [0.1] * 10


def test_same_seed_same_draws_and_unknown_shape_refused() -> None:
    ranges = {"a": Range(0, 2, 1), "b": Range(5, 9, 6)}
    one = sample(ranges, 100, np.random.default_rng(7))
    two = sample(ranges, 100, np.random.default_rng(7))
    assert all(np.array_equal(one[k], two[k]) for k in ranges)
    assert at_likely(ranges)["b"].tolist() == [6]
    with pytest.raises(ValueError, match="shape"):
        sample_range(Range(0, 2, 1), 3, np.random.default_rng(0), "uniform")

"""Capacity verdict arithmetic, and mailbox limit/quota timing on hand-made arrivals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.cost.capacity import (
    MINUTE_US,
    WEEK_US,
    RunMeasure,
    limit_mask,
    mailbox_round,
    mailbox_weekly,
    measured_capacity,
    peak_count,
    peak_rate_per_s,
    plan_capacity,
)

S = 1_000_000  # microseconds per second


def seconds(*values: float) -> np.ndarray:
    return (np.array(values) * S).astype(np.int64)


# -- sizing ---------------------------------------------------------------------------
def test_peak_is_the_busiest_rolling_window() -> None:
    t = seconds(0, 10, 20, 70, 75)
    assert peak_count(t, 60 * S) == 3  # [0, 60) beats [20, 80) which also holds 3
    # windows from 50 s ([50, 110)), 55 s and 100 s each hold four; none holds five
    assert peak_rate_per_s(seconds(0, 50, 55, 100, 109, 112, 119)) == pytest.approx(4 / 60)
    assert peak_count(np.array([], np.int64), 60 * S) == 0


def test_cores_servers_and_mailboxes() -> None:
    plan = plan_capacity(
        peak_per_s=3000,
        per_core_per_s=250,
        peak_per_hour=500_000,
        year_bytes=120e9,
        headroom=1.5,
        cores_per_server=8,
    )
    assert plan.cores == 18  # 3000 x 1.5 / 250
    assert plan.servers == 3  # 18 / 8 rounded up
    assert plan.mailboxes_for_rate == 139  # 500,000 / 3,600 rounded up
    assert plan.mailboxes_for_quota == 3  # 120 GB / 50 GB rounded up
    assert plan.mailboxes == 139


def test_no_arrivals_need_nothing_and_zero_capacity_is_refused() -> None:
    plan = plan_capacity(0.0, 100.0, 0, 0.0)
    assert (plan.cores, plan.servers, plan.mailboxes) == (0, 0, 0)
    with pytest.raises(ValueError, match="per_core"):
        plan_capacity(10.0, 0.0, 10, 1.0)


def test_measured_capacity_within_and_outside_the_slo() -> None:
    good = RunMeasure(acks_per_s=1000.0, cores=2, p99_ms=800.0, lost=0, events=10_000)
    cap = measured_capacity(good, slo_p99_ms=2000.0)
    assert cap.per_core_per_s == 500.0 and cap.slo_met and cap.reasons == ()
    slow = RunMeasure(acks_per_s=1000.0, cores=2, p99_ms=2500.0, lost=3, events=10_000)
    bad = measured_capacity(slow, slo_p99_ms=2000.0)
    assert not bad.slo_met and len(bad.reasons) == 2


# -- mailbox policy -------------------------------------------------------------------
def test_receiving_limit_over_a_rolling_hour() -> None:
    # limit 10/h: 15 arrive in the first minute, 5 half an hour later, 5 an hour later
    t = np.concatenate(
        [seconds(*range(15)), seconds(*range(1800, 1805)), seconds(*range(3600, 3605))]
    )
    out = mailbox_round(t, np.full(len(t), 100, np.int64), limit_per_hour=10, quota_bytes=1e12)
    assert out.accepted == 15  # 10 in the first minute, 5 once it leaves the window
    assert out.rejected_by_limit == 10  # 5 in the first minute, 5 at half an hour
    assert out.first_limit_reject_us == 10 * S  # the 11th arrival
    assert out.quota_full_us is None


def test_quota_fills_and_everything_after_is_rejected() -> None:
    t = seconds(*range(20))
    out = mailbox_round(t, np.full(20, 100, np.int64), limit_per_hour=3600, quota_bytes=1250)
    assert out.accepted == 12  # 1,200 bytes fit; the 13th would make 1,300
    assert out.rejected_by_quota == 8
    assert out.quota_full_us == 12 * S
    assert out.accepted_bytes == 1200


def test_weekly_rounds_fill_the_quota_in_the_third_round() -> None:
    t = seconds(0, 1, 2, 3, 4)
    out = mailbox_weekly(t, np.full(5, 100, np.int64), rounds=4, quota_bytes=1250)
    assert out.quota_round == 3  # 500 bytes a round: 1,000 stored after two
    assert out.quota_round_result is not None
    assert out.quota_round_result.accepted == 2  # 1,100 and 1,200 fit
    assert out.quota_round_result.quota_full_us == 2 * S
    assert out.rejected_by_quota == 3 + 5  # rest of round 3, all of round 4
    assert out.accepted == 12


def test_weekly_rounds_that_never_fill_the_quota() -> None:
    t = seconds(0, 1, 2)
    out = mailbox_weekly(t, np.full(3, 10, np.int64), rounds=24, quota_bytes=1e9)
    assert out.quota_round is None
    assert out.accepted == 72 and out.rejected == 0


def brute_force_limit(t_sorted: np.ndarray, limit: int) -> list[bool]:
    """Accept an arrival while fewer than `limit` were accepted in its minute and the
    59 before it."""
    minutes = ((t_sorted - t_sorted[0]) // MINUTE_US).tolist()
    accepted: list[int] = []
    out = []
    for m in minutes:
        ok = sum(1 for a in accepted if m - 59 <= a <= m) < limit
        out.append(ok)
        if ok:
            accepted.append(m)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 4 * 3600), min_size=1, max_size=120),
    st.integers(1, 30),
)
def test_limit_matches_a_brute_force_rolling_window(secs: list[int], limit: int) -> None:
    t = np.sort(seconds(*secs))
    assert limit_mask(t, limit).tolist() == brute_force_limit(t, limit)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 55 * 3600), min_size=1, max_size=60),
    st.lists(st.integers(1, 500), min_size=60, max_size=60),
    st.integers(1, 8),
    st.integers(1, 20_000),
    st.integers(1, 20),
)
def test_weekly_rounds_match_one_long_series(
    secs: list[int], sizes: list[int], rounds: int, quota: int, limit: int
) -> None:
    t = seconds(*secs)
    size = np.array(sizes[: len(secs)], np.int64)
    weekly = mailbox_weekly(t, size, rounds, limit_per_hour=limit, quota_bytes=quota)
    long_t = np.concatenate([t + k * WEEK_US for k in range(rounds)])
    whole = mailbox_round(long_t, np.tile(size, rounds), limit, quota)
    assert (weekly.accepted, weekly.rejected_by_limit, weekly.rejected_by_quota) == (
        whole.accepted,
        whole.rejected_by_limit,
        whole.rejected_by_quota,
    )

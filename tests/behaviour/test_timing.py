"""The delay model: its shape before gating, local-time gating, and the deadline pull."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from simulator.behaviour.params import Timing
from simulator.behaviour.timing import (
    Grid,
    local_activity,
    profile,
    reply_minutes,
    sample_delays,
)

TIMING = Timing.from_behaviour()
ET = ZoneInfo("America/New_York")


def test_delay_mode_and_median_match_kooti() -> None:
    delays = sample_delays(np.random.default_rng(1), 1_000_000, TIMING)
    counts, edges = np.histogram(delays, bins=np.arange(0.0, 30.0, 0.25))
    mode = edges[np.argmax(counts)] + 0.125
    assert 1.5 <= mode <= 2.75  # Kooti et al.: most common delay about 2 minutes
    assert 42 <= np.median(delays) <= 52  # half within about 47 minutes
    assert 0.86 <= np.mean(delays <= 1440) <= 0.94  # about 90% within a day


def test_delays_are_a_two_lognormal_mixture() -> None:
    only_fast = dataclasses.replace(TIMING, fast_weight=1.0)
    delays = sample_delays(np.random.default_rng(2), 200_000, only_fast)
    logs = np.log(delays)
    assert abs(np.median(delays) - TIMING.fast_median_min) < 0.1
    assert abs(logs.std() - TIMING.fast_sigma) < 0.01


def _replies(
    zone: str, start: dt.datetime, days: float, timing: Timing, n: int = 50_000
) -> np.ndarray:
    minutes = int(days * 1440)
    grid = Grid.build(start, minutes + 1, [zone], timing)
    rng = np.random.default_rng(3)
    delays = sample_delays(rng, n, timing)
    readers = np.ones(n, dtype=np.bool_)
    t = reply_minutes(
        grid,
        profile(np.zeros(n, dtype=np.int64), readers),
        np.zeros(n),
        np.full(n, float(minutes)),
        delays,
        timing,
    )
    return t[~np.isnan(t)]


def test_pacific_replies_come_three_hours_later_than_eastern() -> None:
    # Sent Tuesday 03:00 ET (00:00 PT): both zones are asleep and start their day at
    # 07:00 local, so Pacific replies are the Eastern ones shifted by the 3 h offset.
    start = dt.datetime(2025, 3, 18, 3, 0, tzinfo=ET)
    no_pull = dataclasses.replace(TIMING, deadline_pull=0.0, night_factor=0.0)
    east = _replies("America/New_York", start, 2.0, no_pull)
    west = _replies("America/Los_Angeles", start, 2.0, no_pull)
    assert abs((np.median(west) - np.median(east)) / 60.0 - 3.0) < 0.05
    east_local_hour = ((east / 60.0) + 3.0) % 24  # ET hour: sent at 03:00
    west_local_hour = (west / 60.0) % 24  # PT hour: sent at 00:00
    assert abs(np.median(east_local_hour) - np.median(west_local_hour)) < 0.1
    assert east_local_hour.min() >= TIMING.active_start_hour


def test_no_reply_outside_active_hours_when_night_is_silent() -> None:
    start = dt.datetime(2025, 3, 18, 9, 0, tzinfo=ET)
    silent = dataclasses.replace(TIMING, night_factor=0.0)
    t = _replies("America/New_York", start, 1.5, silent)
    local_hour = (9.0 + t / 60.0) % 24
    assert np.all((local_hour >= 7) & (local_hour < 22 + 1e-6))


def test_weekend_activity_is_lower() -> None:
    saturday = dt.datetime(2025, 2, 22, 12, 0, tzinfo=ET)
    monday = dt.datetime(2025, 2, 24, 12, 0, tzinfo=ET)
    sat = local_activity("America/New_York", saturday, 60, TIMING)
    mon = local_activity("America/New_York", monday, 60, TIMING)
    assert np.allclose(sat, TIMING.weekend_factor) and np.allclose(mon, 1.0)
    non_reader = local_activity("America/New_York", saturday, 3 * 1440, TIMING, False)
    first = np.flatnonzero(non_reader)[0]  # Monday 07:00 ET = 67 h after Saturday noon
    assert first == (24 + 12 + 7) * 60


def _last_day_share(timing: Timing, readers: np.ndarray, delays: np.ndarray) -> tuple[float, int]:
    # Round 1's window: Saturday 16:30 ET to Monday 23:59 ET.
    start = dt.datetime(2025, 2, 22, 16, 30, tzinfo=ET)
    minutes = 55 * 60 + 29
    grid = Grid.build(start, minutes + 1, ["America/New_York"], timing)
    n = len(delays)
    row = profile(np.zeros(n, dtype=np.int64), readers)
    t = reply_minutes(grid, row, np.zeros(n), np.full(n, float(minutes)), delays, timing)
    done = t[~np.isnan(t)]
    return float(np.mean(done >= minutes - 1440)), len(done)


def test_deadline_pull_brings_a_surge_in_the_last_24_hours() -> None:
    rng = np.random.default_rng(4)
    n = 100_000
    delays = sample_delays(rng, n, TIMING)
    readers = rng.random(n) < TIMING.off_hours_readers
    share, done = _last_day_share(TIMING, readers, delays)
    share_flat, done_flat = _last_day_share(
        dataclasses.replace(TIMING, deadline_pull=0.0), readers, delays
    )
    assert share > 0.5  # a weekend send: most replies come on the deadline day
    assert share > share_flat  # the pull moves replies towards the deadline
    assert done > done_flat  # and gets more of them in before it


def test_replies_never_pass_the_personal_deadline() -> None:
    start = dt.datetime(2025, 2, 28, 19, 0, tzinfo=ET)
    n, minutes = 20_000, 3 * 1440
    grid = Grid.build(start, minutes + 1, ["America/Chicago"], TIMING)
    rng = np.random.default_rng(5)
    deadline = rng.uniform(60, minutes, n)
    t = reply_minutes(
        grid,
        profile(np.zeros(n, dtype=np.int64), rng.random(n) < 0.5),
        np.zeros(n),
        deadline,
        sample_delays(rng, n, TIMING),
        TIMING,
    )
    ok = ~np.isnan(t)
    assert ok.any() and np.all(t[ok] <= np.floor(deadline[ok]) + 1e-9)


def test_dst_change_moves_local_hours() -> None:
    # US DST began Sunday 9 March 2025 at 02:00: 12:00 UTC is 07:00 EST before, 08:00 EDT after.
    before = dt.datetime(2025, 3, 7, 12, 0, tzinfo=dt.UTC)
    after = dt.datetime(2025, 3, 10, 11, 30, tzinfo=dt.UTC)
    silent = dataclasses.replace(TIMING, night_factor=0.0)
    assert local_activity("America/New_York", before, 1, silent)[0] == 1.0  # 07:00 EST
    assert local_activity("America/New_York", after, 1, silent)[0] == 1.0  # 07:30 EDT
    early = dt.datetime(2025, 3, 10, 10, 30, tzinfo=dt.UTC)  # 06:30 EDT
    assert local_activity("America/New_York", early, 1, silent)[0] == 0.0

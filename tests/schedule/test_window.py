"""Replay windows: the busiest stretch, FROM/TO in the scenario's zone, and bad input."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.schedule.window import busiest, check_spec, parse_duration, resolve
from simulator.validation import InputError

US = 1_000_000
NY = "America/New_York"


def _us(text: str, zone: str = NY) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * US)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("1h", 3600), ("90s", 90), ("2h30m", 9000), ("1h0m5s", 3605)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds * US


@pytest.mark.parametrize("text", ["", "15", "1x", "m", "0m", "1.5h", "-1h", "30m2h"])
def test_unparsable_durations_name_the_flag_and_value(text: str) -> None:
    with pytest.raises(InputError) as err:
        check_spec(f"busiest:{text}", NY)
    assert err.value.field == "--window"
    assert err.value.value == text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), min_size=1, max_size=200),
    st.integers(1, 3_000),
    st.integers(0, 10_000),
)
def test_no_other_window_of_that_length_holds_more(
    times: list[int], duration: int, other_start: int
) -> None:
    t = np.array(sorted(times), dtype=np.int64)
    first, stop = busiest(t, duration)
    inside = (t >= t[first]) & (t < t[first] + duration)
    assert stop - first == int(inside.sum())  # the positions are exactly the window's
    assert np.all(inside[first:stop]) and not inside[:first].any() and not inside[stop:].any()
    other = int(((t >= other_start) & (t < other_start + duration)).sum())
    assert other <= stop - first
    for start in t:  # every window starting at an event, brute force
        assert int(((t >= start) & (t < start + duration)).sum()) <= stop - first


def test_busiest_finds_the_burst_in_an_unsorted_round() -> None:
    quiet = np.arange(0, 3600 * US, 60 * US)  # one a minute for an hour
    burst = 1800 * US + np.arange(50) * US  # fifty in a second-long run, half-way
    t = np.concatenate([burst, quiet])[::-1].copy()
    window = resolve("busiest:1m", t, NY)
    assert window.start_us == 1800 * US
    assert window.events == 51  # the burst and the minute tick at its start
    assert window.total == len(t)
    assert window.describe(NY)["share"] == pytest.approx(51 / len(t))


def test_from_to_is_read_in_the_scenario_time_zone() -> None:
    times = ["05:59:59", "06:00", "08:59:59", "09:00", "12:00"]
    t = np.array([_us(f"2025-02-24T{hm}") for hm in times], dtype=np.int64)
    window = resolve("2025-02-24T06:00/2025-02-24T09:00", t, NY)
    assert (window.first, window.stop) == (1, 3)
    described = window.describe(NY)
    assert described["from"] == "2025-02-24T06:00:00-05:00"
    assert described["to"] == "2025-02-24T09:00:00-05:00"
    assert described["events"] == 2 and described["round_events"] == 5
    # read in UTC the same times are five hours earlier, before the round's first event
    with pytest.raises(InputError, match="outside the round"):
        resolve("2025-02-24T06:00/2025-02-24T09:00", t, "UTC")
    offset = resolve("2025-02-24T06:00-05:00/2025-02-24T09:00-05:00", t, "UTC")
    assert (offset.first, offset.stop) == (1, 3)  # an explicit offset wins over the zone


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("2025-03-01T00:00/2025-03-02T00:00", "outside the round"),
        ("2025-02-20T00:00/2025-02-21T00:00", "outside the round"),
        ("2025-02-24T07:00/2025-02-24T08:00", "holds no events"),
        ("2025-02-24T09:00/2025-02-24T06:00", "TO must be after FROM"),
        ("2025-02-24T06:00", "busiest:DURATION"),
        ("yesterday/today", "busiest:DURATION"),
        ("busiest:soon", "a duration"),
    ],
)
def test_bad_windows_name_the_flag_and_value(spec: str, reason: str) -> None:
    t = np.array([_us("2025-02-24T05:00"), _us("2025-02-24T10:00")], dtype=np.int64)
    with pytest.raises(InputError) as err:
        resolve(spec, t, NY)
    assert err.value.field == "--window"
    assert err.value.source == "command line"
    assert reason in str(err.value)

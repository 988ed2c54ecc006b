"""Bulk logging gives Locust's stats what logging each event through Locust would.

Run as `python -m tests.locust.bulk_check` (by `test_bulk.py`): importing Locust patches
the process with gevent, which must not happen inside the pytest process. Prints one
line per passed check and exits 1 at the first failure.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import locust.stats
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from locust.stats import RequestStats

from simulator.locust import bulk

METHOD, NAME = "POST", "POST /replies"
T0 = 1_740_000_000.0

event = st.tuples(
    st.floats(0.0, 5.0),  # seconds after T0 that it ended
    st.floats(0.0, 30_000.0),  # response time, ms
    st.integers(0, 5000),  # content length
    st.sampled_from([None, None, None, "rejected 422", "timeout"]),
)


def one_by_one(events: list[tuple[float, float, int, str | None]]) -> RequestStats:
    """What Locust's runner does for each `events.request`, at each event's own time."""
    stats = RequestStats()
    now = {"t": 0.0}
    with mock.patch.object(locust.stats.time, "time", lambda: now["t"]):
        for at, response, length, error in events:
            now["t"] = T0 + at
            stats.log_request(METHOD, NAME, response, length)  # type: ignore[arg-type]
            if error is not None:
                stats.log_error(METHOD, NAME, error)
    return stats


def in_bulk(events: list[tuple[float, float, int, str | None]]) -> RequestStats:
    stats = RequestStats()
    bulk.log_requests(
        stats, METHOD, NAME,
        np.array([T0 + e[0] for e in events], np.float64),
        np.array([e[1] for e in events], np.float64),
        np.array([e[2] for e in events], np.int64),
        [e[3] for e in events],
    )  # fmt: skip
    return stats


def figures(entry: Any) -> dict[str, Any]:
    data = dict(entry.serialize())
    data.pop("start_time")  # when the entry was made, not a figure of the requests
    data["response_times"] = dict(data["response_times"])
    data["num_reqs_per_sec"] = dict(data["num_reqs_per_sec"])
    data["num_fail_per_sec"] = dict(data["num_fail_per_sec"])
    data["total_response_time"] = pytest.approx(data["total_response_time"])
    return data


@settings(max_examples=60, deadline=None)
@given(st.lists(event, min_size=1, max_size=80))
def test_bulk_logging_matches_logging_each_event(events: list) -> None:
    expected, got = one_by_one(events), in_bulk(events)
    assert figures(got.get(NAME, METHOD)) == figures(expected.get(NAME, METHOD))
    assert figures(got.total) == figures(expected.total)
    assert {k: e.serialize() for k, e in got.errors.items()} == {
        k: e.serialize() for k, e in expected.errors.items()
    }
    assert got.total.get_response_time_percentile(0.99) == (
        expected.total.get_response_time_percentile(0.99)
    )


def test_a_replaced_bucketing_is_used() -> None:
    """A locustfile may replace `locust.stats.bucket_response_time`; bulk logging reads it."""
    with mock.patch.object(locust.stats, "bucket_response_time", lambda rt: int(rt // 1000)):
        stats = in_bulk([(0.0, 2500.0, 10, None), (0.1, 2900.0, 10, None)])
    assert dict(stats.get(NAME, METHOD).response_times) == {2: 2}


def test_nothing_to_log_leaves_the_stats_empty() -> None:
    stats = in_bulk([])
    assert stats.total.num_requests == 0 and not stats.errors
    stats = RequestStats()
    bulk.log_entry(stats, "pulsecheck", "latency", np.zeros(0), np.zeros(0))
    assert ("latency", "pulsecheck") not in stats.entries


CHECKS = (
    test_bulk_logging_matches_logging_each_event,
    test_a_replaced_bucketing_is_used,
    test_nothing_to_log_leaves_the_stats_empty,
)

if __name__ == "__main__":
    for check in CHECKS:
        check()
        print(f"passed: {check.__name__}")
    print(f"{len(CHECKS)} checks passed")

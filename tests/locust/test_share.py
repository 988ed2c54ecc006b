"""A worker's share: open-loop claims, drops, outcomes, drains to the master."""

from __future__ import annotations

import numpy as np

from simulator.locust.share import Pace, ShareRun, table_from_ipc
from simulator.traffic.outcomes import OK, Outcome
from simulator.traffic.record import new_histogram

IDS = np.array([10, 11, 12, 13], dtype=np.int64)
OFFSETS = np.array([0, 1_000_000, 2_000_000, 9_000_000], dtype=np.int64)  # us


def share(max_duration_s: float = 5.0) -> ShareRun:
    return ShareRun(IDS, OFFSETS, Pace(max_duration_s, drop_after_s=1.0, late_after_ms=10.0))


def test_claims_in_order_and_stops_at_the_time_limit() -> None:
    run = share()
    assert [run.claim(), run.claim(), run.claim(), run.claim()] == [0, 1, 2, None]


def test_due_and_too_late_follow_the_offsets() -> None:
    run = share()
    assert run.due_in(1, 0.25) == 0.75  # 1 s offset, 0.25 s elapsed
    assert not run.too_late(1, 1.9)  # 0.9 s behind: still sent
    assert run.too_late(1, 2.1)  # 1.1 s behind: dropped


def test_drain_carries_finished_rows_once_and_interval_histograms() -> None:
    run = share()
    j = run.claim()
    assert j == 0
    run.sent(j, 0.002)
    run.finish(j, 0.005, Outcome(201, OK, 100), 0)
    first = run.drain()
    rows = table_from_ipc(first["rows"])
    assert rows.column("event_id").to_pylist() == [10]
    assert rows.column("latency_corrected_us").to_pylist() == [5000]  # from intended time
    assert rows.column("latency_uncorrected_us").to_pylist() == [3000]  # from actual send
    hist = new_histogram()
    hist.decode_and_add(first["corrected"])
    assert hist.get_total_count() == 1
    second = run.drain()
    assert second["count"] == 0  # nothing new: the row is not sent twice
    hist = new_histogram()
    hist.decode_and_add(second["corrected"])
    assert hist.get_total_count() == 0  # interval histograms were reset


def test_close_drops_unclaimed_and_abandon_times_out_in_flight() -> None:
    run = share()
    j = run.claim()
    assert j is not None
    run.sent(j, 0.0)
    run.close("stopped")
    run.abandon("stopped")
    assert run.finished
    rows = table_from_ipc(run.drain()["rows"])
    assert rows.column("outcome").to_pylist() == ["timeout", "dropped", "dropped", "dropped"]
    assert set(rows.column("error").to_pylist()) == {"stopped"}


def test_finished_only_when_nothing_is_in_flight() -> None:
    run = share(max_duration_s=0.5)
    j = run.claim()
    assert j == 0 and run.claim() is None
    assert not run.finished  # event 0 still in flight
    run.drop(j, "behind schedule")
    assert run.finished

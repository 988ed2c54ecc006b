"""Storm plans and worker shares: disjoint, complete, ordered, fingerprinted."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulator.locust.plan import Share, assign_shares, plan_storm, share_positions
from tests.locust.tables import storm_schedule

SCHEDULE = storm_schedule(replies=50, auto_replies=10, span_s=600.0)


def test_plan_keeps_only_the_channel_kinds_in_intended_order() -> None:
    plan = plan_storm(SCHEDULE, speedup=60.0, kinds=("reply",), max_events=None)
    assert plan.events.num_rows == 50  # replies only: no broadcast, no auto-replies
    assert set(plan.events.column("kind").to_pylist()) == {"reply"}
    assert np.all(np.diff(plan.offsets_us) >= 0)  # intended order


def test_offsets_count_from_the_schedules_first_event() -> None:
    everything = plan_storm(SCHEDULE, speedup=1.0, kinds=None, max_events=None)
    replies = plan_storm(SCHEDULE, speedup=1.0, kinds=("reply",), max_events=None)
    assert everything.offsets_us[0] == 0  # the broadcast starts the clock
    assert replies.offsets_us[0] >= 1_000_000  # replies follow it by >= 1 s (real time)


def test_speedup_compresses_offsets() -> None:
    slow = plan_storm(SCHEDULE, speedup=1.0, kinds=None, max_events=None)
    fast = plan_storm(SCHEDULE, speedup=100.0, kinds=None, max_events=None)
    assert np.array_equal(fast.offsets_us, np.floor(slow.offsets_us / 100).astype(np.int64))


def test_max_events_keeps_the_earliest() -> None:
    plan = plan_storm(SCHEDULE, speedup=1.0, kinds=("reply",), max_events=7)
    full = plan_storm(SCHEDULE, speedup=1.0, kinds=("reply",), max_events=None)
    assert plan.event_ids.tolist() == full.event_ids[:7].tolist()


def test_fingerprint_changes_with_speedup_and_selection() -> None:
    a = plan_storm(SCHEDULE, 60.0, ("reply",), None).fingerprint
    assert a == plan_storm(SCHEDULE, 60.0, ("reply",), None).fingerprint  # deterministic
    assert a != plan_storm(SCHEDULE, 61.0, ("reply",), None).fingerprint  # other speedup
    assert a != plan_storm(SCHEDULE, 60.0, ("reply",), 10).fingerprint  # other window


@given(n=st.integers(0, 500), workers=st.integers(1, 9))
def test_shares_are_disjoint_and_complete(n: int, workers: int) -> None:
    shares = assign_shares([f"w{k}" for k in range(workers)], 0.0, "fp")
    parts = [share_positions(n, share) for share in shares.values()]
    joined = np.concatenate(parts)
    assert len(joined) == n  # none sent twice...
    assert np.array_equal(np.sort(joined), np.arange(n))  # ...and none missed


def test_assignment_is_stable_whatever_the_order_workers_are_listed() -> None:
    a = assign_shares(["b", "a", "c"], 5.0, "fp")
    b = assign_shares(["c", "b", "a"], 5.0, "fp")
    assert a == b
    assert [a[k].index for k in ("a", "b", "c")] == [0, 1, 2]


def test_share_survives_the_message_round_trip() -> None:
    share = Share(1, 3, 1234.5, "abcd")
    assert Share.from_message(share.as_message()) == share

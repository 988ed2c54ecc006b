"""Storm plans and worker shares: disjoint, complete, ordered, fingerprinted."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulator.locust.plan import (
    EngineJob,
    Share,
    assign_shares,
    plan_storm,
    share_positions,
    split_users,
)
from tests.locust.tables import storm_schedule

SCHEDULE = storm_schedule(replies=50, auto_replies=10, span_s=600.0)


def test_plan_keeps_every_event_in_the_native_engines_order() -> None:
    plan = plan_storm(SCHEDULE, speedup=60.0, max_events=None)
    assert plan.events.num_rows == SCHEDULE.num_rows  # every kind, as `replay` sends
    expected = SCHEDULE.sort_by("t_intended").column("event_id").to_pylist()
    assert plan.event_ids.tolist() == expected
    assert np.all(np.diff(plan.offsets_us) >= 0)  # intended order


def test_offsets_count_from_the_schedules_first_event() -> None:
    plan = plan_storm(SCHEDULE, speedup=1.0, max_events=None)
    assert plan.offsets_us[0] == 0  # the broadcast starts the clock
    assert plan.offsets_us[1] >= 1_000_000  # replies follow it by >= 1 s (real time)


def test_speedup_compresses_offsets() -> None:
    slow = plan_storm(SCHEDULE, speedup=1.0, max_events=None)
    fast = plan_storm(SCHEDULE, speedup=100.0, max_events=None)
    assert np.array_equal(fast.offsets_us, np.floor(slow.offsets_us / 100).astype(np.int64))


def test_max_events_keeps_the_files_first_rows_as_replay_does() -> None:
    plan = plan_storm(SCHEDULE, speedup=1.0, max_events=7)
    first = SCHEDULE.slice(0, 7).sort_by("t_intended")
    assert plan.event_ids.tolist() == first.column("event_id").to_pylist()


def test_fingerprint_changes_with_speedup_and_selection() -> None:
    a = plan_storm(SCHEDULE, 60.0, None).fingerprint
    assert a == plan_storm(SCHEDULE, 60.0, None).fingerprint  # deterministic
    assert a != plan_storm(SCHEDULE, 61.0, None).fingerprint  # other speedup
    assert a != plan_storm(SCHEDULE, 60.0, 10).fingerprint  # other window


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


def test_share_and_job_survive_the_round_trip() -> None:
    share = Share(1, 3, 1234.5, "abcd", concurrency=12)
    assert Share.from_message(share.as_message()) == share
    job = EngineJob("s.parquet", "wf.parquet", "http://127.0.0.1:1/replies", share, 60.0,
                    None, 600.0, 10.0, 10.0, collections={"opm-hr": "hr@opm.example"})  # fmt: skip
    assert EngineJob.from_json(job.to_json()) == job


@given(users=st.integers(1, 300), workers=st.integers(1, 9))
def test_users_are_split_as_locust_spreads_them(users: int, workers: int) -> None:
    split = split_users(users, workers)
    assert len(split) == workers and min(split) >= 1
    assert max(split) - min(split) <= 1
    if users >= workers:
        assert sum(split) == users
    shares = assign_shares([f"w{k}" for k in range(workers)], 0.0, "fp", users)
    assert [shares[f"w{k}"].concurrency for k in range(workers)] == split

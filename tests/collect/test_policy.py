"""Receiving limit per hour and mailbox quota."""

from __future__ import annotations

from simulator.collect.policy import MAILBOX_FULL, RATE_LIMITED, Policy


def test_limit_per_hour_refills_over_the_hour() -> None:
    policy = Policy(per_hour=2)
    for _ in range(2):
        assert policy.check("m", 10, now=0.0) is None
        policy.charge("m", 10, now=0.0)
    assert policy.check("m", 10, now=0.0) == RATE_LIMITED
    assert policy.check("other", 10, now=0.0) is None  # limits are per mailbox
    assert policy.check("m", 10, now=1800.0) is None  # half an hour gives one back


def test_quota_fills() -> None:
    policy = Policy(quota_bytes=100)
    policy.charge("m", 60, now=0.0)
    assert policy.check("m", 40, now=0.0) is None
    assert policy.check("m", 41, now=0.0) == MAILBOX_FULL


def test_exchange_preset_and_off() -> None:
    assert Policy.exchange().per_hour == 3600
    assert not Policy().active

"""A small reply-all scenario for fast tests."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from simulator.replyall.params import ReplyAllScenario


@pytest.fixture
def small() -> ReplyAllScenario:
    """An open list of 20k on a Tuesday morning, 12 h, 30 s steps, calibrated behaviour."""
    return ReplyAllScenario(
        name="small",
        list_size=20_000,
        send_time=dt.datetime(2025, 2, 25, 10, 0, tzinfo=ZoneInfo("America/New_York")),
        timezone="America/New_York",
        horizon_h=12,
        step_s=30,
    ).with_defences()

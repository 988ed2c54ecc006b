"""The calendar of a storm: how active people are, and whether the admins are on duty.

Theory of operation: the process runs in fixed steps from the send time. People's
readiness to answer follows a daily and weekly cycle (Malmgren et al., PNAS 2008:
the heavy tail of reply delays comes from these cycles); the admin's reaction depends on
whether the step falls in duty hours. The local offset is taken at the send time and held
for the horizon (a DST change inside a storm shifts the cycle by an hour).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Share of people reading and answering mail, by local hour. Model assumption shaped after
# the daily/weekly cycles in Malmgren et al. 2008; not a measured figure.
WEEKDAY_ACTIVITY = np.array(
    [0.05] * 7 + [0.5] + [1.0] * 10 + [0.35] * 5 + [0.05],
)
WEEKEND_ACTIVITY = np.array([0.05] * 9 + [0.25] * 13 + [0.05] * 2)


@dataclass(frozen=True)
class StepCalendar:
    activity: NDArray[np.float64]  # 0..1 per step
    on_duty: NDArray[np.bool_]  # admins at work, per step
    to_next_duty_s: NDArray[np.float64]  # seconds to the next duty start (0 on duty)


def _local_seconds(send_time: dt.datetime) -> tuple[int, int]:
    midnight = send_time.replace(hour=0, minute=0, second=0, microsecond=0)
    return int((send_time - midnight).total_seconds()), send_time.weekday()


def step_calendar(
    send_time: dt.datetime,
    step_s: int,
    n_steps: int,
    duty_hours: tuple[int, int] = (8, 18),
    duty_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
) -> StepCalendar:
    """Activity and duty flags for `n_steps` steps of `step_s` seconds from `send_time`."""
    start_s, weekday0 = _local_seconds(send_time)
    extra = 8 * 86400 // step_s  # look a week ahead for the next shift
    t = start_s + np.arange(n_steps + extra, dtype=np.int64) * step_s
    hour = (t // 3600) % 24
    weekday = (weekday0 + t // 86400) % 7
    is_weekday = weekday < 5
    activity = np.where(is_weekday, WEEKDAY_ACTIVITY[hour], WEEKEND_ACTIVITY[hour])
    on_duty = np.isin(weekday, duty_weekdays) & (hour >= duty_hours[0]) & (hour < duty_hours[1])
    starts = np.flatnonzero(on_duty)
    idx = np.searchsorted(starts, np.arange(n_steps))
    nxt = np.where(idx < len(starts), starts[np.minimum(idx, len(starts) - 1)], n_steps + extra)
    to_next = (nxt - np.arange(n_steps)).astype(np.float64) * step_s
    return StepCalendar(activity[:n_steps], on_duty[:n_steps], to_next)

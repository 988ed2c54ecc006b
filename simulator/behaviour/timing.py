"""When a reply goes out: a two-log-normal delay, gated by local hours and a deadline.

Theory of operation (after Stouffer et al. 2006, Malmgren et al. 2008, Alfi et al. 2007,
calibrated to Kooti et al., WWW 2015):

1. A person's intrinsic delay is drawn from a mixture of two log-normals, in minutes of
   "active time" (a weekday working minute). Defaults give a mode near 2 min and a
   median near 47 min, as Kooti et al. measured.
2. Active time runs at a rate that depends on the person's local clock: 1 in active
   hours on weekdays, `night_factor` outside them, times `weekend_factor` at weekends
   The share `off_hours_readers` read work mail in the evening and at weekends; everyone
   else first sees a message in their next weekday working day (most staff first see a
   Saturday or Friday-evening message on Monday morning); before that their rate is 0.
   This is Malmgren's non-homogeneous process, applied by time rescaling: the reply
   goes out when the integral of the rate since receipt reaches the delay.
3. The rate is multiplied by 1 + pull * scale / max(time left, cap): the 1/(time left)
   growth of Alfi et al., so that procrastinated replies bunch up before the deadline.
   A delay whose active time does not fit before the person's deadline yields no reply.

The rate is piecewise constant per minute, so the integral is a cumulative sum on a
minute grid per (time zone, deadline) group, and the inverse is one `searchsorted` over
all groups laid end to end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from simulator.behaviour.params import Timing

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MINUTES_PER_DAY = 1440
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
SATURDAY = 5


def sample_delays(rng: np.random.Generator, n: int, timing: Timing) -> F64:
    """Intrinsic reply delays in active minutes: a mixture of two log-normals."""
    fast = rng.random(n) < timing.fast_weight
    median = np.where(fast, timing.fast_median_min, timing.slow_median_min)
    sigma = np.where(fast, timing.fast_sigma, timing.slow_sigma)
    return np.exp(np.log(median) + sigma * rng.standard_normal(n))


def _offset_minutes(zone: str, start: dt.datetime, minutes: int) -> I64:
    """UTC offset of `zone`, in minutes, at each minute of the grid (DST-aware).

    US offsets change on whole UTC hours, so one lookup per UTC hour suffices.
    """
    tz = ZoneInfo(zone) if zone else dt.UTC
    first_hour = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    skew = int((start - first_hour).total_seconds() // 60)
    hours = (skew + minutes) // 60 + 1
    per_hour = np.array(
        [_utc_offset_min(first_hour + dt.timedelta(hours=h), tz) for h in range(hours)],
        dtype=np.int64,
    )
    return per_hour[(skew + np.arange(minutes)) // 60]


def _utc_offset_min(t: dt.datetime, tz: dt.tzinfo) -> int:
    offset = t.astimezone(tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


def local_activity(
    zone: str, start: dt.datetime, minutes: int, timing: Timing, off_hours_reader: bool = True
) -> F64:
    """Relative activity of one time zone at each minute from `start` (UTC-aware).

    People who do not read work mail off hours first see it in their next weekday
    working day (active_start_hour to workday_end_hour); before that their activity is 0.
    """
    utc_min = int(start.timestamp() // 60) + np.arange(minutes, dtype=np.int64)
    local = utc_min + _offset_minutes(zone, start, minutes)
    hour = (local % MINUTES_PER_DAY) / 60.0
    weekday = (local // MINUTES_PER_DAY + EPOCH_WEEKDAY) % 7
    active = (hour >= timing.active_start_hour) & (hour < timing.active_end_hour)
    rate = np.where(active, 1.0, timing.night_factor)
    weekend = weekday >= SATURDAY
    rate = np.where(weekend, rate * timing.weekend_factor, rate)
    if not off_hours_reader:
        workday = (hour >= timing.active_start_hour) & (hour < timing.workday_end_hour)
        first_look = np.flatnonzero(workday & ~weekend)
        rate[: first_look[0] if len(first_look) else minutes] = 0.0
    return rate


def deadline_multiplier(minutes_left: F64, timing: Timing) -> F64:
    """1 + pull * scale / max(time left, cap): the Alfi et al. 1/(time left) growth."""
    cap = timing.deadline_pull_cap_h * 60.0
    scale = timing.deadline_scale_h * 60.0
    return 1.0 + timing.deadline_pull * scale / np.maximum(minutes_left, cap)


@dataclass(frozen=True)
class Grid:
    """Minute grid from the send time; activity per profile at each minute.

    A profile is a (time zone, reads at weekends) pair: `profile(zone, reader)`.
    """

    start: dt.datetime  # UTC-aware, the round's send time
    minutes: int
    zones: tuple[str, ...]
    activity: F64  # [profile, minute]

    @classmethod
    def build(cls, start: dt.datetime, minutes: int, zones: Sequence[str], timing: Timing) -> Grid:
        rows = [
            local_activity(z, start, minutes, timing, off_hours_reader=reader)
            for z in zones
            for reader in (False, True)
        ]
        return cls(start, minutes, tuple(zones), np.array(rows).reshape(len(rows), minutes))


def profile(zone: I64, off_hours_reader: npt.NDArray[np.bool_]) -> I64:
    """Row of `Grid.activity` for each person."""
    return zone * 2 + off_hours_reader.astype(np.int64)


def off_hours_readers(rng: np.random.Generator, n: int, timing: Timing) -> npt.NDArray[np.bool_]:
    """Who reads work mail at weekends (the rest first see it on a weekday)."""
    return rng.random(n) < timing.off_hours_readers


def _group_rates(grid: Grid, row: int, deadline_bin: int, timing: Timing) -> F64:
    mid = np.arange(grid.minutes, dtype=np.float64) + 0.5
    rate = grid.activity[row] * deadline_multiplier(deadline_bin - mid, timing)
    rate[deadline_bin:] = 0.0
    return rate  # type: ignore[no-any-return]


def _groups(key: I64) -> tuple[I64, I64]:
    """Distinct small non-negative keys and each element's group: `np.unique` in O(n)."""
    seen = np.bincount(key)
    keys = np.flatnonzero(seen)
    lookup = np.zeros(len(seen), dtype=np.int64)
    lookup[keys] = np.arange(len(keys))
    return keys, lookup[key]


def reply_minutes(
    grid: Grid, row: I64, start_min: F64, deadline_min: F64, delay: F64, timing: Timing
) -> F64:
    """Minutes since send at which each reply goes out; NaN where it misses the deadline.

    `row` is each person's `profile`, `start_min` is the receipt time, `deadline_min` each
    person's deadline, `delay` the intrinsic delay in active minutes.
    """
    m = grid.minutes
    dl_bin = np.clip(np.floor(deadline_min), 0, m).astype(np.int64)
    keys, group = _groups(row * (m + 1) + dl_bin)
    rates = np.stack(
        [_group_rates(grid, int(k // (m + 1)), int(k % (m + 1)), timing) for k in keys]
    )
    cum = np.concatenate([np.zeros((len(keys), 1)), np.cumsum(rates, axis=1)], axis=1)
    offsets = np.concatenate([[0.0], np.cumsum(cum[:, -1] + 1.0)[:-1]])
    k0 = np.clip(np.floor(start_min), 0, m - 1).astype(np.int64)
    at_start = cum[group, k0] + (start_min - k0) * rates[group, k0]
    target = at_start + delay
    ok = target <= cum[group, -1]
    flat = (cum + offsets[:, None]).ravel()
    idx = np.searchsorted(flat, offsets[group] + target, side="right") - 1
    k = np.clip(idx - group * (m + 1), 0, m - 1)
    rate = rates[group, k]
    frac = np.divide(target - cum[group, k], rate, out=np.zeros_like(target), where=rate > 0)
    return np.where(ok, k + np.clip(frac, 0.0, 1.0), np.nan)

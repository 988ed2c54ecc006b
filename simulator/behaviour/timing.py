"""When a reply goes out: an intrinsic delay, gated by local hours and a deadline.

Theory of operation (after Stouffer et al. 2006, Malmgren et al. 2008, Alfi et al. 2007,
Barabási 2005, calibrated to Kooti et al., WWW 2015):

1. A person's intrinsic delay is in minutes of "active time" (a weekday working minute),
   drawn from the scenario's `timing_model`:
   - "lognormal-mixture" (the default): a mixture of two log-normals (Stouffer et al.).
   - "power-law": Barabási's priority queue. A person works through a list of tasks,
     mostly picking the most urgent. Vázquez (PRL 2005) solved the two-task list
     exactly: a task not done at once is passed over step after step, with an exit
     rate whose density is 1/rate between two bounds, so the wait falls as t^-1 up to an
     exponential cutoff. In continuous time the delay is `power_step_min` plus an
     exponential wait whose rate has density rate^(alpha - 2) between 1/cutoff and
     1/`power_fast_min`: density ~ t^-alpha between the two, alpha = 1 for e-mail.
   Both defaults give a mode near 2 min, a median near 47 min and about 90% within a
   day, as Kooti et al. measured (`delay_fit` compares them).
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
from simulator.parameters import TIMING_MODEL, TIMING_MODELS, read_data_file

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MINUTES_PER_DAY = 1440
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
SATURDAY = 5


def sample_delays(rng: np.random.Generator, n: int, timing: Timing) -> F64:
    """Intrinsic reply delays in active minutes, from `timing.model`."""
    if timing.model == "power-law":
        return power_law_delays(rng, n, timing)
    return lognormal_delays(rng, n, timing)


def power_law_delays(rng: np.random.Generator, n: int, timing: Timing) -> F64:
    """Barabási's priority-queue delays: one step plus an exponential wait whose rate
    has density rate^(alpha - 2) between 1/cutoff and 1/fast (log-uniform at alpha = 1)."""
    lo = 1.0 / (timing.power_cutoff_h * 60.0)
    hi = 1.0 / timing.power_fast_min
    u = rng.random(n)
    beta = timing.power_alpha - 1.0
    if abs(beta) < 1e-9:
        rate = lo * (hi / lo) ** u
    else:
        rate = (lo**beta + u * (hi**beta - lo**beta)) ** (1.0 / beta)
    return timing.power_step_min + rng.standard_exponential(n) / rate


def lognormal_delays(rng: np.random.Generator, n: int, timing: Timing) -> F64:
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


# -- the models' fit to the measured delays ------------------------------------------------
@dataclass(frozen=True)
class DelayFigures:
    """The figures of a reply-delay distribution Kooti et al. (WWW 2015) measured, and the
    local slope of its density (log-log) from 1 h to 1 day and from 1 day to 1 week,
    where a power law and log-normals part (Stouffer et al. 2006)."""

    mode_min: float
    median_min: float
    within_day: float
    slope_hour_day: float | None = None
    slope_day_week: float | None = None


def measured_delays() -> DelayFigures:
    """Kooti et al.'s figures, from `simulator/data/reply_delays.csv`."""
    rows = {r["name"]: float(r["value"]) for r in read_data_file("reply_delays.csv")}
    return DelayFigures(rows["mode_min"], rows["median_min"], rows["within_day"])


def density_slope(delays: F64, lo_min: float, hi_min: float) -> float:
    """Slope of log density against log delay, over 12 log-spaced bins from lo to hi."""
    edges = np.geomspace(lo_min, hi_min, 13)
    counts, _ = np.histogram(delays, bins=edges)
    keep = counts > 0
    centre = np.sqrt(edges[1:] * edges[:-1])[keep]
    density = counts[keep] / np.diff(edges)[keep]
    return float(np.polyfit(np.log(centre), np.log(density), 1)[0])


def delay_figures(delays: F64) -> DelayFigures:
    """Mode (0.25-min bins under 30 min), median, share within a day, the two slopes."""
    counts, edges = np.histogram(delays, bins=np.arange(0.0, 30.0, 0.25))
    return DelayFigures(
        mode_min=float(edges[np.argmax(counts)] + 0.125),
        median_min=float(np.median(delays)),
        within_day=float(np.mean(delays <= MINUTES_PER_DAY)),
        slope_hour_day=density_slope(delays, 60.0, MINUTES_PER_DAY),
        slope_day_week=density_slope(delays, MINUTES_PER_DAY, 7.0 * MINUTES_PER_DAY),
    )


def delay_fit(
    behaviour: dict[str, float] | None = None, n: int = 1_000_000, seed: int = 0
) -> dict[str, DelayFigures]:
    """Each timing model's intrinsic-delay figures (before local hours and deadlines), with
    the other parameters of `behaviour`: `n` draws from one seed per model."""
    fits = {}
    for index, model in enumerate(TIMING_MODELS):
        timing = Timing.from_behaviour({**(behaviour or {}), TIMING_MODEL: float(index)})
        fits[model] = delay_figures(sample_delays(np.random.default_rng(seed), n, timing))
    return fits

"""Choosing a replay's speedup from a target's measured capacity and the arrival curve.

Theory of operation: a uniform speedup `s` plays `s` seconds of intended time in each
wall-clock second, so the busiest wall-clock second at speedup `s` holds the most events
any window of `s` intended seconds holds (`peak_per_s`, a sliding window over the sorted
intended times, with numpy's searchsorted). That count grows with `s`, so the highest
speedup whose busiest second fits under `headroom * capacity` is found by bisection on
log(s) between `MIN_SPEEDUP` and `MAX_SPEEDUP`. Capacity is the best sustained rate of a
closed-loop probe (`best_rate` over its steps); the probe itself lives in the replay
edge (`simulator.replay.probe`). Pure: arrays in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

AUTO_HEADROOM = 0.7  # share of measured capacity the busiest second may use
MIN_SPEEDUP = 1e-3
MAX_SPEEDUP = 1e6  # beyond this a schedule is one burst; more compression changes nothing
_BISECTIONS = 60


@dataclass(frozen=True)
class ProbeStep:
    """One step of a closed-loop probe: `connections` sessions for `elapsed_s`."""

    connections: int
    sent: int
    acknowledged: int
    elapsed_s: float

    @property
    def rate_per_s(self) -> float:
        return self.acknowledged / self.elapsed_s if self.elapsed_s > 0 else 0.0


def best_rate(steps: Sequence[ProbeStep]) -> float:
    """The capacity a probe measured: its best step's acknowledgements per second."""
    return max((step.rate_per_s for step in steps), default=0.0)


def peak_per_s(t_intended_us: I64, speedup: float = 1.0) -> int:
    """Events in the busiest wall-clock second when `t_intended_us` is played at
    `speedup`: the most any window of `speedup` intended seconds holds."""
    t = np.sort(np.asarray(t_intended_us, dtype=np.int64))
    if len(t) == 0:
        return 0
    width = math.ceil(1e6 * speedup)
    ends = np.searchsorted(t, t + width, side="left")
    return int((ends - np.arange(len(t))).max())


def choose_speedup(t_intended_us: I64, capacity_per_s: float, headroom: float) -> float:
    """The highest speedup (MIN_SPEEDUP..MAX_SPEEDUP) at which the busiest second holds at
    most `headroom * capacity_per_s` events; MIN_SPEEDUP when even that does not fit."""
    if not 0 < headroom <= 1:
        raise ValueError(f"headroom {headroom} must be in (0, 1]")
    budget = headroom * capacity_per_s
    if peak_per_s(t_intended_us, MAX_SPEEDUP) <= budget:
        return MAX_SPEEDUP
    lo, hi = math.log(MIN_SPEEDUP), math.log(MAX_SPEEDUP)  # fits at lo (or nothing does)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        if peak_per_s(t_intended_us, math.exp(mid)) <= budget:
            lo = mid
        else:
            hi = mid
    return _round_down(math.exp(lo))


def _round_down(value: float, digits: int = 4) -> float:
    """`value` cut (never rounded up) to `digits` significant digits, as printed."""
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    return math.floor(value * scale) / scale

"""An uncertainty band from many seeded runs: P10, P50 and P90 of every figure.

Theory of operation: the process runs all seeds in one vectorised batch; the band is the
percentiles across runs, for the per-run figures (`summary.Outcome`) and for the
per-minute curves the report draws.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.process import StormRuns, simulate
from simulator.replyall.summary import Outcome, summarize

F64 = NDArray[np.float64]
PERCENTILES = (10, 50, 90)
CURVES = ("posts", "list_deliveries", "single_deliveries", "backlog")


@dataclass(frozen=True)
class Band:
    runs: int
    seed: int
    figures: dict[str, tuple[float, float, float]]  # name -> (P10, P50, P90)
    ended_by: dict[str, int]  # how many runs each defence (or cause) ended
    curves: dict[str, F64]  # name -> (3, minutes) P10/P50/P90 per minute
    outcome: Outcome
    storm: StormRuns

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "seed": self.seed,
            "figures": {
                k: dict(zip(("p10", "p50", "p90"), v, strict=True)) for k, v in self.figures.items()
            },
            "ended_by": self.ended_by,
        }


def _figures(o: Outcome) -> dict[str, tuple[float, float, float]]:
    out = {}
    for f in fields(o):
        value = getattr(o, f.name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            p10, p50, p90 = np.percentile(value, PERCENTILES)
            out[f.name] = (float(p10), float(p50), float(p90))
    return out


def band_of(storm: StormRuns, seed: int) -> Band:
    """The band of an already simulated batch."""
    o = summarize(storm)
    counts: dict[str, int] = {}
    for name in o.ended_by:
        counts[name] = counts.get(name, 0) + 1
    curves = {k: np.percentile(storm.series[k], PERCENTILES, axis=0) for k in CURVES}
    return Band(storm.runs, seed, _figures(o), counts, curves, o, storm)


def band(sc: ReplyAllScenario, runs: int = 100, seed: int | None = None) -> Band:
    """Simulate `runs` seeded runs of the scenario and return their band."""
    s = sc.seed if seed is None else seed
    return band_of(simulate(sc, runs, s), s)

"""Tornado analysis: which assumption moves the total most.

Theory of operation: with every assumption at its likely value, each one in turn is set
to its low and then its high end; the total is recomputed for both and the swing is the
distance between them. Swings are sorted largest first, the order of a tornado chart.
One-at-a-time swings ignore interactions (for example the model share of review and the
cost of human review), which the Monte Carlo keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simulator.cost.counts import RoundCounts
from simulator.cost.terms import ASSUMPTIONS, evaluate
from simulator.validation import Range


@dataclass(frozen=True)
class Swing:
    name: str
    low: float  # the assumption's low end
    high: float  # its high end
    total_at_low: float
    total_at_high: float
    base: float  # total with everything at likely

    @property
    def swing(self) -> float:
        return abs(self.total_at_high - self.total_at_low)


def total_with(
    counts: Mapping[str, RoundCounts],
    rounds_per_year: Mapping[str, int],
    values: Mapping[str, float],
) -> float:
    """The total over rounds (weighted by rounds per year) at fixed assumption values."""
    d = {name: np.array([v]) for name, v in values.items()}
    return float(sum(evaluate(d, c)["total"][0] * rounds_per_year[r] for r, c in counts.items()))


def tornado(
    counts: Mapping[str, RoundCounts],
    ranges: Mapping[str, Range],
    rounds_per_year: Mapping[str, int] | None = None,
) -> list[Swing]:
    """One-at-a-time swings of every assumption, largest first."""
    per_year = rounds_per_year or {r: 1 for r in counts}
    likely = {name: ranges[name].likely for name in ASSUMPTIONS}
    base = total_with(counts, per_year, likely)
    swings = [
        Swing(
            name=name,
            low=ranges[name].low,
            high=ranges[name].high,
            total_at_low=total_with(counts, per_year, {**likely, name: ranges[name].low}),
            total_at_high=total_with(counts, per_year, {**likely, name: ranges[name].high}),
            base=base,
        )
        for name in ASSUMPTIONS
    ]
    return sorted(swings, key=lambda s: s.swing, reverse=True)

"""Monte Carlo cost of each round and of a year: P10/P50/P90 per term and in total.

Theory of operation: the assumptions are drawn once (`draws.sample`, 100k draws by
default) and every round is evaluated on the same draws, since an assumption such as the
minutes a reply takes is uncertain once, not independently in every round. A year is the
sum over rounds of each round's cost times its `rounds_per_year`, draw by draw, so the
year's percentiles keep that dependence. Percentiles are taken per term and for the
total separately: the P50 of the total is not the sum of the terms' P50s.

`bounds` gives the deterministic envelope: the least and greatest total over all corners
of the assumption box (every assumption at low or high). Each term is monotone or
multilinear in its assumptions, so its extremes lie on corners and every draw lies
inside the envelope.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from simulator.cost.counts import RoundCounts
from simulator.cost.draws import sample
from simulator.cost.terms import ASSUMPTIONS, evaluate
from simulator.validation import Range

F64 = npt.NDArray[np.float64]
DEFAULT_DRAWS = 100_000
QUANTILES = (10.0, 50.0, 90.0)


@dataclass(frozen=True)
class Percentiles:
    p10: float
    p50: float
    p90: float
    mean: float


@dataclass(frozen=True)
class Estimate:
    """P10/P50/P90 of each term ("total" included) per round and over a year."""

    draws: int
    seed: int
    shape: str
    rounds_per_year: dict[str, int]
    rounds: dict[str, dict[str, Percentiles]]
    year: dict[str, Percentiles]
    likely: dict[str, dict[str, float]]  # every assumption at its likely value, per round
    envelope: dict[str, tuple[float, float]]  # per round: least and greatest total

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def percentiles(values: F64) -> Percentiles:
    p10, p50, p90 = np.percentile(values, QUANTILES)
    return Percentiles(float(p10), float(p50), float(p90), float(values.mean()))


def summarize(terms: Mapping[str, F64]) -> dict[str, Percentiles]:
    return {name: percentiles(values) for name, values in terms.items()}


def year_terms(
    per_round: Mapping[str, Mapping[str, F64]], rounds_per_year: Mapping[str, int]
) -> dict[str, F64]:
    """Each term summed over rounds, weighted by how often each round runs in a year."""
    names = next(iter(per_round.values())).keys()
    return {
        name: np.sum([per_round[r][name] * rounds_per_year[r] for r in per_round], axis=0)
        for name in names
    }


def estimate(
    counts: Mapping[str, RoundCounts],
    rounds_per_year: Mapping[str, int],
    ranges: Mapping[str, Range],
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    shape: str = "pert",
) -> Estimate:
    """Monte Carlo estimate for the given rounds (at least one)."""
    if not counts:
        raise ValueError("no rounds to estimate")
    sampled = sample(ranges, draws, np.random.default_rng(seed), ASSUMPTIONS, shape)
    per_round = {r: evaluate(sampled, c) for r, c in counts.items()}
    likely = {name: np.array([ranges[name].likely]) for name in ASSUMPTIONS}
    return Estimate(
        draws=draws,
        seed=seed,
        shape=shape,
        rounds_per_year={r: int(rounds_per_year[r]) for r in counts},
        rounds={r: summarize(terms) for r, terms in per_round.items()},
        year=summarize(year_terms(per_round, rounds_per_year)),
        likely={
            r: {k: float(v[0]) for k, v in evaluate(likely, c).items()} for r, c in counts.items()
        },
        envelope={r: bounds(c, ranges) for r, c in counts.items()},
    )


def corners(ranges: Mapping[str, Range], names: tuple[str, ...] = ASSUMPTIONS) -> dict[str, F64]:
    """Every combination of low/high ends of the named assumptions (2^k 'draws')."""
    grid = np.array(list(itertools.product((0, 1), repeat=len(names))), dtype=np.bool_)
    return {
        name: np.where(grid[:, i], ranges[name].high, ranges[name].low)
        for i, name in enumerate(names)
    }


def bounds(counts: RoundCounts, ranges: Mapping[str, Range]) -> tuple[float, float]:
    """Least and greatest total of a round over the corners of the assumption box."""
    total = evaluate(corners(ranges), counts)["total"]
    return float(total.min()), float(total.max())

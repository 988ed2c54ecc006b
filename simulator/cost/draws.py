"""Random draws of the uncertain cost assumptions.

Theory of operation: every assumption is a `Range(low, high, likely)`. A draw samples it
from a PERT distribution: a beta distribution rescaled to [low, high] whose mode is the
likely value, with shape parameters alpha = 1 + 4 (likely - low) / (high - low) and
beta = 1 + 4 (high - likely) / (high - low). Compared with a triangular distribution on
the same three points, PERT puts less weight on the ends, which suits ranges whose ends
are plausible extremes rather than common outcomes; `shape="triangular"` is available for
the more cautious reading. A range with low == high is a constant.

Assumptions are drawn independently of each other: the facts give no basis for a
correlation (for example between minutes per reply and minutes per cc'd reply).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from simulator.validation import Range

F64 = npt.NDArray[np.float64]
Draws = dict[str, F64]
SHAPES = ("pert", "triangular")
PERT_WEIGHT = 4.0  # the classic PERT weight on the mode


def sample_range(r: Range, n: int, rng: np.random.Generator, shape: str = "pert") -> F64:
    """`n` draws of one assumption, inside [low, high]."""
    span = r.high - r.low
    if span <= 0:
        return np.full(n, r.low, dtype=np.float64)
    if shape == "triangular":
        return rng.triangular(r.low, r.likely, r.high, size=n)
    if shape != "pert":
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    a = 1.0 + PERT_WEIGHT * (r.likely - r.low) / span
    b = 1.0 + PERT_WEIGHT * (r.high - r.likely) / span
    return r.low + span * rng.beta(a, b, size=n)


def sample(
    ranges: Mapping[str, Range],
    n: int,
    rng: np.random.Generator,
    names: Iterable[str] | None = None,
    shape: str = "pert",
) -> Draws:
    """`n` independent draws of each named assumption (all of them by default)."""
    chosen = sorted(ranges) if names is None else list(names)
    return {name: sample_range(ranges[name], n, rng, shape) for name in chosen}


def at_likely(ranges: Mapping[str, Range]) -> Draws:
    """One 'draw' holding every assumption at its likely value."""
    return {name: np.array([r.likely]) for name, r in ranges.items()}


def pert_mean(r: Range) -> float:
    """Mean of the PERT distribution: (low + 4 likely + high) / 6."""
    return (r.low + PERT_WEIGHT * r.likely + r.high) / (PERT_WEIGHT + 2.0)

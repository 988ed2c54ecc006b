"""The manager tree, built whole-column from unit sizes and spans of control.

Theory of operation: rows are laid out unit by unit (a unit is a sub-agency, the rest of
a department, or a small agency), each unit a contiguous id range. Inside a unit the tree
is a heap with a real-valued span s: local node j >= 1 reports to local node
floor((j - 1) / s). Each supervisor then has floor(s) or ceil(s) direct reports, and
supervisors are about 1/s of the unit, so the span of control is a per-unit parameter.
A unit's root reports to the department head (the department's first row) or, for the
head itself and for independent small agencies, to nobody (`NO_ID`).

Every manager id is smaller than its employee's id, so the tree cannot have a cycle,
and every manager lies inside the same department's id range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.columns import NO_ID

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Units:
    """The contiguous id ranges rows are laid out in, one entry per unit."""

    start: I64  # first row of each unit
    size: I64  # rows in each unit
    span: npt.NDArray[np.float64]  # direct reports per supervisor inside the unit
    root_manager: I64  # the unit root's manager: a row id or NO_ID
    root_depth: I64  # the unit root's depth: 0 for heads, 1 under a department head


@dataclass(frozen=True)
class Tree:
    manager_id: I32
    depth: npt.NDArray[np.int8]
    is_supervisor: npt.NDArray[np.bool_]


def unit_of_rows(units: Units) -> I64:
    """The unit index of every row."""
    return np.repeat(np.arange(len(units.size), dtype=np.int64), units.size)


def level_starts(size: int, span: float) -> I64:
    """First local index of each heap level, for a unit of `size` rows and span `span`.

    The children of node p are the j with floor((j - 1) / span) == p, so the level after
    one starting at b starts at the smallest j with floor((j - 1) / span) >= b.
    """
    starts = [0]
    while starts[-1] < size:
        b = starts[-1]
        j = int(np.ceil(b * span)) + 1
        while j > 1 and np.floor((j - 2) / span) >= b:
            j -= 1
        while np.floor((j - 1) / span) < b:
            j += 1
        starts.append(max(j, b + 1))
    return np.asarray(starts, dtype=np.int64)


def _local_depth(units: Units) -> npt.NDArray[np.int8]:
    """Depth inside each unit's heap, one unit (a contiguous block of rows) at a time."""
    parts = [
        np.searchsorted(level_starts(int(n), float(s)), np.arange(n), side="right") - 1
        for n, s in zip(units.size, units.span, strict=True)
    ]
    return np.concatenate([np.zeros(0, dtype=np.int64), *parts]).astype(np.int8)


def build_tree(units: Units) -> Tree:
    """Manager, depth and supervisor flag for every row of the units."""
    unit = unit_of_rows(units)
    n = len(unit)
    local = np.arange(n, dtype=np.int64) - units.start[unit]
    span = units.span[unit]
    parent_local = np.floor((local - 1) / span).astype(np.int64)
    manager = np.where(local > 0, units.start[unit] + parent_local, units.root_manager[unit])
    depth = _local_depth(units) + units.root_depth[unit].astype(np.int8)
    reports = np.bincount(manager[manager != NO_ID], minlength=n)
    return Tree(manager.astype(np.int32), depth.astype(np.int8), reports > 0)

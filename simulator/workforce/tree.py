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


def _local_depth(local: I64, span: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
    """Depth inside the unit's heap: how many parent steps lead to local node 0."""
    depth = np.zeros(len(local), dtype=np.int8)
    current = local.copy()
    while True:
        moving = np.flatnonzero(current > 0)
        if len(moving) == 0:
            return depth
        current[moving] = np.floor((current[moving] - 1) / span[moving]).astype(np.int64)
        depth[moving] += 1


def build_tree(units: Units) -> Tree:
    """Manager, depth and supervisor flag for every row of the units."""
    unit = unit_of_rows(units)
    n = len(unit)
    local = np.arange(n, dtype=np.int64) - units.start[unit]
    span = units.span[unit]
    parent_local = np.floor((local - 1) / span).astype(np.int64)
    manager = np.where(local > 0, units.start[unit] + parent_local, units.root_manager[unit])
    depth = _local_depth(local, span) + units.root_depth[unit].astype(np.int8)
    reports = np.bincount(manager[manager != NO_ID], minlength=n)
    return Tree(manager.astype(np.int32), depth.astype(np.int8), reports > 0)

"""Row layout: which department and sub-agency each id range belongs to, at a scale.

Theory of operation: departments follow the order of `agencies.csv`. Inside a department
the rows of "<DEPT>-HQ" (the headcount not in a listed sub-agency) come first, then the
sub-agencies in file order, so a department and each sub-agency is a contiguous id
range and the department's first row is its head. The SMALL row is laid out as the
~100 small agencies of `small_agencies.csv`: department "SMALL", sub-agency the small
agency's code, and each small agency is its own tree with its own head.

Each unit gets round(headcount * scale) rows. A department that would round to nothing
keeps one row in its largest unit, so at any scale every department is present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.columns import NO_ID
from simulator.workforce.tables import SMALL, CalibrationTables
from simulator.workforce.tree import Units


@dataclass(frozen=True)
class UnitSpec:
    code: str  # sub-agency column value
    department: str
    domain: str
    headcount: int
    independent: bool  # True for small agencies: the root is a head of its own


@dataclass(frozen=True)
class Layout:
    specs: tuple[UnitSpec, ...]
    departments: tuple[str, ...]
    dept_of_unit: npt.NDArray[np.int64]
    units: Units

    @property
    def rows(self) -> int:
        return int(self.units.size.sum())


def hq_code(department: str) -> str:
    return f"{department}-HQ"


def unit_specs(tables: CalibrationTables) -> list[UnitSpec]:
    """Every unit in row order, with its unscaled headcount."""
    specs: list[UnitSpec] = []
    for dept in tables.departments:
        if dept.code == SMALL:
            specs += [
                UnitSpec(a.code, SMALL, a.domain, a.headcount, True) for a in tables.small_agencies
            ]
            continue
        subs = [a for a in tables.subagencies if a.parent == dept.code]
        rest = dept.headcount - sum(a.headcount for a in subs)
        specs.append(UnitSpec(hq_code(dept.code), dept.code, dept.domain, rest, False))
        specs += [UnitSpec(a.code, dept.code, a.domain, a.headcount, False) for a in subs]
    return specs


def scaled_sizes(
    headcounts: npt.NDArray[np.int64], dept_of_unit: npt.NDArray[np.int64], scale: float
) -> npt.NDArray[np.int64]:
    """round(headcount * scale) per unit, with at least one row per department."""
    sizes: npt.NDArray[np.int64] = np.floor(headcounts * scale + 0.5).astype(np.int64)
    for dept in np.unique(dept_of_unit):
        members = np.flatnonzero(dept_of_unit == dept)
        if sizes[members].sum() == 0:
            sizes[members[np.argmax(headcounts[members])]] = 1
    return sizes


def build_layout(tables: CalibrationTables, scale: float) -> Layout:
    specs = unit_specs(tables)
    departments = tuple(d.code for d in tables.departments)
    dept_of_unit = np.array([departments.index(s.department) for s in specs], dtype=np.int64)
    headcounts = np.array([s.headcount for s in specs], dtype=np.int64)
    size = scaled_sizes(headcounts, dept_of_unit, scale)
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    root_manager, root_depth = _roots(specs, dept_of_unit, start, size)
    span = np.array([tables.spans[s.department] for s in specs], dtype=np.float64)
    units = Units(start, size, span, root_manager, root_depth)
    return Layout(tuple(specs), departments, dept_of_unit, units)


def _roots(
    specs: list[UnitSpec],
    dept_of_unit: npt.NDArray[np.int64],
    start: npt.NDArray[np.int64],
    size: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each unit root's manager (the department head, or NO_ID for heads) and depth."""
    head_of_dept: dict[int, int] = {}
    manager = np.full(len(specs), NO_ID, dtype=np.int64)
    depth = np.zeros(len(specs), dtype=np.int64)
    for u, spec in enumerate(specs):
        if size[u] == 0 or spec.independent:
            continue
        dept = int(dept_of_unit[u])
        if dept not in head_of_dept:
            head_of_dept[dept] = int(start[u])
            continue
        manager[u] = head_of_dept[dept]
        depth[u] = 1
    return manager, depth

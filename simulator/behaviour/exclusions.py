"""Who an agency excluded from replying, and the report of it that agencies sent OPM.

Theory of operation: OPM's guidance of Mon 24 Feb 2025 said agency leadership "may
exclude personnel from this expectation at their discretion and should inform OPM of the
categories of the employees excluded and reasons for exclusion", and that staff on leave
or without email access were not expected to reply. An exclusion names an agency ("*",
a department or a sub-agency, the most specific one winning as for directives) and a
category with a share of that agency's present staff (`simulator/data/exclusions.csv`
gives each category's default share as a range and its stated reason). "on_leave" draws
nothing: it counts the workforce's away staff, who never reply anyway.

Each person carries one uniform draw; a unit's categories are laid end to end on [0, 1)
by their shares, so a person is in at most one category and a larger share only adds
people. Excluded staff still receive the broadcast (the list was not trimmed) but are
not expected to reply, so they do not. `report` counts them per department, category
and reason: the table agencies sent OPM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.behaviour.directives import NO_MATCH, Unit, specificity
from simulator.parameters import exclusion_categories
from simulator.scenario import Exclusion

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

ON_LEAVE = "on_leave"
NOT_EXCLUDED = -1


def categories() -> tuple[str, ...]:
    """Every category, in the order of exclusions.csv."""
    return tuple(exclusion_categories())


@dataclass(frozen=True)
class ExclusionTable:
    """Per (unit, category): the share excluded (0 where none applies) and the reason."""

    share: F64  # [unit, category]; the on_leave column is 1 where it applies
    reason: tuple[tuple[str, ...], ...]  # [unit][category]


def build_table(exclusions: Sequence[Exclusion], units: Sequence[Unit]) -> ExclusionTable:
    """The most specific exclusion per unit and category (later entries break ties)."""
    names = categories()
    defaults = exclusion_categories()
    share = np.zeros((len(units), len(names)))
    reasons = [["" for _ in names] for _ in units]
    for u, unit in enumerate(units):
        best = [NO_MATCH] * len(names)
        for e in exclusions:
            level, c = specificity(e.agency, unit), names.index(e.category)
            if level == NO_MATCH or level < best[c]:
                continue
            best[c] = level
            default = defaults[e.category]
            share[u, c] = (
                1.0
                if e.category == ON_LEAVE
                else (default.share.likely if e.share is None else e.share)
            )
            reasons[u][c] = e.reason or default.reason
    return ExclusionTable(share, tuple(tuple(r) for r in reasons))


def draw(u: F64, unit: I64, away: BOOL, stale: BOOL, table: ExclusionTable) -> I64:
    """Each person's category index into `categories()`, or NOT_EXCLUDED."""
    leave = categories().index(ON_LEAVE)
    drawn = table.share.copy()
    drawn[:, leave] = 0.0
    edges = np.cumsum(drawn, axis=1)[unit]  # [person, category]
    category = np.argmax(u[:, None] < edges, axis=1).astype(np.int64)
    hit = u < edges[:, -1] if len(u) else np.zeros(0, dtype=np.bool_)
    out = np.where(hit & ~away & ~stale, category, NOT_EXCLUDED)
    on_leave = away & ~stale & (table.share[unit, leave] > 0)
    return np.where(on_leave, leave, out)


@dataclass(frozen=True)
class ExclusionRow:
    """One line of an agency's report to OPM."""

    agency: str
    category: str
    reason: str
    count: int


def report(
    category: I64,
    unit: I64,
    department: I64,
    department_names: Sequence[str],
    table: ExclusionTable,
) -> list[ExclusionRow]:
    """Counts of excluded staff per department, category and reason."""
    names = categories()
    counts: dict[tuple[str, str, str], int] = {}
    mine = np.flatnonzero(category != NOT_EXCLUDED)
    if len(mine):
        # one integer key per (department, category, unit), counted with one bincount
        n_cat, n_unit = len(names), max(int(unit[mine].max()) + 1, 1)
        key = (department[mine] * n_cat + category[mine]) * n_unit + unit[mine]
        tally = np.bincount(key)
        found = np.flatnonzero(tally)
        d, rest = np.divmod(found, n_cat * n_unit)
        c, un = np.divmod(rest, n_unit)
        for di, ci, ui, k in zip(
            d.tolist(), c.tolist(), un.tolist(), tally[found].tolist(), strict=True
        ):
            key_ = (department_names[di], names[ci], table.reason[ui][ci])
            counts[key_] = counts.get(key_, 0) + k
    return [
        ExclusionRow(a, c, r, k)
        for (a, c, r), k in sorted(counts.items(), key=lambda kv: (kv[0][0], names.index(kv[0][1])))
    ]


def merge_reports(reports: Sequence[Sequence[ExclusionRow]]) -> list[ExclusionRow]:
    """Reports of parts of one workforce added up, in `report`'s order."""
    names = categories()
    counts: dict[tuple[str, str, str], int] = {}
    for rows in reports:
        for row in rows:
            key = (row.agency, row.category, row.reason)
            counts[key] = counts.get(key, 0) + row.count
    return [
        ExclusionRow(a, c, r, k)
        for (a, c, r), k in sorted(counts.items(), key=lambda kv: (kv[0][0], names.index(kv[0][1])))
    ]

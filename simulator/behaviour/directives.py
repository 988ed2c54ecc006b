"""Which directive is in force for whom, and when: lookup tables by unit and time.

Theory of operation: a directive names an agency code ("*", a department or a
sub-agency) and takes effect at `at` (None: the send time). At time t the directive in
force for a person is, among those already in effect, the most specific one matching
them (sub-agency > department > "*"), and among equally specific ones the latest; with
none in effect the round's `default_action` applies. The set of directives only changes
at a few instants, so `build_table` resolves each (unit, interval) once; the builder
then looks up millions of (unit, time) pairs with one `searchsorted` and a 2-D index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.scenario import ACTIONS, ALL_AGENCIES, Directive

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Specificity of a directive's agency code for one unit; higher wins.
NO_MATCH, ALL, DEPARTMENT, SUBAGENCY = -1, 0, 1, 2


@dataclass(frozen=True)
class Unit:
    """A group of people whom every directive treats alike: a sub-agency of a department."""

    department: str
    subagency: str


def specificity(agency: str, unit: Unit) -> int:
    if agency == unit.subagency:
        return SUBAGENCY
    if agency == unit.department:
        return DEPARTMENT
    return ALL if agency == ALL_AGENCIES else NO_MATCH


def effective_at(directive: Directive, send_time: dt.datetime) -> dt.datetime:
    return directive.at if directive.at is not None else send_time


def in_force(
    directives: Sequence[Directive], unit: Unit, t: dt.datetime, send_time: dt.datetime
) -> Directive | None:
    """The directive in force for `unit` at `t`; None means the round's default action."""
    best: tuple[int, dt.datetime, int] | None = None
    chosen = None
    for order, d in enumerate(directives):
        level = specificity(d.agency, unit)
        at = effective_at(d, send_time)
        if level == NO_MATCH or at > t:
            continue
        rank = (level, at, order)  # file order breaks ties between equal times
        if best is None or rank > best:
            best, chosen = rank, d
    return chosen


@dataclass(frozen=True)
class DirectiveTable:
    """Directive outcomes per (unit, interval); intervals start at `breaks_s`."""

    breaks_s: F64  # seconds since the send time at which the directives change
    action: npt.NDArray[np.int8]  # [unit, interval] index into scenario.ACTIONS
    form_letter: npt.NDArray[np.bool_]  # [unit, interval]
    within_h: F64  # [unit, interval] reply-within hours; inf where unbounded

    def interval(self, t_s: F64) -> I64:
        """Interval index for times in seconds since send (times before send: the first)."""
        idx = np.searchsorted(self.breaks_s, t_s, side="right") - 1
        return np.maximum(idx, 0).astype(np.int64)


def build_table(
    directives: Sequence[Directive],
    default_action: str,
    units: Sequence[Unit],
    send_time: dt.datetime,
) -> DirectiveTable:
    times = sorted({send_time, *(effective_at(d, send_time) for d in directives)})
    shape = (len(units), len(times))
    action = np.full(shape, ACTIONS.index(default_action), dtype=np.int8)
    form = np.zeros(shape, dtype=np.bool_)
    within = np.full(shape, np.inf)
    for u, unit in enumerate(units):
        for j, t in enumerate(times):
            d = in_force(directives, unit, t, send_time)
            if d is None:
                continue
            action[u, j] = ACTIONS.index(d.action)
            form[u, j] = d.form_letter
            within[u, j] = d.within_hours if d.within_hours is not None else np.inf
    breaks = np.array([(t - send_time).total_seconds() for t in times], dtype=np.float64)
    return DirectiveTable(breaks, action, form, within)

"""Directives of the weekly series: a pause a later order lifts, answers on behalf of a
workforce, and boilerplate.

Theory of operation (pure numpy over a `directives.DirectiveTable`):

- Pause until guidance. Someone whose directive at receipt is "pause" and whose unit is
  later given another order (DoD, Sun 2 Mar 2025: reply within 48 h) starts answering
  when that order takes effect, as if they received the email then, and its reply-within
  bound counts from then. With no later order the pause stays, as before.
- On behalf. A department whose leadership answers for its workforce (State, round 2)
  sends one reply, from its first listed member, `delay_h` after the order takes effect;
  its staff do not reply ("on_behalf" propensity 0).
- Declined. "decline" (Energy: "please do not respond") is a propensity of 0.
- Boilerplate. In a series round a share of the written replies (bullets) are boilerplate,
  sent as the generic form-letter text; the share grows round by round.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.behaviour.directives import DirectiveTable
from simulator.columns import CONTENTS
from simulator.scenario import ACTIONS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

PAUSE = ACTIONS.index("pause")
ON_BEHALF = ACTIONS.index("on_behalf")


def next_order(table: DirectiveTable) -> I64:
    """[unit, interval]: the first interval at or after it whose action is not a pause;
    the interval itself when it is no pause or no later order lifts it."""
    n_units, n = table.action.shape
    out = np.tile(np.arange(n, dtype=np.int64), (n_units, 1))
    for j in range(n - 2, -1, -1):
        paused = table.action[:, j] == PAUSE
        lifted = table.action[np.arange(n_units), out[:, j + 1]] != PAUSE
        out[:, j] = np.where(paused & lifted, out[:, j + 1], j)
    return out


def reply_start(table: DirectiveTable, unit: I64, receipt_s: F64) -> tuple[F64, F64]:
    """When each person starts to answer (s after send) and their reply-within hours."""
    j = next_order(table)[unit, table.interval(receipt_s)]
    start = np.maximum(receipt_s, table.breaks_s[j])
    return start, table.within_h[unit, j]


def on_behalf(
    table: DirectiveTable, departments: list[str], first_member: dict[str, int], delay_h: float
) -> tuple[I64, F64, I64]:
    """(sender id, time s after send, unit) of one reply per department answered for.

    `departments[u]` is unit u's department; `first_member` its first listed present member."""
    sent: dict[str, tuple[int, float, int]] = {}
    for u, dept in enumerate(departments):
        hits = np.flatnonzero(table.action[u] == ON_BEHALF)
        if len(hits) == 0 or dept not in first_member:
            continue
        t = float(table.breaks_s[hits[0]]) + delay_h * 3600.0
        if dept not in sent or t < sent[dept][1]:
            sent[dept] = (first_member[dept], t, u)
    rows = list(sent.values())
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.int64),
    )


def boilerplate(rng: np.random.Generator, kinds: I64, share: float) -> I64:
    """Written replies (bullets) turned into boilerplate with probability `share`."""
    if share <= 0:
        return kinds
    bullets = kinds == CONTENTS.index("bullets")
    swap = bullets & (rng.random(len(kinds)) < share)
    return np.where(swap, CONTENTS.index("form_letter"), kinds)

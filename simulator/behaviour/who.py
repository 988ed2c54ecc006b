"""Who replies, who sends an out-of-office reply, whose address bounces, what kind of text.

Theory of operation: each person carries one uniform draw `u`; they reply when `u` is
below the propensity of the directive in force at the moment they would reply. One draw
per person keeps the choices nested: everyone who replies under a "pause" would also
have replied under "comply", so a pause cancels replies and never adds new ones, and a
"voluntary" notice (OPM to agencies, Mon 24 Feb 2025) lowers the share of replies not yet sent.

- Away staff do not reply (OPM: staff on leave were not expected to); a share of them
  send one out-of-office reply, once per sender, because many tenants send none to
  outside addresses (a model assumption: no share is published).
- Stale addresses bounce, hard or soft, and never reply.
- Contractors on the list reply at most at their own, lower share.
- People whose work is all sensitive send "All of my activities are sensitive."
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.behaviour.params import Shares
from simulator.columns import CONTENTS
from simulator.scenario import ACTIONS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]


def propensity(action: npt.NDArray[np.integer], contractor: BOOL, shares: Shares) -> F64:
    """Share who reply under each person's action, capped for contractors."""
    by_action = np.array([shares.propensity[a] for a in ACTIONS], dtype=np.float64)
    p = by_action[action]
    return np.where(contractor, np.minimum(p, shares.contractor_reply), p)  # type: ignore[no-any-return]


def replies(
    u: F64,
    action: npt.NDArray[np.integer],
    contractor: BOOL,
    can_reply: BOOL,
    shares: Shares,
    factor: F64 | None = None,
) -> BOOL:
    """Who replies: able to (present, valid address, reply time before the deadline)
    and below the propensity in force when the reply would go out, times `factor` (an
    extension's after-deadline share; 1 when None)."""
    p = propensity(action, contractor, shares)
    return can_reply & (u < (p if factor is None else p * factor))


def present(away: BOOL, stale: BOOL) -> BOOL:
    """Who reads the broadcast and could answer it."""
    return ~away & ~stale


def auto_replies(rng: np.random.Generator, away: BOOL, stale: BOOL, shares: Shares) -> BOOL:
    """Away staff whose tenant sends their out-of-office reply outside: one each."""
    return away & ~stale & (rng.random(len(away)) < shares.auto_reply_external)


def soft_bounces(rng: np.random.Generator, n: int, shares: Shares) -> BOOL:
    """Which of `n` bounces are soft (retried, reported late) rather than hard."""
    return rng.random(n) < shares.soft_bounce_share


def content_kinds(sensitive: BOOL, form_letter: BOOL, allow_sensitive: BOOL) -> I64:
    """Index into `columns.CONTENTS` for each reply: sensitive > form letter > bullets."""
    kinds = np.full(len(sensitive), CONTENTS.index("bullets"), dtype=np.int64)
    kinds[form_letter] = CONTENTS.index("form_letter")
    kinds[sensitive & allow_sensitive] = CONTENTS.index("sensitive")
    return kinds

"""Content that breaks a round's rules: links, attachments, markings, names.

Theory of operation: each bullet reply independently carries at most one kind of
rule-breaking content, drawn at the rates the scenario sets (`content.*`). It only
counts as a violation where the rules of the system receiving it forbid that kind (a
co-worker's name is fine for OPM in round 1 but not for HHS later); elsewhere the body
keeps the rules and the violation is "". Forms, sensitive statements and machine text
carry none.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.behaviour.params import ContentShares
from simulator.columns import CONTENTS, VIOLATIONS
from simulator.rules import ContentRules

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

KINDS = VIOLATIONS[1:]  # every violation kind, without "" (no violation)


def forbidden(rules: ContentRules) -> BOOL:
    """Mask over `VIOLATIONS` of the kinds these rules forbid (index 0, "", is False)."""
    return np.array([False, *(rules.forbids(k) for k in KINDS)], dtype=np.bool_)


def draw(rng: np.random.Generator, content: I64, forbid: BOOL, shares: ContentShares) -> I64:
    """Index into `VIOLATIONS` per reply; `forbid` is [reply, len(VIOLATIONS)]."""
    rates = np.array([shares.rates[k] for k in KINDS], dtype=np.float64)
    if rates.sum() > 1.0:
        rates = rates / rates.sum()
    edges = np.cumsum(rates)
    kind = np.searchsorted(edges, rng.random(len(content)), side="right") + 1
    kind[kind > len(KINDS)] = 0
    kind[content != CONTENTS.index("bullets")] = 0
    keep = forbid[np.arange(len(kind)), kind]
    return np.where(keep, kind, 0).astype(np.int64)

"""The same storm under each defence, side by side.

Theory of operation: one scenario, one seed, the same number of runs; each case switches
on one defence (with the scenario's parameters for it, or the defaults of
`simulator/data/replyall_defences.csv`) and switches the others off, plus "none" and
"as written" (the scenario's own switches). Exchange protection appears twice, with
the original (10/5000/4h) and the current (10/2500/6h) presets. Each row holds the
medians across runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from simulator.replyall.band import band
from simulator.replyall.data import defence_defaults
from simulator.replyall.defences import DEFENCE_NAMES, ExchangeProtection
from simulator.replyall.params import ReplyAllScenario

COLUMNS = (
    "posts",
    "list_posts",
    "deliveries",
    "gigabytes",
    "peak_posts_per_s",
    "peak_deliveries_per_s",
    "max_backlog",
    "drain_h",
    "per_member",
    "per_poster",
)


@dataclass(frozen=True)
class CompareRow:
    case: str
    medians: dict[str, float]
    ended_by: str  # the most common cause across runs
    ended_at_h: float  # median

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            **self.medians,
            "ended_by": self.ended_by,
            "ended_at_h": self.ended_at_h,
        }


def _exchange(preset: str) -> Callable[[ExchangeProtection], ExchangeProtection]:
    facts = defence_defaults()

    def apply(ex: ExchangeProtection) -> ExchangeProtection:
        return replace(
            ex,
            enabled=True,
            preset=preset,
            threshold=int(facts[f"exchange_{preset}_threshold"].likely),
            min_recipients=int(facts[f"exchange_{preset}_min_recipients"].likely),
            block_hours=facts[f"exchange_{preset}_block_hours"].likely,
        )

    return apply


def _only(sc: ReplyAllScenario, name: str | None) -> ReplyAllScenario:
    return sc.with_defences(**{n: n == name for n in DEFENCE_NAMES})


def cases(sc: ReplyAllScenario) -> dict[str, ReplyAllScenario]:
    """The scenario variants compared, by label."""
    out = {"none": _only(sc, None)}
    for preset in ("original", "current"):
        base = _only(sc, None)
        ex = _exchange(preset)(base.defences.exchange_protection)
        out[f"exchange_protection ({preset})"] = replace(
            base, defences=replace(base.defences, exchange_protection=ex)
        )
    for name in DEFENCE_NAMES[1:]:
        out[name] = _only(sc, name)
    out["as written"] = sc
    return out


def compare(
    sc: ReplyAllScenario, runs: int = 20, seed: int | None = None, only: str | None = None
) -> list[CompareRow]:
    """Medians of the same seeded storm under each defence case."""
    rows = []
    for label, variant in cases(sc).items():
        if only is not None and label != "none" and not label.startswith(only):
            continue
        b = band(variant, runs, seed)
        top = max(b.ended_by.items(), key=lambda kv: kv[1])[0]
        medians = {k: b.figures[k][1] for k in COLUMNS}
        rows.append(CompareRow(label, medians, top, b.figures["ended_at_h"][1]))
    return rows

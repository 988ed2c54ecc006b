"""The reply-all storm as a report section: figures, tables and JSON.

Theory of operation: `model_storm` runs the model the way `pulsecheck replyall` shows it
(one seeded run, the same storm under each defence, and the band of many runs);
`view_of` keeps what a page shows of it (`StormView`: plain numbers and the band's
per-minute curves, which a run directory can hold), and `model_figures` and `model_parts`
turn a view into the storm curve, the MTA backlog, the defence comparison and their
tables. `replay_figures` and `replay_parts` do the same for
a scaled-down storm replayed against the reference mailbox (`storm_run`). Both the
`replyall` page and the `run` report are built from these, so they show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from matplotlib.figure import Figure
from numpy.typing import NDArray

from simulator.replyall.band import Band, band
from simulator.replyall.compare import CompareRow, compare
from simulator.replyall.observed import DeliveryCurves
from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.process import simulate
from simulator.replyall.summary import Outcome, summarize
from simulator.report.html import table_html

Figures = dict[str, tuple[str, Figure]]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class StormModel:
    scenario: ReplyAllScenario
    seed: int
    one: Outcome  # one seeded run
    rows: list[CompareRow]  # the same storm under each defence
    band: Band

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "run": self.one.row(0),
            "compare": [r.to_json() for r in self.rows],
            "band": self.band.to_json(),
        }


def model_storm(
    sc: ReplyAllScenario, runs: int, seed: int, defence: str | None = None
) -> StormModel:
    """One run, the comparison of defences (at most 20 runs each) and the band of `runs`."""
    one = summarize(simulate(sc, 1, seed))
    rows = compare(sc, min(runs, 20), seed, defence)
    return StormModel(sc, seed, one, rows, band(sc, runs, seed))


@dataclass(frozen=True)
class StormView:
    """What a page shows of a modelled storm: plain numbers and the band's curves."""

    name: str
    list_size: int
    seed: int
    queue_limit: int
    runs: int
    band_figures: dict[str, tuple[float, float, float]]  # name -> (P10, P50, P90)
    ended_by: dict[str, int]
    rows: list[CompareRow]  # the same storm under each defence
    curves: dict[str, F64]  # name -> (3, minutes): P10/P50/P90 per minute

    def to_json(self) -> dict[str, Any]:
        """Everything but the curves, which a run directory keeps as arrays."""
        return {
            "name": self.name,
            "list_size": self.list_size,
            "seed": self.seed,
            "queue_limit": self.queue_limit,
            "runs": self.runs,
            "band_figures": {k: list(v) for k, v in self.band_figures.items()},
            "ended_by": self.ended_by,
            "rows": [
                {
                    "case": r.case,
                    "medians": r.medians,
                    "ended_by": r.ended_by,
                    "ended_at_h": r.ended_at_h,
                }
                for r in self.rows
            ],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], curves: dict[str, F64]) -> StormView:
        return cls(
            name=str(doc["name"]),
            list_size=int(doc["list_size"]),
            seed=int(doc["seed"]),
            queue_limit=int(doc["queue_limit"]),
            runs=int(doc["runs"]),
            band_figures={
                k: (float(a), float(b), float(c)) for k, (a, b, c) in doc["band_figures"].items()
            },
            ended_by={k: int(v) for k, v in doc["ended_by"].items()},
            rows=[
                CompareRow(r["case"], dict(r["medians"]), r["ended_by"], float(r["ended_at_h"]))
                for r in doc["rows"]
            ],
            curves=curves,
        )


def view_of(m: StormModel) -> StormView:
    return StormView(
        name=m.scenario.name,
        list_size=m.scenario.list_size,
        seed=m.seed,
        queue_limit=int(m.scenario.mta.queue_limit),
        runs=m.band.runs,
        band_figures=dict(m.band.figures),
        ended_by=dict(m.band.ended_by),
        rows=list(m.rows),
        curves=dict(m.band.curves),
    )


def model_figures(v: StormView) -> Figures:
    from simulator.replyall import plots  # matplotlib loads only when figures are asked for

    return {
        "replyall-storm": (
            "Storm curve: messages and deliveries over time (band)",
            plots.storm_curve(v.curves, v.runs, v.name),
        ),
        "replyall-backlog": (
            "MTA queue backlog over time (band)",
            plots.backlog(v.curves, v.queue_limit),
        ),
        "replyall-defences": ("The same storm under each defence", plots.comparison(v.rows)),
    }


def model_parts(v: StormView) -> list[str]:
    """HTML: the defence comparison table and the band table."""
    rows = v.rows
    head = ["case", *rows[0].medians, "ended_by", "ended_at_h"] if rows else ["case"]
    return [
        f"<p>List of {v.list_size:,} members, seed {v.seed}. "
        f"Medians of seeded runs; the band is over {v.runs} runs.</p>",
        "<h3>Defences side by side (medians of seeded runs)</h3>",
        table_html([[r.to_json()[h] for h in head] for r in rows], head),
        f"<h3>Band over {v.runs} seeded runs</h3>",
        table_html([(k, *f) for k, f in v.band_figures.items()], ("figure", "P10", "P50", "P90")),
        f"<p>ended by: {v.ended_by}</p>",
    ]


def replay_figures(curves: DeliveryCurves, speedup: float) -> Figures:
    from simulator.replyall import plots

    return {
        "replyall-replay": (
            "Scaled-down storm in the reference mailbox: deliveries offered vs answered, "
            "and the backlog",
            plots.replay_backlog(curves, speedup),
        )
    }


def replay_parts(
    small: ReplyAllScenario, events: pa.Table, curves: DeliveryCurves, stored: dict[str, int]
) -> list[str]:
    """HTML: what was sent, what the mailbox stored, the backlog it built."""
    fan = events.column("rcpt_count").to_numpy()
    rows = [
        ("list members", small.list_size),
        ("messages sent (original, reply-alls, single answers)", events.num_rows),
        ("deliveries (recipients over all messages)", int(fan.sum())),
        ("replay speedup", small.replay.speedup),
        ("defences in the replay", small.replay.defences),
        ("acknowledged messages", stored["acknowledged"]),
        ("acknowledged and stored", stored["stored"]),
        ("lost (acknowledged, not stored)", stored["missing"]),
        ("peak deliveries waiting in front of the mailbox", round(curves.peak_backlog)),
        ("seconds from the peak until nothing waited (replay time)", round(curves.drain_s(), 3)),
    ]
    return [
        "<p>The model's storm scaled to a small list (rates per copy raised to keep each "
        "post's branching), sent open-loop to the reference SMTP mailbox: each reply-all "
        "is one transaction with a RCPT per member.</p>",
        table_html(rows, ("figure", "value")),
    ]

"""The reply-all storm as a report section: figures, tables and JSON.

Theory of operation: `model_storm` runs the model the way `pulsecheck replyall` shows it
(one seeded run, the same storm under each defence, and the band of many runs);
`model_figures` and `model_parts` turn that into the storm curve, the MTA backlog, the
defence comparison and their tables. `replay_figures` and `replay_parts` do the same for
a scaled-down storm replayed against the reference mailbox (`storm_run`). Both the
`replyall` page and the `run` report are built from these, so they show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from matplotlib.figure import Figure

from simulator.replyall.band import Band, band
from simulator.replyall.compare import CompareRow, compare
from simulator.replyall.observed import DeliveryCurves
from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.process import simulate
from simulator.replyall.summary import Outcome, summarize
from simulator.report.html import table_html

Figures = dict[str, tuple[str, Figure]]


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


def model_figures(m: StormModel) -> Figures:
    from simulator.replyall import plots  # matplotlib loads only when figures are asked for

    return {
        "replyall-storm": (
            "Storm curve: messages and deliveries over time (band)",
            plots.storm_curve(m.band),
        ),
        "replyall-backlog": ("MTA queue backlog over time (band)", plots.backlog(m.band)),
        "replyall-defences": ("The same storm under each defence", plots.comparison(m.rows)),
    }


def model_parts(m: StormModel) -> list[str]:
    """HTML: the defence comparison table and the band table."""
    rows, b = m.rows, m.band
    head = ["case", *rows[0].medians, "ended_by", "ended_at_h"] if rows else ["case"]
    return [
        f"<p>List of {m.scenario.list_size:,} members, seed {m.seed}. "
        f"Medians of seeded runs; the band is over {b.runs} runs.</p>",
        "<h3>Defences side by side (medians of seeded runs)</h3>",
        table_html([[r.to_json()[h] for h in head] for r in rows], head),
        f"<h3>Band over {b.runs} seeded runs</h3>",
        table_html([(k, *v) for k, v in b.figures.items()], ("figure", "P10", "P50", "P90")),
        f"<p>ended by: {b.ended_by}</p>",
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

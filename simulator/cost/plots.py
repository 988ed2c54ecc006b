"""Figures for the report: the cost breakdown with P10-P90 bars, and the tornado chart.

Theory of operation: each function builds a matplotlib `Figure` with the object API (no
pyplot state, no display needed) and returns it; the caller decides where it goes (the
CLI saves PNGs, the report embeds them). Dollar amounts are written as `\\$` so that
matplotlib's mathtext never reads a pair of `$` as a formula, and the money axes use a
USD tick formatter, so no offset text ("1e7") sits over the axis label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from simulator.cost.montecarlo import Percentiles
from simulator.cost.tornado import Swing
from simulator.report.money import usd_short


def _usd(value: float) -> str:
    """Short dollars, escaped for matplotlib text: 23400000 -> `\\$23.4M`."""
    return usd_short(value, sign="\\$")


USD_TICKS = FuncFormatter(lambda value, _pos: _usd(value) if value else "")


def cost_breakdown(terms: Mapping[str, Percentiles], title: str) -> Figure:
    """Horizontal bars at each term's P50 with P10-P90 whiskers; the total last."""
    names = [n for n in terms if n != "total"] + ["total"]
    p50 = [terms[n].p50 for n in names]
    err = [
        [terms[n].p50 - terms[n].p10 for n in names],
        [terms[n].p90 - terms[n].p50 for n in names],
    ]
    fig = Figure(figsize=(7.5, 0.45 * len(names) + 1.4))
    ax = fig.add_subplot()
    colors = ["#4c72b0"] * (len(names) - 1) + ["#c44e52"]
    ax.barh(names, p50, xerr=err, color=colors, capsize=3)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=max(min(v for v in p50 if v > 0) if any(p50) else 1, 1))
    ax.xaxis.set_major_formatter(USD_TICKS)
    for y, n in enumerate(names):
        ax.annotate(
            f"{_usd(terms[n].p10)} – {_usd(terms[n].p90)}",
            (terms[n].p90, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("USD (bar: P50; whiskers: P10–P90)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def tornado_chart(swings: Sequence[Swing], title: str, top: int = 10) -> Figure:
    """Bars from the total at each assumption's low end to the total at its high end."""
    shown = list(swings[:top])
    fig = Figure(figsize=(7.5, 0.45 * len(shown) + 1.4))
    ax = fig.add_subplot()
    base = shown[0].base if shown else 0.0
    for y, s in enumerate(shown):
        ax.barh(y, s.total_at_low - base, left=base, color="#4c72b0")
        ax.barh(y, s.total_at_high - base, left=base, color="#dd8452")
    ax.set_yticks(range(len(shown)), [f"{s.name}\n[{s.low:g} – {s.high:g}]" for s in shown])
    ax.invert_yaxis()
    ax.axvline(base, color="black", linewidth=0.8)
    ax.xaxis.set_major_formatter(USD_TICKS)
    ax.set_xlabel(f"total USD (others at likely; base {_usd(base)}); blue: low end, orange: high")
    ax.set_title(title)
    fig.tight_layout()
    return fig

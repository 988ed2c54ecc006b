"""Figures for the report: the storm curve, the backlog, and the defence comparison.

Theory of operation: each function takes computed results (a `Band`, comparison rows)
and returns a matplotlib `Figure`; saving is the caller's job, so these stay free of IO.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from simulator.replyall.compare import CompareRow
from simulator.replyall.observed import DeliveryCurves

F64 = NDArray[np.float64]


def _hours(n: int) -> np.ndarray:
    return np.arange(n) / 60.0


def storm_curve(curves: Mapping[str, F64], runs: int, name: str) -> Figure:
    """Posts per minute and deliveries per second, P50 with the P10-P90 band."""
    fig = Figure(figsize=(8, 5))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    posts = curves["posts"]
    t = _hours(posts.shape[1])
    ax1.fill_between(t, posts[0], posts[2], alpha=0.3, label="P10-P90")
    ax1.plot(t, posts[1], label="P50")
    ax1.set_ylabel("reply-alls / minute")
    ax1.legend()
    deliv = (curves["list_deliveries"] + curves["single_deliveries"]) / 60.0
    ax2.fill_between(t, deliv[0], deliv[2], alpha=0.3)
    ax2.plot(t, deliv[1])
    ax2.set_ylabel("deliveries / s")
    ax2.set_xlabel("hours after the send")
    fig.suptitle(f"Reply-all storm: {name} ({runs} runs)")
    return fig


def backlog(curves: Mapping[str, F64], queue_limit: int) -> Figure:
    """Deliveries waiting at the MTA (queue plus deferred), P50 with the band."""
    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    q = curves["backlog"]
    t = _hours(q.shape[1])
    ax.fill_between(t, np.maximum(q[0], 1), np.maximum(q[2], 1), alpha=0.3)
    ax.plot(t, np.maximum(q[1], 1))
    ax.axhline(queue_limit, ls="--", color="grey", label="queue limit")
    ax.set_yscale("log")
    ax.set_ylabel("deliveries waiting")
    ax.set_xlabel("hours after the send")
    ax.legend()
    return fig


def comparison(rows: list[CompareRow]) -> Figure:
    """Deliveries and time to drain under each defence (log scale, medians)."""
    fig = Figure(figsize=(8, 4))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    labels = [r.case for r in rows]
    y = np.arange(len(rows))
    ax1.barh(y, [max(r.medians["deliveries"], 1) for r in rows])
    ax1.set_xscale("log")
    ax1.set_xlabel("deliveries")
    ax1.set_yticks(y, labels)
    ax2.barh(y, [max(r.medians["drain_h"], 0.01) for r in rows])
    ax2.set_xscale("log")
    ax2.set_xlabel("hours until the queue drains")
    fig.tight_layout()
    return fig


def replay_backlog(c: DeliveryCurves, speedup: float) -> Figure:
    """The replayed storm in the reference mailbox: deliveries offered vs answered, backlog."""
    fig = Figure(figsize=(8, 5))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(c.t_s, c.offered_per_s, label="offered (intended send time)")
    ax1.plot(c.t_s, c.answered_per_s, label="answered by the mailbox")
    ax1.set_yscale("symlog", linthresh=10)
    ax1.set_ylabel("deliveries / s")
    ax1.legend()
    ax2.fill_between(c.t_s, 0, c.backlog, alpha=0.4)
    ax2.set_ylabel("deliveries waiting")
    ax2.set_xlabel(f"replay seconds (x{speedup:g} = storm seconds)")
    fig.suptitle("Scaled-down storm replayed against the reference mailbox")
    return fig

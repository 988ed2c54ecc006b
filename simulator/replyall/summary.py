"""From per-minute series to the figures a planner reads, per run.

Theory of operation: `summarize` reduces a `StormRuns` batch to one value per run:
messages and deliveries, bytes, peak posting and delivery rates (over one-minute bins),
the largest backlog and when it drains, deliveries per mailbox, and which defence ended
the storm and when. When the backlog has not drained by the horizon, the drain time is
extrapolated at full MTA capacity and flagged as estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulator.replyall.process import StormRuns

F64 = NDArray[np.float64]
A_POST = 0.5  # a minute with at least this many list posts counts as storm activity


@dataclass(frozen=True)
class Outcome:
    """One value per run for each figure."""

    posts: F64
    list_posts: F64
    rejected_posts: F64
    recalls: F64
    deliveries: F64
    list_deliveries: F64
    single_deliveries: F64
    gigabytes: F64
    peak_posts_per_s: F64
    peak_deliveries_per_s: F64
    max_backlog: F64
    drain_h: F64  # hours from the send until the queue is empty
    drain_estimated: NDArray[np.bool_]
    per_member: F64  # list copies each member's mailbox received
    per_poster: F64  # auto answers and receipts into each poster's mailbox
    mailbox_rejected: F64
    storm_end_h: F64  # last minute with list posts, hours since the send
    ended_by: list[str]
    ended_at_h: F64

    def row(self, i: int) -> dict[str, Any]:
        """Run `i` as a plain dict (JSON-ready)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            item = value[i]
            out[f.name] = item if isinstance(item, str) else item.item()
        return out


def _last_active(series: F64, threshold: float) -> F64:
    active = series >= threshold
    idx = series.shape[1] - 1 - np.argmax(active[:, ::-1], axis=1)
    return np.where(active.any(axis=1), idx + 1.0, 0.0)  # minutes


def _drain(storm: StormRuns) -> tuple[F64, NDArray[np.bool_]]:
    backlog = storm.series["backlog"]
    minutes = _last_active(backlog, 1.0)
    left = backlog[:, -1]
    estimated = left >= 1.0
    extra = left / storm.scenario.mta.capacity_per_s / 60.0
    return np.where(estimated, backlog.shape[1] + extra, minutes) / 60.0, estimated


def _ended(storm: StormRuns, end_h: F64) -> tuple[list[str], F64]:
    sc, s = storm.scenario, storm.series
    d = sc.defences
    horizon = sc.horizon_h
    still = s["list_posts"][:, -60:].sum(axis=1) >= A_POST
    names: list[str] = []
    at = np.zeros(storm.runs)
    for i in range(storm.runs):
        name, when = _ended_one(storm, i, float(end_h[i]), bool(still[i]))
        names.append(name)
        at[i] = when
    if d.hidden_recipients.enabled or not sc.visible:
        return ["hidden_recipients"] * storm.runs, np.zeros(storm.runs)
    if d.sender_rate_limit.posts_allowed_per_day(sc.list_size) < 1:
        return ["sender_rate_limit"] * storm.runs, np.zeros(storm.runs)
    return names, np.minimum(at, horizon)


def _ended_one(storm: StormRuns, i: int, end_h: float, still: bool) -> tuple[str, float]:
    disabled = storm.disabled_s[i] / 3600.0
    blocked = storm.blocked_last_s[i] / 3600.0
    window_h = storm.scenario.defences.exchange_protection.window_min / 60.0
    if np.isfinite(disabled) and end_h <= disabled + 1 / 60:
        return "admin_disable", disabled
    refused = storm.series["rejected_posts"][i].sum() >= A_POST
    if np.isfinite(blocked) and end_h <= blocked + window_h and refused:
        return "exchange_protection", blocked  # a block that refused nothing ended nothing
    if still:
        return "still_running", storm.scenario.horizon_h
    if storm.pool_left[i] < 1.0:
        return "pool_exhausted", end_h
    return "interest_decayed", end_h


def summarize(storm: StormRuns) -> Outcome:
    """Reduce a batch of runs to per-run figures."""
    s, sc = storm.series, storm.scenario
    b = sc.behaviour
    end_h = _last_active(s["list_posts"], A_POST) / 60.0
    drain_h, estimated = _drain(storm)
    ended_by, ended_at = _ended(storm, end_h)
    auto = sc.list_size * (b.ooo_share + b.read_receipt_share)
    limit = sc.defences.mailbox_receiving_limit
    per_post = min(auto, float(limit.per_hour)) if limit.enabled else auto
    delivered = s["list_deliveries"] + s["single_deliveries"]
    return Outcome(
        posts=s["posts"].sum(axis=1),
        list_posts=s["list_posts"].sum(axis=1),
        rejected_posts=s["rejected_posts"].sum(axis=1),
        recalls=s["recalls"].sum(axis=1),
        deliveries=delivered.sum(axis=1),
        list_deliveries=s["list_deliveries"].sum(axis=1),
        single_deliveries=s["single_deliveries"].sum(axis=1),
        gigabytes=s["kb"].sum(axis=1) * 1e3 / 1e9,
        peak_posts_per_s=s["posts"].max(axis=1) / 60.0,
        peak_deliveries_per_s=delivered.max(axis=1) / 60.0,
        max_backlog=s["backlog"].max(axis=1),
        drain_h=drain_h,
        drain_estimated=estimated,
        per_member=s["list_deliveries"].sum(axis=1) / sc.list_size,
        per_poster=np.full(storm.runs, per_post),
        mailbox_rejected=s["mailbox_rejected"].sum(axis=1),
        storm_end_h=end_h,
        ended_by=ended_by,
        ended_at_h=ended_at,
    )

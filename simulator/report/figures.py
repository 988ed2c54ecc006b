"""Figures of a run, as matplotlib Figure objects (the caller decides where they go).

Theory of operation: every figure is a pure function of the results table (replay time in
microseconds since the start) or of small per-agency arrays. Time is bucketed with numpy
(`bincount` over bucket indices), never per event in Python. Given an `EventClock`, a
time axis shows the scenario's own local time with replay seconds on top; without one
(a bare replay directory with no schedule), replay seconds. The report embeds the
figures in the page and also saves them as PNG.

Count axes carry no offset text that would sit over an axis label (`ScalarFormatter`
without offset), and text that comes from outside (a server's reason) has its "$"
escaped, so matplotlib keeps it rather than reading it as mathtext.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from simulator.report.clock import EventClock
from simulator.report.summary import ACKNOWLEDGED, column

Array = np.ndarray[Any, Any]
BUCKETS = 120  # time buckets across a run


def _bucket_width_us(results: pa.Table) -> int:
    ends = [column(results, "t_intended").max(), column(results, "t_done").max()]
    span = max(int(max(ends)), 1)
    return max(span // BUCKETS, 1000)


def _per_bucket(times_us: Array, width_us: int, n: int) -> Array:
    times_us = times_us[times_us >= 0]
    return np.bincount((times_us // width_us).astype(np.int64), minlength=n)[:n]


def _axes(title: str, ylabel: str) -> tuple[Figure, Any]:
    fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    return fig, ax


def plain(text: str) -> str:
    """Text matplotlib draws as written: a "$" is not the start of mathtext."""
    return text.replace("$", r"\$")


def _x(seconds: Array, clock: EventClock | None) -> Array:
    return seconds if clock is None else clock.dates(seconds)


def _time_axis(ax: Any, clock: EventClock | None, label: str) -> None:
    if clock is None:
        ax.set_xlabel(label)
    else:
        clock.decorate(ax)


def arrival_vs_send(results: pa.Table, clock: EventClock | None = None) -> Figure:
    """Scheduled arrivals beside actual sends: a gap is the generator falling behind."""
    width = _bucket_width_us(results)
    n = BUCKETS + 2
    x = _x(np.arange(n) * width / 1e6, clock)
    fig, ax = _axes("Arrival curve (intended) vs send rate (actual)", "events / replay s")
    rate = 1e6 / width
    ax.plot(x, _per_bucket(column(results, "t_intended"), width, n) * rate, label="intended")
    ax.plot(x, _per_bucket(column(results, "t_sent"), width, n) * rate, label="sent", ls="--")
    _time_axis(ax, clock, "replay time (s)")
    ax.legend()
    return fig


def throughput_over_time(results: pa.Table, clock: EventClock | None = None) -> Figure:
    width = _bucket_width_us(results)
    n = BUCKETS + 2
    ok = np.isin(column(results, "outcome"), ACKNOWLEDGED)
    fig, ax = _axes("Throughput: acknowledged events", "events / replay s")
    ax.plot(
        _x(np.arange(n) * width / 1e6, clock),
        _per_bucket(column(results, "t_done")[ok], width, n) * 1e6 / width,
    )
    _time_axis(ax, clock, "replay time (s)")
    return fig


def latency_over_time(results: pa.Table, clock: EventClock | None = None) -> Figure:
    """p50 / p99 / max of the corrected latency per bucket of intended time."""
    width = _bucket_width_us(results)
    latency = column(results, "latency_corrected_us")
    keep = latency >= 0
    bucket = (column(results, "t_intended")[keep] // width).astype(np.int64)
    latency = latency[keep] / 1000.0
    fig, ax = _axes("Latency from intended send time, over time", "ms")
    if latency.size:
        order = np.argsort(bucket, kind="stable")
        bucket, latency = bucket[order], latency[order]
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        groups = np.split(latency, starts[1:])
        x = _x(bucket[starts] * width / 1e6, clock)
        for q, style in ((50, "-"), (99, "--"), (100, ":")):
            ax.plot(
                x, [np.percentile(g, q) for g in groups], style, label=f"p{q}" if q < 100 else "max"
            )
        ax.set_yscale("log")
        ax.legend()
    _time_axis(ax, clock, "intended time (s)")
    return fig


def hdr_percentiles(results: pa.Table) -> Figure:
    """Latency by percentile on the HdrHistogram axis: corrected vs uncorrected."""
    fig, ax = _axes("Latency by percentile (HdrHistogram style)", "ms")
    quantiles = 1 - np.logspace(0, -5, 200)
    for name, label in (
        ("latency_corrected_us", "corrected (from intended)"),
        ("latency_uncorrected_us", "uncorrected (from actual send)"),
    ):
        values = column(results, name)
        values = values[values >= 0]
        if values.size:
            ax.plot(1 / (1 - quantiles), np.quantile(values, quantiles) / 1000.0, label=label)
    ax.set_xscale("log")
    ticks = [1, 10, 100, 1000, 10000, 100000]
    ax.set_xticks(ticks, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
    ax.set_xlabel("percentile")
    ax.legend()
    return fig


def errors_over_time(results: pa.Table, clock: EventClock | None = None) -> Figure:
    width = _bucket_width_us(results)
    n = BUCKETS + 2
    outcome = column(results, "outcome")
    reason = column(results, "error")
    failed = ~np.isin(outcome, ACKNOWLEDGED)
    fig, ax = _axes("Failed events over time, by reason", "events / replay s")
    x = _x(np.arange(n) * width / 1e6, clock)
    for name in np.unique(reason[failed])[:8]:
        pick = failed & (reason == name)
        ax.plot(
            x,
            _per_bucket(column(results, "t_intended")[pick], width, n) * 1e6 / width,
            label=plain(str(name)) or "unknown",
        )
    if failed.any():
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no failed events", ha="center", va="center", transform=ax.transAxes)
    _time_axis(ax, clock, "intended time (s)")
    return fig


def response_by_agency(recipients: Mapping[str, int], replies: Mapping[str, int]) -> Figure:
    """Share of each department's recipients who replied."""
    agencies = sorted(recipients, key=lambda a: -recipients[a])
    rates = [replies.get(a, 0) / max(recipients[a], 1) for a in agencies]
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(agencies) + 1.2), layout="constrained")
    ax.barh(agencies[::-1], rates[::-1])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of recipients who replied")
    ax.set_title("Response rate by department")
    ax.grid(alpha=0.3, axis="x")
    return fig

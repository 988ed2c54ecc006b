"""Live Prometheus metrics of a running replay, served on a loopback port.

Theory of operation: the engine never calls this module. Attached with the engine's
`on_start` hook, a task on the replay's own event loop wakes every `REFRESH_S`, reads
from the `Recorder` only the events that finished since its last refresh (the recorder
keeps their positions in finishing order, as `simulator.replay.live` reads them), adds
them to running totals and bucket counts with whole-array numpy, and publishes the result
as one immutable `Snapshot`. A refresh costs the same on the millionth event as on the
first and never scans whole columns.

Thread safety: prometheus-client answers scrapes from its own HTTP thread. That thread
never touches the recorder or the running totals; `ReplayCollector.collect` reads the
one reference to the latest `Snapshot` (a single attribute read, atomic under the
interpreter lock) and renders it. Only the loop's thread writes the totals and replaces
the snapshot; after the loop ends, the final refresh runs on the thread that ran it. A
scrape therefore always sees one consistent refresh: counts, in-flight and histograms
from the same instant, never a half-updated mix.

Names follow Prometheus conventions (`_total` counters, `_seconds` histograms):
pulsecheck_events_scheduled, _sent_total, _acknowledged_total, _late_total,
_failed_total{outcome,reason}, _dropped_total{reason}, _in_flight, and
pulsecheck_latency_corrected_seconds / pulsecheck_latency_uncorrected_seconds (latency
from the intended send time, wrk2 style, and from the actual send) with buckets from
1 ms to 60 s. "late" is an acknowledged event sent more than `late_after_ms` behind its
intended time; "failed" is every event that was not acknowledged (rejected, error,
timeout, dropped), "dropped" the ones that never went out. After the replay the server
stays up for `linger_s` with the final counts (pulsecheck_replay_finished = 1), so a
last scrape sees them. Metrics are served by single-process replays only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from simulator.columns import OUTCOMES
from simulator.safety import check_host
from simulator.traffic.outcomes import DROPPED, OK
from simulator.traffic.record import Recorder
from simulator.validation import InputError

I64 = npt.NDArray[np.int64]

REFRESH_S = 0.5
DEFAULT_LINGER_S = 5.0
BUCKETS_S: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
BUCKETS_S += (1.0, 2.5, 5.0, 10.0, 30.0, 60.0)  # upper bounds (le), then +Inf
_BUCKETS_US = np.array([round(b * 1e6) for b in BUCKETS_S], dtype=np.int64)


@dataclass(frozen=True)
class MetricsOptions:
    """Where to serve metrics and how long to stay up after the replay."""

    port: int  # 0: any free port (see `MetricsServer.port`)
    host: str = "127.0.0.1"
    linger_s: float = DEFAULT_LINGER_S
    allow_remote: bool = False
    source: str = "command line"
    field: str = "--metrics-port"


@dataclass(frozen=True)
class Histogram:
    """Per-bucket counts (the last one is +Inf) and the sum of the values, in seconds."""

    counts: tuple[int, ...]
    sum_s: float

    def cumulative(self) -> list[tuple[str, float]]:
        edges = [f"{b:g}" for b in BUCKETS_S] + ["+Inf"]
        return list(zip(edges, np.cumsum(self.counts).tolist(), strict=True))

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Snapshot:
    """Every figure of one refresh; replaced whole, never changed."""

    scheduled: int
    sent: int
    acknowledged: int
    late: int
    failed: tuple[tuple[str, str, int], ...]  # (outcome, reason, count)
    in_flight: int
    corrected: Histogram
    uncorrected: Histogram
    finished: bool = False

    @property
    def dropped(self) -> dict[str, int]:
        name = OUTCOMES[DROPPED]
        return {reason: n for outcome, reason, n in self.failed if outcome == name}


class _Buckets:
    def __init__(self) -> None:
        self.counts = np.zeros(len(_BUCKETS_US) + 1, dtype=np.int64)
        self.sum_us = 0

    def add(self, values_us: I64) -> None:
        where = np.searchsorted(_BUCKETS_US, values_us, side="left")  # le is inclusive
        self.counts += np.bincount(where, minlength=len(self.counts))
        self.sum_us += int(values_us.sum())

    def frozen(self) -> Histogram:
        return Histogram(tuple(self.counts.tolist()), self.sum_us / 1e6)


class ReplayFigures:
    """Running totals of one recorder, updated from the events finished since last time.
    Call `refresh` from the thread that writes the recorder."""

    def __init__(self, rec: Recorder, late_after_ms: float) -> None:
        self.rec = rec
        self.late_after_us = int(late_after_ms * 1000)
        self.seen = 0
        self.acknowledged = 0
        self.late = 0
        self.sent_finished = 0  # finished events that had gone out
        self.failed: dict[tuple[int, int], int] = {}  # (outcome, error code) -> count
        self.corrected = _Buckets()
        self.uncorrected = _Buckets()

    def refresh(self, finished: bool = False) -> Snapshot:
        rec = self.rec
        end = rec.finished
        new = rec.finish_order[self.seen : end]
        self.seen = end
        if len(new):
            self._add(new)
        names = rec.error_names()
        failed = tuple(
            (OUTCOMES[outcome], names[code], n) for (outcome, code), n in self.failed.items()
        )
        return Snapshot(
            scheduled=len(rec.sent),
            sent=rec.sends,
            acknowledged=self.acknowledged,
            late=self.late,
            failed=failed,
            in_flight=rec.sends - self.sent_finished,
            corrected=self.corrected.frozen(),
            uncorrected=self.uncorrected.frozen(),
            finished=finished,
        )

    def _add(self, new: I64) -> None:
        rec = self.rec
        outcome, sent, intended = rec.outcome[new], rec.sent[new], rec.intended[new]
        self.sent_finished += int((sent >= 0).sum())
        ok = outcome == OK
        self.acknowledged += int(ok.sum())
        self.late += int((ok & (sent - intended > self.late_after_us)).sum())
        bad = ~ok
        if bad.any():
            pairs = outcome[bad].astype(np.int64) * 65536 + rec.error[new][bad]
            for key, n in zip(*np.unique(pairs, return_counts=True), strict=True):
                k = (int(key) // 65536, int(key) % 65536)
                self.failed[k] = self.failed.get(k, 0) + int(n)
        done = rec.done_at[new]
        answered = done >= 0
        if answered.any():
            self.corrected.add(done[answered] - intended[answered])
            went = answered & (sent >= 0)
            self.uncorrected.add(done[went] - sent[went])


class ReplayCollector(Collector):
    """Renders the latest snapshot when Prometheus scrapes (on the server's thread)."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Any]:
        snap = self.snapshot  # one reference read: a whole, consistent refresh
        if snap is None:
            return
        yield GaugeMetricFamily(
            "pulsecheck_events_scheduled", "Events in the replay's schedule.", snap.scheduled
        )
        yield CounterMetricFamily(
            "pulsecheck_events_sent", "Events that went out (retries not counted).", snap.sent
        )
        yield CounterMetricFamily(
            "pulsecheck_events_acknowledged",
            "Events the target acknowledged (on time or late).",
            snap.acknowledged,
        )
        yield CounterMetricFamily(
            "pulsecheck_events_late",
            "Acknowledged events sent more than late_after_ms behind their intended time.",
            snap.late,
        )
        failed = CounterMetricFamily(
            "pulsecheck_events_failed",
            "Events not acknowledged: rejected, error, timeout or dropped, by reason.",
            labels=("outcome", "reason"),
        )
        for outcome, reason, n in snap.failed:
            failed.add_metric((outcome, reason), n)
        yield failed
        dropped = CounterMetricFamily(
            "pulsecheck_events_dropped",
            "Events that never went out, by reason.",
            labels=("reason",),
        )
        for reason, n in snap.dropped.items():
            dropped.add_metric((reason,), n)
        yield dropped
        yield GaugeMetricFamily(
            "pulsecheck_events_in_flight", "Events sent and not answered yet.", snap.in_flight
        )
        for name, hist, what in (
            ("corrected", snap.corrected, "from the intended send time (coordinated omission)"),
            ("uncorrected", snap.uncorrected, "from the actual send"),
        ):
            yield HistogramMetricFamily(
                f"pulsecheck_latency_{name}_seconds",
                f"Latency of answered events {what}.",
                buckets=hist.cumulative(),
                sum_value=hist.sum_s,
            )
        yield GaugeMetricFamily(
            "pulsecheck_replay_finished", "1 once the replay has ended.", int(snap.finished)
        )


class MetricsServer:
    """A metrics endpoint for one replay: `attach(rec, start)` as the engine's `on_start`
    hook, `finish()` after the replay, `linger()`, then `close()`."""

    def __init__(self, options: MetricsOptions, late_after_ms: float) -> None:
        check_host(options.host, options.allow_remote, "--metrics-host")
        self.options = options
        self.late_after_ms = late_after_ms
        self.collector = ReplayCollector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        try:
            self._server, self._thread = start_http_server(
                options.port, addr=options.host, registry=registry
            )
        except OSError as err:
            raise InputError(
                options.source, options.field, options.port, f"cannot serve metrics: {err}"
            ) from None
        self.figures: ReplayFigures | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = self.options.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/metrics"

    def attach(self, rec: Recorder, start_loop_time: float) -> None:
        self.figures = ReplayFigures(rec, self.late_after_ms)
        self.collector.snapshot = self.figures.refresh()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        assert self.figures is not None
        while True:
            await asyncio.sleep(REFRESH_S)
            self.collector.snapshot = self.figures.refresh()

    def _stop_refresh(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # its loop may be closed already
                task.cancel()

    def finish(self) -> None:
        """The final figures (the replay's loop has ended: no writer is left)."""
        self._stop_refresh()
        if self.figures is not None:
            self.collector.snapshot = self.figures.refresh(finished=True)

    def linger(self) -> None:
        """Stay up `linger_s` so a last scrape sees the final counts; Ctrl-C ends it."""
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(max(0.0, self.options.linger_s))

    def close(self) -> None:
        self._stop_refresh()
        with contextlib.suppress(OSError):
            self._server.shutdown()
            self._server.server_close()
        self._thread.join(timeout=5)

"""What live Prometheus metrics cost a replay: one refresh, and the replay beside none.

Two figures, side by side and repeated:
  - one refresh on a million-event run with 5,000 events finished since the last one:
    `ReplayFigures.refresh` (numpy over the new events only, into bucket counts) against
    prometheus-client's own `Counter.inc` / `Histogram.observe` called per event (how an
    instrumented client usually reports), and against recomputing every figure from the
    whole result columns (what a collector reading the recorder at scrape time without a
    cursor would do);
  - a replay of in-memory events (FakeTarget: no network, so the engine's own cost shows)
    with and without `MetricsServer` attached and a scraper reading /metrics every 0.2 s:
    events per CPU-second of this process.

Run: python benchmarks/bench_metrics.py [--repeats 3] [--events 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, Counter, Histogram

from simulator.replay import ReplayOptions, replay
from simulator.replay.fake import FakeTarget
from simulator.replay.metrics import BUCKETS_S, MetricsOptions, MetricsServer, ReplayFigures
from simulator.replay.workers import new_event_loop
from simulator.traffic.outcomes import OK
from simulator.traffic.record import Recorder
from tests.replay.tables import schedule, workforce

N = 1_000_000
NEW = 5_000  # events finished between two refreshes (10,000/s at the 0.5 s refresh)


def filled_recorder() -> Recorder:
    rec = Recorder(np.arange(N, dtype=np.int64), np.arange(N, dtype=np.int64) * 100)
    rec.sent[:] = rec.intended + 500
    rec.done_at[:] = rec.sent + 2_000
    rec.outcome[:] = OK
    rec.status[:] = 250
    rec.sends = N
    return rec


def finish(rec: Recorder, start: int, count: int) -> None:
    rec.finish_order[start : start + count] = np.arange(start, start + count)
    rec.finished = start + count


def time_refresh(repeats: int) -> dict[str, float]:
    """Milliseconds for one refresh of NEW events on a run of N, three ways."""
    rec = filled_recorder()
    out: dict[str, list[float]] = {"cursor": [], "per event": [], "whole columns": []}
    for _ in range(repeats):
        figures = ReplayFigures(rec, 10.0)
        finish(rec, 0, N - NEW)
        figures.refresh()  # read everything up to the last NEW
        finish(rec, N - NEW, NEW)
        t0 = time.perf_counter()
        figures.refresh()
        out["cursor"].append(time.perf_counter() - t0)

        registry = CollectorRegistry()
        acked = Counter("acked", "", registry=registry)
        hist = Histogram("lat", "", buckets=BUCKETS_S, registry=registry)
        new = rec.finish_order[N - NEW : N]
        t0 = time.perf_counter()
        latency = ((rec.done_at[new] - rec.intended[new]) / 1e6).tolist()
        for value in latency:
            acked.inc()
            hist.observe(value)
        out["per event"].append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        done = rec.done_at >= 0
        ok = rec.outcome == OK
        _ = int(ok.sum()), int(((rec.sent - rec.intended > 10_000) & ok).sum())
        edges = np.array([round(b * 1e6) for b in BUCKETS_S])
        np.bincount(np.searchsorted(edges, (rec.done_at - rec.intended)[done]), minlength=16)
        np.bincount(np.searchsorted(edges, (rec.done_at - rec.sent)[done]), minlength=16)
        out["whole columns"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1000 for k, v in out.items()}


def scrape_until(url: str, stop: threading.Event, count: list[int]) -> None:
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
            count[0] += 1
        except OSError:
            pass
        stop.wait(0.2)


def time_replay(events: int, metrics: bool) -> tuple[float, int]:
    """Events per CPU-second of a replay against FakeTarget; scrapes answered."""
    table = schedule(["reply"] * events, gap_us=0)
    wf = workforce(events + 2)
    options = ReplayOptions(concurrency=64, max_duration_s=600, drop_after_s=1e9)
    server = MetricsServer(MetricsOptions(port=0), 10.0) if metrics else None
    stop, scrapes = threading.Event(), [0]
    scraper = None
    if server is not None:
        options.on_start = server.attach
        scraper = threading.Thread(target=scrape_until, args=(server.url, stop, scrapes))
        scraper.start()
    cpu0 = time.process_time()
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            result = runner.run(replay(table, wf, FakeTarget(), options))
        cpu = time.process_time() - cpu0
    finally:
        stop.set()
        if scraper is not None:
            scraper.join()
        if server is not None:
            server.finish()
            server.close()
    assert result.summary["acknowledged"] == events, result.summary["outcomes"]
    return events / cpu, scrapes[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    ms = time_refresh(args.repeats)
    print(f"one refresh, {NEW:,} new events on a {N:,}-event run (median of {args.repeats}):")
    print(f"  ReplayFigures.refresh (cursor, numpy)      {ms['cursor']:8.2f} ms")
    print(f"  prometheus-client inc/observe per event    {ms['per event']:8.2f} ms")
    print(f"  whole-column recompute                     {ms['whole columns']:8.2f} ms")
    rows: dict[str, list[float]] = {"without metrics": [], "with metrics + scraper": []}
    scrapes = 0
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        rows["without metrics"].append(time_replay(args.events, False)[0])
        rate, seen = time_replay(args.events, True)
        rows["with metrics + scraper"].append(rate)
        scrapes += seen
    print(f"replay of {args.events:,} in-memory events, events per CPU-second (median):")
    for name, rates in rows.items():
        print(f"  {name:<24} {statistics.median(rates):12,.0f}")
    print(f"  ({scrapes} scrapes answered during the metered replays)")


if __name__ == "__main__":
    main()

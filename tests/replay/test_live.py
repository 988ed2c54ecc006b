"""The replay's live view: labelled windows, counts, event clock, ETA, status lines."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
from rich.console import Console

from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.fake import FakeTarget
from simulator.replay.live import EventClock, LiveDisplay, LiveFigures, render, snapshot, status
from simulator.traffic.outcomes import DROPPED, ERROR, OK, REJECTED, Outcome
from simulator.traffic.record import Recorder
from tests.replay.tables import schedule, workforce

T0 = 1_740_240_000_000_000  # 2025-02-22 16:00 UTC, the first event of tables.schedule


def test_snapshot_reads_rate_p99_errors_and_lag() -> None:
    rec = Recorder(np.arange(3, dtype=np.int64), np.array([0, 1000, 2000], dtype=np.int64))
    rec.mark_sent(0, 0)
    rec.finish(0, 4000, Outcome(201, OK, 1), 0)
    rec.mark_sent(1, 6000)  # 5 ms behind schedule
    rec.finish(1, 8000, Outcome(500, ERROR, 1, "http 500"), 0)
    f = snapshot(rec, elapsed_us=10_000, window_us=1_000_000)
    assert f.rate_1s == 2.0  # two answers in the last second
    assert (f.errors, f.done, f.total, f.acknowledged) == (1, 2, 3, 1)
    assert f.lag_ms == 5.0
    assert 4.0 <= f.p99_1s_ms <= 7.0 and 4.0 <= f.p99_run_ms <= 7.01  # HdrHistogram: 3 digits


def test_figures_read_only_what_finished_since_the_last_refresh() -> None:
    rec = Recorder(np.arange(4, dtype=np.int64), np.array([0, 0, 2_000_000, 2_000_000]))
    figures = LiveFigures(rec, window_us=1_000_000)
    for i, (sent, done) in enumerate([(0, 50_000), (10_000, 30_000)]):
        rec.mark_sent(i, sent)
        rec.finish(i, done, Outcome(201, OK, 1), 0)
    first = figures.update(elapsed_us=100_000)
    assert first.rate_1s == 2.0 and first.lag_ms == 10.0 and figures.seen == 2
    assert first.late == 0  # 10 ms behind is not more than 10 ms
    rec.mark_sent(2, 2_000_000)
    rec.finish(2, 2_004_000, Outcome(201, OK, 1), 0)
    rec.drop(3, "behind schedule")  # finished, but never answered
    later = figures.update(elapsed_us=2_100_000)
    assert figures.seen == 4
    assert later.rate_1s == 1.0  # the first two answers are out of the window now
    assert later.lag_ms == 0.0 and 3.9 <= later.p99_1s_ms <= 4.0
    assert later.p99_run_ms >= 49.0  # the whole run still holds the 50 ms answer
    assert (later.done, later.errors, later.dropped, later.acknowledged) == (4, 0, 1, 3)


def test_counts_late_rejected_dropped_clock_and_eta() -> None:
    rec = Recorder(np.arange(4, dtype=np.int64), np.array([0, 1_000_000, 2_000_000, 9_000_000]))
    figures = LiveFigures(rec, late_after_us=10_000)
    rec.mark_sent(0, 20_000)  # 20 ms behind schedule: late
    rec.finish(0, 30_000, Outcome(250, OK, 1), 0)
    rec.mark_sent(1, 1_000_000)
    rec.finish(1, 1_002_000, Outcome(550, REJECTED, 1, "rule"), 0)
    f = figures.update(elapsed_us=3_000_000)
    assert (f.acknowledged, f.late, f.rejected, f.dropped) == (1, 1, 1, 0)
    assert f.clock_us == 1_000_000  # the latest finished event was due at 1 s
    assert f.eta_s == 6.0 + 2.0  # the last event is due in 6 s, and the run is 2 s behind
    rec.drop(2, "behind schedule")
    assert figures.update(elapsed_us=3_500_000).dropped == 1
    assert rec.outcome[2] == DROPPED


def test_event_clock_is_the_scenario_time_in_its_zone() -> None:
    clock = EventClock(T0 + 30 * 60 * 1_000_000, speedup=1000.0, timezone="America/New_York")
    assert clock.label(0) == "Sat 22 Feb 11:30 EST"
    assert clock.label(3_600_000) == "Sat 22 Feb 12:30 EST"  # 3.6 s of replay: an hour
    assert clock.label(54_000_000) == "Sun 23 Feb 02:30 EST"
    assert EventClock(T0, 1.0).label(0) == "Sat 22 Feb 16:00 UTC"


def _watched_replay(late_ms: float = 10.0) -> tuple[LiveDisplay, dict[str, Any], str]:
    """A real replay (in-memory target) watched by a display printing status lines."""
    events = schedule(["reply"] * 80, gap_us=2_000_000)  # 2 s apart in scenario time
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=False)
    clock = EventClock(T0, speedup=1000.0, timezone="America/New_York")
    display = LiveDisplay(console, clock, limit_s=0.12, late_after_ms=late_ms, every_s=0.02)
    options = ReplayOptions(
        speedup=1000.0,
        concurrency=1,
        max_duration_s=0.12,  # events due after 120 ms are dropped
        grace_s=2.0,
        late_after_ms=late_ms,
        on_start=display.attach,
    )
    target = FakeTarget(latency_s=0.01)  # due 2 ms apart, 10 ms each on one connection:
    # the run falls behind by 8 ms an event, so all but the first two go out late

    async def main() -> dict[str, Any]:
        result = await replay(events, workforce(200), target, options)
        display.close()
        return result.summary

    summary = asyncio.run(main())
    return display, summary, buffer.getvalue()


def test_whole_run_figures_at_the_end_are_the_runs_own() -> None:
    display, summary, _ = _watched_replay()
    f = display.last
    assert f is not None
    outcomes = summary["outcomes"]
    assert f.done == f.total == summary["events"] == 80
    assert f.acknowledged == summary["acknowledged"] > 0
    assert f.late == outcomes["late"] > 0
    assert f.dropped == outcomes["dropped"] > 0
    assert f.p99_run_ms == summary["latency_corrected_ms"]["p99"]  # same histogram


def test_status_lines_fit_80_columns_and_label_their_windows() -> None:
    _, summary, text = _watched_replay()
    lines = text.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    assert "\r" not in text  # lines for a log, no carriage-return redraws
    last = " ".join(line.strip() for line in lines[-3:])
    assert "replay 80 of 80 events (100%)" in last
    assert "last 1 s:" in last and "whole run:" in last
    assert "events of Sat 22 Feb" in last and "EST" in last
    assert f"{summary['outcomes']['late']:,} late" in last
    assert f"{summary['outcomes']['dropped']:,} dropped" in last


def test_terminal_view_labels_windows_and_counts() -> None:
    display, _, _ = _watched_replay()
    assert display.last is not None
    console = Console(file=io.StringIO(), width=80, color_system=None)
    clock = EventClock(T0, 1000.0, "America/New_York")
    console.print(render(display.last, clock))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    for label in ("last 1 s", "whole run", "p99 ms", "late (>10 ms)", "dropped", "ETA"):
        assert label in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert status(display.last, clock, width=60) and all(
        len(line) <= 60 for line in status(display.last, clock, width=60)
    )

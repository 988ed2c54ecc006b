"""A live view of a running replay: labelled windows, outcome counts, event clock, ETA.

Theory of operation: the engine never calls the display; every refresh the display reads
the `Recorder`. It reads only the events that finished since its last refresh (the
recorder keeps their positions in finishing order), so a refresh costs the same on the
millionth event as on the first and never stalls the event loop with a scan of whole
columns. From those new events `LiveFigures` keeps two windows, each labelled where it is
shown: "last 1 s" (rate and p99 of the answers of the last second, from the chunks of
recent answers) and "whole run" (rate since the start, and p99 from an HdrHistogram of
latency from the intended time that each refresh adds the new answers to, quantised as
the run's own histogram is, so at the end it holds exactly the run's corrected
latencies). It also keeps running counts: acknowledged, rejected, errors (errors and
timeouts), late (acknowledged but sent more than `late_after_ms` behind schedule, as the
results mark them) and dropped (never sent).

The event clock shows the intended time of the latest event that finished, on the
scenario's own calendar (`EventClock`: the schedule's first intended time plus the
offset times the speedup, in the round's time zone). The ETA is the time until the last
event the run will send is due, plus the lag the run has behind schedule now.

On a terminal the view is a rich table redrawn in place twice a second. Elsewhere (a CI
log) a carriage-return display would be one unreadable line, so the view prints a
compact status every `STATUS_EVERY_S` seconds instead, broken at phrase boundaries to fit
80 columns, and a last one when the replay ends. It renders in the loop's own thread (no
refresh thread contending for the interpreter lock).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from simulator.report.lines import fit
from simulator.traffic.outcomes import DROPPED, ERROR, OK, REJECTED, TIMEOUT
from simulator.traffic.record import Recorder, new_histogram, record_values

I64 = npt.NDArray[np.int64]

REFRESH_S = 0.5
STATUS_EVERY_S = 10.0  # a status line this often when the output is not a terminal
WINDOW_US = 1_000_000  # the "last 1 s" window
LATE_AFTER_US = 10_000  # the engine's default late_after_ms, in us


@dataclass(frozen=True)
class EventClock:
    """Replay offsets as the scenario's own time: first intended time + offset x speedup."""

    first_utc_us: int  # the schedule's earliest intended time, us since the epoch (UTC)
    speedup: float
    timezone: str = "UTC"

    def at(self, offset_us: int) -> datetime:
        start = datetime.fromtimestamp(self.first_utc_us / 1e6, UTC)
        moment = start + timedelta(microseconds=offset_us * self.speedup)
        return moment.astimezone(ZoneInfo(self.timezone))

    def label(self, offset_us: int) -> str:
        """ "Sat 22 Feb 16:31 EST": the weekday, date and minute in the time zone."""
        return self.at(offset_us).strftime("%a %d %b %H:%M %Z")


@dataclass(frozen=True)
class Figures:
    """What the live view shows at one refresh; every figure carries its window."""

    elapsed_s: float
    done: int  # events with a final outcome
    total: int  # events in the run
    acknowledged: int  # ok and late
    rejected: int
    errors: int  # errors and timeouts
    late: int  # acknowledged, but sent more than the late threshold behind schedule
    dropped: int  # never sent
    rate_1s: float  # answers per second over the last second
    rate_run: float  # answers per second since the start
    p99_1s_ms: float  # latency from the intended time, answers of the last second
    p99_run_ms: float  # the same over every answer so far
    lag_ms: float  # worst send lag behind schedule among the last second's answers
    clock_us: int | None  # intended offset of the latest event finished
    eta_s: float | None  # seconds until the run's last event is due, at today's lag
    late_after_ms: float = LATE_AFTER_US / 1000


class LiveFigures:
    """Running figures of one recorder, updated from the events finished since last time."""

    def __init__(
        self,
        rec: Recorder,
        window_us: int = WINDOW_US,
        late_after_us: int = LATE_AFTER_US,
        limit_us: int | None = None,  # the run's time limit: later events are never sent
    ) -> None:
        self.rec = rec
        self.window_us = window_us
        self.late_after_us = late_after_us
        self.seen = 0  # how many finished events have been read
        empty = np.zeros(0, dtype=np.int64)
        self.recent: deque[tuple[I64, I64, I64]] = deque([(empty, empty, empty)])
        # ^ (done at, latency, lag) of the answered events, one chunk per refresh
        self.histogram = new_histogram()  # latency from the intended time, whole run
        self.counts = dict.fromkeys(("acknowledged", "rejected", "errors", "late", "dropped"), 0)
        self.clock_us: int | None = None
        due = rec.intended
        last = int(due.max()) if len(due) else 0
        self.last_due_us = last if limit_us is None else min(last, limit_us)

    def _read_new(self) -> None:
        rec = self.rec
        end = rec.finished
        new = rec.finish_order[self.seen : end]
        self.seen = end
        if not len(new):
            return
        outcome = rec.outcome[new]
        counts = self.counts
        ok = outcome == OK
        counts["acknowledged"] += int(ok.sum())
        counts["rejected"] += int((outcome == REJECTED).sum())
        counts["errors"] += int(((outcome == ERROR) | (outcome == TIMEOUT)).sum())
        counts["dropped"] += int((outcome == DROPPED).sum())
        intended, sent = rec.intended[new], rec.sent[new]
        counts["late"] += int((ok & (sent - intended > self.late_after_us)).sum())
        latest = int(intended.max())
        self.clock_us = latest if self.clock_us is None else max(self.clock_us, latest)
        answered = new[rec.done_at[new] >= 0]  # dropped and unanswered carry no time
        if len(answered):
            done, intended = rec.done_at[answered], rec.intended[answered]
            latency = done - intended
            self.recent.append((done, latency, rec.sent[answered] - intended))
            record_values(self.histogram, latency)

    def update(self, elapsed_us: int) -> Figures:
        """The figures now: the last second's window, the whole run's, the counts."""
        self._read_new()
        floor = max(0, elapsed_us - self.window_us)
        while len(self.recent) > 1 and int(self.recent[0][0].max(initial=-1)) < floor:
            self.recent.popleft()
        done, latency, lag = (np.concatenate([c[k] for c in self.recent]) for k in range(3))
        within = done >= floor
        latency, lag = latency[within], lag[within]
        hist = self.histogram
        answered = int(hist.get_total_count())
        elapsed_s = elapsed_us / 1e6
        eta = None
        if self.clock_us is not None:
            behind = max(0, elapsed_us - self.clock_us)
            eta = max(0, self.last_due_us - elapsed_us) / 1e6 + behind / 1e6
        rec, counts = self.rec, self.counts
        return Figures(
            elapsed_s=elapsed_s,
            done=int(rec.finished),
            total=len(rec.sent),
            acknowledged=counts["acknowledged"],
            rejected=counts["rejected"],
            errors=counts["errors"],
            late=counts["late"],
            dropped=counts["dropped"],
            rate_1s=int(within.sum()) * 1_000_000 / self.window_us,
            rate_run=answered / elapsed_s if elapsed_s > 0 else 0.0,
            p99_1s_ms=float(np.percentile(latency, 99)) / 1000 if len(latency) else 0.0,
            p99_run_ms=hist.get_value_at_percentile(99) / 1000 if answered else 0.0,
            lag_ms=float(lag.max()) / 1000 if len(lag) else 0.0,
            clock_us=self.clock_us,
            eta_s=eta,
            late_after_ms=self.late_after_us / 1000,
        )


def snapshot(rec: Recorder, elapsed_us: int, window_us: int = WINDOW_US) -> Figures:
    """The figures of `LiveFigures.update`, read once from the start."""
    return LiveFigures(rec, window_us).update(elapsed_us)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "..."
    s = round(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def _progress(f: Figures) -> str:
    share = f"{100 * f.done / f.total:.0f}%" if f.total else "-"
    return f"{f.done:,} of {f.total:,} events ({share})"


def _clock(f: Figures, clock: EventClock | None) -> str:
    if f.clock_us is None:
        return "no event finished yet"
    when = clock.label(f.clock_us) if clock is not None else f"+{f.clock_us / 1e6:.1f} s"
    return f"events of {when}"


def render(f: Figures, clock: EventClock | None = None) -> Group:
    """The terminal view: a heading, the two windows side by side, the counts."""
    heading = Text(
        f"pulsecheck replay: {_progress(f)}, ETA {_duration(f.eta_s)}\n"
        f"{_clock(f, clock)}, {_duration(f.elapsed_s)} elapsed",
        style="bold",
    )
    windows = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    windows.add_column("")
    windows.add_column("last 1 s", justify="right")
    windows.add_column("whole run", justify="right")
    windows.add_row("answers /s", f"{f.rate_1s:,.0f}", f"{f.rate_run:,.0f}")
    windows.add_row("p99 ms (from intended time)", f"{f.p99_1s_ms:,.1f}", f"{f.p99_run_ms:,.1f}")
    windows.add_row("worst send lag ms", f"{f.lag_ms:,.1f}", "")
    counts = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    names = ("acknowledged", "rejected", "errors", f"late (>{f.late_after_ms:g} ms)", "dropped")
    for name in names:
        counts.add_column(name, justify="right")
    counts.add_row(*(f"{v:,}" for v in (f.acknowledged, f.rejected, f.errors, f.late, f.dropped)))
    return Group(heading, windows, counts)


def status(f: Figures, clock: EventClock | None = None, width: int = 80) -> list[str]:
    """The compact status of a non-terminal log: phrases, broken to fit `width`."""
    text = (
        f"replay {_progress(f)}, ETA {_duration(f.eta_s)}, {_clock(f, clock)}; "
        f"last 1 s: {f.rate_1s:,.0f}/s, p99 {f.p99_1s_ms:,.1f} ms; "
        f"whole run: {f.rate_run:,.0f}/s, p99 {f.p99_run_ms:,.1f} ms; "
        f"{f.acknowledged:,} acknowledged, {f.rejected:,} rejected, {f.errors:,} errors, "
        f"{f.late:,} late, {f.dropped:,} dropped"
    )
    return fit(text, width)


class LiveDisplay:
    """Attach with `attach(rec, start)` (the engine's `on_start` hook); `close()` ends it.

    On a terminal a table redrawn in place; otherwise a status line every `every_s`."""

    def __init__(
        self,
        console: Console | None = None,
        clock: EventClock | None = None,
        limit_s: float | None = None,
        late_after_ms: float = LATE_AFTER_US / 1000,
        every_s: float = STATUS_EVERY_S,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.clock = clock
        self.limit_us = None if limit_s is None else int(limit_s * 1e6)
        self.late_after_us = int(late_after_ms * 1000)
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None
        self.last: Figures | None = None  # the figures of the latest refresh

    def attach(self, rec: Recorder, start_loop_time: float) -> None:
        figures = LiveFigures(rec, late_after_us=self.late_after_us, limit_us=self.limit_us)
        run = self._live if self.console.is_terminal else self._lines
        self._task = asyncio.get_running_loop().create_task(run(figures, start_loop_time))

    def _update(self, figures: LiveFigures, start: float) -> Figures:
        elapsed_us = max(0, int((time.monotonic() - start) * 1e6))
        self.last = figures.update(elapsed_us)
        return self.last

    async def _live(self, figures: LiveFigures, start: float) -> None:
        first = render(self._update(figures, start), self.clock)
        with Live(first, console=self.console, auto_refresh=False) as live:
            try:
                while True:
                    await asyncio.sleep(REFRESH_S)
                    live.update(render(self._update(figures, start), self.clock), refresh=True)
            except asyncio.CancelledError:  # the replay ended: show its last figures
                live.update(render(self._update(figures, start), self.clock), refresh=True)
                raise

    async def _lines(self, figures: LiveFigures, start: float) -> None:
        try:
            while True:
                await asyncio.sleep(self.every_s)
                self._print(self._update(figures, start))
        except asyncio.CancelledError:
            self._print(self._update(figures, start))
            raise

    def _print(self, f: Figures) -> None:
        width = min(self.console.width, 80)
        for line in status(f, self.clock, width):
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

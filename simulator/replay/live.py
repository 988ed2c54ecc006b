"""A live terminal view of a running replay: rate, p99, errors and lag behind schedule.

Theory of operation: the engine never calls the display; twice a second it reads the
`Recorder`. It reads only the events that finished since its last refresh (the recorder
keeps their positions in finishing order), keeps those answered within the last window,
and keeps running totals, so a refresh costs the same on the millionth event as on the
first and never stalls the event loop with a scan of whole columns. It renders in the
loop's own thread (no refresh thread contending for the interpreter lock).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.live import Live
from rich.table import Table

from simulator.traffic.record import Recorder

I64 = npt.NDArray[np.int64]

REFRESH_S = 0.5
WINDOW_US = 1_000_000  # rate and p99 are over the last second


class LiveFigures:
    """Running figures of one recorder, updated from the events finished since last time."""

    def __init__(self, rec: Recorder, window_us: int = WINDOW_US) -> None:
        self.rec = rec
        self.window_us = window_us
        self.seen = 0  # how many finished events have been read
        empty = np.zeros(0, dtype=np.int64)
        self.recent: deque[tuple[I64, I64, I64]] = deque([(empty, empty, empty)])
        # ^ (done at, latency, lag) of the answered events, one chunk per refresh

    def _read_new(self) -> None:
        rec = self.rec
        end = rec.finished
        new = rec.finish_order[self.seen : end]
        self.seen = end
        new = new[rec.done_at[new] >= 0]  # answered (dropped and unanswered carry no time)
        if len(new):
            done, intended = rec.done_at[new], rec.intended[new]
            self.recent.append((done, done - intended, rec.sent[new] - intended))

    def update(self, elapsed_us: int) -> dict[str, float]:
        """Figures over the last window: rate, p99 latency and worst send lag of the
        answered events; totals of done and failed events."""
        self._read_new()
        floor = max(0, elapsed_us - self.window_us)
        while len(self.recent) > 1 and int(self.recent[0][0].max(initial=-1)) < floor:
            self.recent.popleft()
        done, latency, lag = (np.concatenate([c[k] for c in self.recent]) for k in range(3))
        within = done >= floor
        latency, lag = latency[within], lag[within]
        rec = self.rec
        return {
            "rate": int(within.sum()) * 1_000_000 / self.window_us,
            "p99_ms": float(np.percentile(latency, 99)) / 1000 if len(latency) else 0.0,
            "lag_ms": float(lag.max()) / 1000 if len(lag) else 0.0,
            "done": float(rec.finished),
            "errors": float(rec.failed),
            "total": float(len(rec.sent)),
        }


def snapshot(rec: Recorder, elapsed_us: int, window_us: int = WINDOW_US) -> dict[str, float]:
    """The figures of `LiveFigures.update`, read once from the start."""
    return LiveFigures(rec, window_us).update(elapsed_us)


def render(figures: dict[str, float]) -> Table:
    table = Table(title="pulsecheck replay", show_header=True)
    for name in ("done / total", "rate /s", "p99 ms", "errors", "lag ms"):
        table.add_column(name, justify="right")
    table.add_row(
        f"{figures['done']:.0f} / {figures['total']:.0f}",
        f"{figures['rate']:.0f}",
        f"{figures['p99_ms']:.1f}",
        f"{figures['errors']:.0f}",
        f"{figures['lag_ms']:.1f}",
    )
    return table


class LiveDisplay:
    """Attach with `attach(rec, start)` (the engine's `on_start` hook); `close()` ends it."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console  # None: the terminal
        self._task: asyncio.Task[None] | None = None

    def attach(self, rec: Recorder, start_loop_time: float) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(rec, start_loop_time))

    async def _run(self, rec: Recorder, start: float) -> None:
        figures = LiveFigures(rec)
        first = render(figures.update(0))
        with Live(first, console=self.console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(REFRESH_S)
                elapsed_us = int((time.monotonic() - start) * 1e6)
                live.update(render(figures.update(elapsed_us)), refresh=True)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

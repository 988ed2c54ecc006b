"""A live terminal view of a running replay: rate, p99, errors and lag behind schedule.

Theory of operation: the display only reads the `Recorder`'s numpy columns twice a
second; the engine never calls it, so it costs the hot loop nothing but the refresh.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from rich.live import Live
from rich.table import Table

from simulator.replay.record import Recorder

REFRESH_S = 0.5


def snapshot(rec: Recorder, elapsed_us: int, window_us: int = 1_000_000) -> dict[str, float]:
    """Figures over the last `window_us`: rate, p99 latency, lag; totals of done/errors."""
    recent = (rec.done_at >= max(0, elapsed_us - window_us)) & (rec.done_at >= 0)
    latency = rec.done_at[recent] - rec.intended[recent]
    sent = rec.sent >= 0
    lag = (rec.sent[sent] - rec.intended[sent])[-1000:]
    return {
        "rate": int(recent.sum()) * 1_000_000 / window_us,
        "p99_ms": float(np.percentile(latency, 99)) / 1000 if len(latency) else 0.0,
        "lag_ms": float(lag.max()) / 1000 if len(lag) else 0.0,
        "done": float(rec.finished),
        "errors": float(rec.failed),
        "total": float(len(rec.sent)),
    }


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

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def attach(self, rec: Recorder, start_loop_time: float) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(rec, start_loop_time))

    async def _run(self, rec: Recorder, start: float) -> None:
        with Live(render(snapshot(rec, 0)), refresh_per_second=2, transient=False) as live:
            while True:
                await asyncio.sleep(REFRESH_S)
                live.update(render(snapshot(rec, int((time.monotonic() - start) * 1e6))))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

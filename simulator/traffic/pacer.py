"""Pure pacing arithmetic: when each event is due and how late it went out.

Theory of operation: the schedule carries real intended times. A run compresses them by a
speedup into microsecond offsets from the run's start; the engine then only compares
those offsets with a clock it owns. Everything here is whole-column numpy on plain
numbers, so it is testable without a clock or a socket (like vegeta's `Pace`).

`send_order` is the one definition of which rows of a schedule a run sends, in which
order and when: the first `max_events` rows, stably sorted by intended time, the
window's stretch of them, a worker's positions within it. It needs only the
`t_intended` column, so a replay can read just the rows it sends.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

US_PER_S = 1_000_000


def intended_offsets_us(t_intended_us: I64, speedup: float) -> I64:
    """Microseconds after the first event at which each event is due, compressed."""
    if speedup <= 0:
        raise ValueError(f"speedup must be > 0, got {speedup}")
    if len(t_intended_us) == 0:
        return np.zeros(0, dtype=np.int64)
    since_first = t_intended_us.astype(np.int64) - np.int64(t_intended_us.min())
    return np.floor(since_first / speedup).astype(np.int64)


def send_order(
    t_intended_us: I64,
    speedup: float,
    max_events: int | None = None,
    window: tuple[int, int] | None = None,
    positions: I64 | None = None,
) -> tuple[I64, I64]:
    """The schedule rows a run sends, in send order, and their offsets: the rows sorted
    by intended time (ties keep the file's order); without a window the first
    `max_events` rows of the file, with one the window [first, stop) of the whole round,
    at most `max_events` of it (the clock starts at its first event); then `positions`
    within that (a worker's share, on the window's clock)."""
    t = np.asarray(t_intended_us, dtype=np.int64)
    if window is None:
        t = t[: run_window(len(t), max_events)]
    rows: I64 = np.argsort(t, kind="stable").astype(np.int64)
    if window is not None:
        first, stop = window
        rows = rows[first : first + run_window(stop - first, max_events)]
    offsets = intended_offsets_us(t[rows], speedup)
    if positions is not None:
        rows, offsets = rows[positions], offsets[positions]
    return rows, offsets


def sent_count(n_events: int, max_events: int | None, window: tuple[int, int] | None) -> int:
    """How many events `send_order` gives for a round of `n_events`."""
    if window is None:
        return run_window(n_events, max_events)
    return run_window(window[1] - window[0], max_events)


def run_window(n_events: int, max_events: int | None) -> int:
    """How many leading events a run covers. Events past the time limit stay in the run
    (they are recorded as dropped); only `max_events` shortens the run itself."""
    return n_events if max_events is None else min(n_events, max_events)


def beyond_deadline(offsets_us: I64, max_duration_s: float | None) -> npt.NDArray[np.bool_]:
    """Which events are due after the run's time limit and so can never go out."""
    if max_duration_s is None:
        return np.zeros(len(offsets_us), dtype=np.bool_)
    return offsets_us > int(max_duration_s * US_PER_S)


def wait_us(offset_us: int, elapsed_us: int) -> int:
    """How long to wait before an event is due (0 when it is due or overdue)."""
    return max(0, offset_us - elapsed_us)


def split_for_workers(n: int, workers: int) -> list[I64]:
    """Event positions per worker process, interleaved so each keeps an even rate."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return [np.arange(k, n, workers, dtype=np.int64) for k in range(workers)]


def rate_per_s(offsets_us: I64) -> float:
    """Average intended rate of a compressed schedule, events per second."""
    if len(offsets_us) < 2 or offsets_us[-1] <= offsets_us[0]:
        return float("inf") if len(offsets_us) >= 2 else 0.0
    return (len(offsets_us) - 1) * US_PER_S / float(offsets_us[-1] - offsets_us[0])

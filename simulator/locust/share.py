"""One worker's share of a storm: which event its users send next, and what happened.

Theory of operation: the same open-loop rule as the native engine. Users claim events in
intended order (`claim`); each sleeps until its event is due, drops it if it is more than
`drop_after_s` behind, else sends it and `finish`es it. The clock is passed in (seconds
on a monotonic clock whose zero is the common start), so this class never reads time and
is testable without Locust. Outcomes go into a `traffic.record.Recorder` (numpy columns)
and answered events into two interval HdrHistograms (from the intended time, and from the
actual send). `drain` hands the master everything finished since the last drain: result
rows as Arrow IPC bytes and the encoded interval histograms, which it then resets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.traffic.outcomes import PENDING, Outcome
from simulator.traffic.record import (
    HIST_HIGHEST_US,
    HIST_LOWEST_US,
    Recorder,
    new_histogram,
    results_table,
)

I64 = npt.NDArray[np.int64]
US = 1_000_000


@dataclass(frozen=True)
class Pace:
    """How a share is paced; plain numbers from the options."""

    max_duration_s: float = 600.0
    drop_after_s: float = 10.0
    late_after_ms: float = 10.0


class ShareRun:
    """Claim cursor, result columns and interval histograms of one worker's share."""

    def __init__(self, event_ids: I64, offsets_us: I64, pace: Pace) -> None:
        self.pace = pace
        self.offsets_s = (offsets_us / US).tolist()
        self.rec = Recorder(event_ids.astype(np.int64), offsets_us.astype(np.int64))
        self.runnable = int(np.searchsorted(offsets_us, pace.max_duration_s * US, "right"))
        self.cursor = 0
        self.in_flight = 0
        self.reported = np.zeros(len(event_ids), dtype=bool)
        self.corrected = new_histogram()
        self.uncorrected = new_histogram()
        self.closed = False

    def __len__(self) -> int:
        return len(self.offsets_s)

    def claim(self) -> int | None:
        """The next event to send, or None when the share has no more."""
        if self.closed or self.cursor >= self.runnable:
            return None
        j = self.cursor
        self.cursor += 1
        self.in_flight += 1
        return j

    def due_in(self, j: int, now_s: float) -> float:
        """Seconds until event `j` is due (negative when overdue)."""
        return float(self.offsets_s[j] - now_s)

    def too_late(self, j: int, now_s: float) -> bool:
        return bool(now_s - self.offsets_s[j] > self.pace.drop_after_s)

    def sent(self, j: int, now_s: float) -> None:
        self.rec.mark_sent(j, int(now_s * US))

    def finish(self, j: int, now_s: float, out: Outcome, retries: int) -> None:
        """Record the final outcome of event `j` and its latencies."""
        done_us = int(now_s * US)
        self.rec.finish(j, done_us, out, retries)
        self.in_flight -= 1
        if out.status:
            self._record(self.corrected, done_us - int(self.rec.intended[j]))
            sent = int(self.rec.sent[j])
            if sent >= 0:
                self._record(self.uncorrected, done_us - sent)

    def drop(self, j: int, reason: str) -> None:
        self.rec.drop(j, reason)
        self.in_flight -= 1

    def _rows(self, positions: I64) -> pa.Table:
        return _subset_table(self.rec, positions, int(self.pace.late_after_ms * 1000))

    @staticmethod
    def _record(hist: Any, value_us: int) -> None:
        hist.record_value(min(max(value_us, HIST_LOWEST_US), HIST_HIGHEST_US))

    @property
    def finished(self) -> bool:
        """Every claimable event has an outcome and nothing is in flight."""
        return self.cursor >= self.runnable and self.in_flight == 0

    def close(self, reason: str) -> None:
        """Stop claiming; events not yet claimed are dropped with `reason`."""
        self.closed = True
        for j in range(self.cursor, len(self)):
            self.rec.drop(j, reason)
        self.cursor = self.runnable = len(self)

    def abandon(self, reason: str) -> int:
        """At a forced end: events still in flight time out, with `reason`."""
        count = self.rec.drop_pending(reason)
        self.in_flight = 0
        return count

    def drain(self) -> dict[str, Any]:
        """Rows finished since the last drain (Arrow IPC) and the interval histograms."""
        ready = (self.rec.outcome != PENDING) & ~self.reported
        positions = np.flatnonzero(ready)
        self.reported[positions] = True
        table = self._rows(positions)
        data = {
            "rows": table_to_ipc(table),
            "corrected": self.corrected.encode(),
            "uncorrected": self.uncorrected.encode(),
            "count": len(positions),
        }
        self.corrected.reset()
        self.uncorrected.reset()
        return data


def _subset_table(rec: Recorder, positions: I64, late_after_us: int) -> pa.Table:
    """RESULTS rows of the given finished positions of a recorder."""
    names = rec.error_names()
    return results_table(
        rec.event_ids[positions], rec.intended[positions], rec.sent[positions],
        rec.done_at[positions], rec.status[positions], rec.outcome[positions],
        rec.retries[positions], rec.nbytes[positions], rec.error[positions], names,
        late_after_us,
    )  # fmt: skip


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def table_from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()

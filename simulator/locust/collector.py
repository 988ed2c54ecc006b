"""The master's side of a storm: merge what the workers report into one pulsecheck run.

Theory of operation: workers send result rows (Arrow IPC) and encoded interval
HdrHistograms, periodically through Locust's `report_to_master` and once more when their
share is done. The collector adds every histogram into two merged ones and keeps the row
batches. At the end it checks the rows against the plan: an event reported twice is
counted (and kept once), an event nobody reported is recorded as dropped with the reason
"no report from a worker", so nothing is lost silently. `write` then puts
results.parquet, both .hlog files and replay.json into the run directory with the native
engine's writer, so `pulsecheck report RUN_DIR` reads a Locust run like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.locust.share import table_from_ipc
from simulator.traffic.outcomes import DROPPED
from simulator.traffic.record import merge_results, new_histogram, results_table, write_run

I64 = npt.NDArray[np.int64]

NOT_REPORTED = "no report from a worker"


class RunCollector:
    """Merged histograms and result rows of every worker, checked against the plan."""

    def __init__(self, event_ids: I64, offsets_us: I64) -> None:
        self.event_ids = event_ids
        self.offsets_us = offsets_us
        self.corrected = new_histogram()
        self.uncorrected = new_histogram()
        self.batches: list[pa.Table] = []
        self.reports = 0
        self.done_workers: set[str] = set()

    def add(self, data: Any) -> None:
        """Merge one worker report (`ShareRun.drain` output)."""
        self.corrected.decode_and_add(data["corrected"])
        self.uncorrected.decode_and_add(data["uncorrected"])
        if data["count"]:
            self.batches.append(table_from_ipc(data["rows"]))
        self.reports += 1

    def results(self) -> tuple[pa.Table, int]:
        """The RESULTS table over the whole plan, and how many rows came twice."""
        got = merge_results(self.batches) if self.batches else _empty()
        ids = got.column("event_id").to_numpy()
        unique_ids, first = np.unique(ids, return_index=True)
        duplicates = len(ids) - len(unique_ids)
        got = got.take(pa.array(np.sort(first)))
        missing = np.setdiff1d(self.event_ids, unique_ids)
        if len(missing):
            got = merge_results([got, _dropped(missing, self._offsets_of(missing))])
        return got, int(duplicates)

    def _offsets_of(self, ids: I64) -> I64:
        order = np.argsort(self.event_ids)
        where = order[np.searchsorted(self.event_ids, ids, sorter=order)]
        return self.offsets_us[where]

    def write(self, run_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
        """Write the run directory; the summary notes duplicates and histogram counts."""
        results, duplicates = self.results()
        meta = {
            **meta,
            "duplicates_reported": duplicates,
            "histogram_count_corrected": int(self.corrected.get_total_count()),
            "histogram_count_uncorrected": int(self.uncorrected.get_total_count()),
            "worker_reports": self.reports,
        }
        return write_run(run_dir, results, meta, self.corrected, self.uncorrected)


def _empty() -> pa.Table:
    return _dropped(np.zeros(0, np.int64), np.zeros(0, np.int64))


def _dropped(ids: I64, offsets: I64) -> pa.Table:
    n = len(ids)
    minus = np.full(n, -1, np.int64)
    return results_table(
        ids.astype(np.int64), offsets.astype(np.int64), minus, minus,
        np.zeros(n, np.int16), np.full(n, DROPPED, np.int8), np.zeros(n, np.int8),
        np.zeros(n, np.int32), np.ones(n, np.int16), ["", NOT_REPORTED], 0,
    )  # fmt: skip

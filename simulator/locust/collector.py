"""The master's side of a storm: merge what the workers report into one pulsecheck run.

Theory of operation: workers send result rows (Arrow IPC), periodically through
Locust's `report_to_master` and once more when their share is done. The collector keeps
the row batches. At the end it checks the rows against the plan: an event reported twice is
counted (and kept once), an event nobody reported is recorded as dropped with the reason
"no report from a worker", so nothing is lost silently. `write` then puts
results.parquet, both .hlog files and replay.json into the run directory with the native
engine's writer, with the histograms built from the checked rows as a native run builds
them, so `pulsecheck report RUN_DIR` reads a Locust run like any other.

While the storm runs, the collector also keeps running counts of the rows that have
arrived (by outcome, and by outcome and reason), so `figures` can show pulsecheck's view
of the run (acknowledged, late, rejected by reason, dropped, corrected percentiles) in
Locust's web UI without re-reading the rows; its two live histograms take in the rows
that arrived since the last time the figures were asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.traffic.frames import table_from_ipc
from simulator.traffic.outcomes import DROPPED
from simulator.traffic.record import (
    build_histograms,
    merge_results,
    new_histogram,
    percentiles,
    record_rows,
    results_table,
    write_run,
)

I64 = npt.NDArray[np.int64]

NOT_REPORTED = "no report from a worker"


class RunCollector:
    """Result rows of every worker, checked against the plan, and live histograms."""

    def __init__(self, event_ids: I64, offsets_us: I64) -> None:
        self.event_ids = event_ids
        self.offsets_us = offsets_us
        self.corrected = new_histogram()
        self.uncorrected = new_histogram()
        self.batches: list[pa.Table] = []
        self._in_histograms = 0  # batches already in the live histograms
        self.reports = 0
        self.done_workers: set[str] = set()
        self.outcomes: dict[str, int] = {}  # rows arrived so far, by outcome
        self.reasons: dict[tuple[str, str], int] = {}  # ... by (outcome, reason) of failures

    def add(self, data: Any) -> None:
        """Take in one interval report (`simulator.traffic.frames`)."""
        if data["count"]:
            rows = table_from_ipc(data["rows"])
            self.batches.append(rows)
            self._count(rows)
        self.reports += 1

    def _count(self, rows: pa.Table) -> None:
        pairs = pa.table(
            {
                "outcome": rows.column("outcome").cast(pa.string()),
                "reason": rows.column("error").cast(pa.string()),
            }
        )
        for group in (
            pairs.group_by(["outcome", "reason"]).aggregate([("outcome", "count")]).to_pylist()
        ):
            o, e, n = str(group["outcome"]), str(group["reason"] or ""), int(group["outcome_count"])
            self.outcomes[o] = self.outcomes.get(o, 0) + n
            if e:
                self.reasons[(o, e)] = self.reasons.get((o, e), 0) + n

    def figures(self) -> dict[str, Any]:
        """pulsecheck's view of the rows arrived so far: counts and both latencies."""
        counts = self.outcomes
        for rows in self.batches[self._in_histograms :]:
            record_rows(self.corrected, self.uncorrected, rows)
        self._in_histograms = len(self.batches)
        return {
            "events": len(self.event_ids),
            "reported": sum(counts.values()),
            "acknowledged": counts.get("ok", 0) + counts.get("late", 0),
            "late": counts.get("late", 0),
            "outcomes": dict(sorted(counts.items())),
            "failed_by_reason": [
                {"outcome": o, "reason": e, "count": n}
                for (o, e), n in sorted(self.reasons.items())
            ],
            "latency_corrected_ms": percentiles(self.corrected),
            "latency_uncorrected_ms": percentiles(self.uncorrected),
        }

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
        corrected, uncorrected = build_histograms(results)
        meta = {
            **meta,
            "duplicates_reported": duplicates,
            "histogram_count_corrected": int(corrected.get_total_count()),
            "histogram_count_uncorrected": int(uncorrected.get_total_count()),
            "worker_reports": self.reports,
        }
        return write_run(run_dir, results, meta, corrected, uncorrected)


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

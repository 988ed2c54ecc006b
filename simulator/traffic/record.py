"""Results of a replay: numpy columns while running, Parquet + HdrHistograms + JSON after.

Theory of operation: recording must not slow the generator, so a `Recorder` holds one
preallocated numpy column per result field and the engine writes plain integers into
them by event position; no per-event Python object is kept. It also notes the order in
which events finish, so a live display reads only what is new. After the run, whole-column
numpy turns the columns into the `columns.RESULTS` table, marks late sends, and builds
two HdrHistograms: latency from the intended time (corrected for coordinated omission,
as wrk2) and from the actual send (uncorrected, as closed-loop tools report). Values are
quantised to the histogram's resolution and added by unique value, so a million events
cost a few thousand histogram calls.

The writing, reading and merging functions are public: `pulsecheck report`, the
`--workers` merge and the Locust integration reuse them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from simulator.columns import OUTCOMES, RESULTS
from simulator.tables import read_stage
from simulator.traffic.outcomes import DROPPED, LATE, OK, PENDING, TIMEOUT, Outcome

I64 = npt.NDArray[np.int64]

RESULTS_FILE = "results.parquet"
CORRECTED_FILE = "latency_corrected.hlog"
UNCORRECTED_FILE = "latency_uncorrected.hlog"
SUMMARY_FILE = "replay.json"
RUN_FILE = "run.json"  # the run record `pulsecheck run` writes beside the results

HIST_LOWEST_US = 1
HIST_HIGHEST_US = 3_600_000_000  # one hour
HIST_DIGITS = 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class Recorder:
    """Preallocated result columns for `n` events, written by position."""

    def __init__(self, event_ids: I64, intended_us: I64) -> None:
        n = len(event_ids)
        self.event_ids = event_ids
        self.intended = intended_us
        self.sent = np.full(n, -1, dtype=np.int64)
        self.done_at = np.full(n, -1, dtype=np.int64)
        self.status = np.zeros(n, dtype=np.int16)
        self.outcome = np.full(n, PENDING, dtype=np.int8)
        self.retries = np.zeros(n, dtype=np.int8)
        self.nbytes = np.zeros(n, dtype=np.int32)
        self.error = np.zeros(n, dtype=np.int16)
        self._errors: dict[str, int] = {"": 0}
        self.finished = 0  # events with a final outcome, for the live display
        self.failed = 0
        self.sends = 0  # events marked sent, for live metrics (in flight = sent - answered)
        self.finish_order = np.zeros(n, dtype=np.int64)  # positions, as they finished

    def _error_code(self, reason: str) -> int:
        code = self._errors.get(reason)
        if code is None:
            code = self._errors[reason] = len(self._errors)
        return code

    def mark_sent(self, i: int, t_us: int) -> None:
        self.sent[i] = t_us
        self.sends += 1

    def error_names(self) -> list[str]:
        """The reasons the `error` column's codes stand for, by code."""
        return list(self._errors)

    def finish(self, i: int, t_us: int, out: Outcome, retries: int) -> None:
        """Record the final outcome of event `i`."""
        self.done_at[i] = t_us if out.status else -1
        self.status[i] = out.status
        self.outcome[i] = out.outcome
        self.retries[i] = min(retries, 127)
        self.nbytes[i] = out.nbytes
        if out.error:
            self.error[i] = self._error_code(out.error)
        self.finish_order[self.finished] = i
        self.finished += 1
        self.failed += out.outcome != OK

    def drop(self, i: int, reason: str) -> None:
        """Record that event `i` never went out, and why."""
        self.outcome[i] = DROPPED
        self.error[i] = self._error_code(reason)
        self.finish_order[self.finished] = i
        self.finished += 1
        self.failed += 1

    def drop_pending(self, reason: str) -> int:
        """Close every event without an outcome: sent ones time out, unsent ones are
        dropped, both with `reason`. Returns how many were closed."""
        pending = self.outcome == PENDING
        count = int(pending.sum())
        if count:
            was_sent = pending & (self.sent >= 0)
            self.outcome[pending] = DROPPED
            self.outcome[was_sent] = TIMEOUT
            self.error[pending] = self._error_code(reason)
            self.finish_order[self.finished : self.finished + count] = np.flatnonzero(pending)
            self.finished += count
            self.failed += count
        return count

    def table(self, late_after_us: int) -> pa.Table:
        """The `columns.RESULTS` table; ok sends later than `late_after_us` become late."""
        return results_table(
            self.event_ids,
            self.intended,
            self.sent,
            self.done_at,
            self.status,
            self.outcome,
            self.retries,
            self.nbytes,
            self.error,
            list(self._errors),
            late_after_us,
        )


def results_table(
    event_ids: I64,
    intended: I64,
    sent: I64,
    done_at: I64,
    status: npt.NDArray[np.int16],
    outcome: npt.NDArray[np.int8],
    retries: npt.NDArray[np.int8],
    nbytes: npt.NDArray[np.int32],
    error: npt.NDArray[np.int16],
    error_names: list[str],
    late_after_us: int,
) -> pa.Table:
    """Assemble a RESULTS table from raw columns (vectorised late marking)."""
    outcome = outcome.copy()
    late = (outcome == OK) & (sent - intended > late_after_us)
    outcome[late] = LATE
    answered = done_at >= 0
    corrected = np.where(answered, done_at - intended, -1)
    uncorrected = np.where(answered & (sent >= 0), done_at - sent, -1)
    outcome_col = pa.DictionaryArray.from_arrays(
        pa.array(outcome.astype(np.int16)), pa.array(list(OUTCOMES))
    )
    error_col = pa.DictionaryArray.from_arrays(pa.array(error), pa.array(error_names))
    arrays = [
        pa.array(event_ids, pa.int64()),
        pa.array(intended, pa.int64()),
        pa.array(sent, pa.int64()),
        pa.array(done_at, pa.int64()),
        pa.array(corrected, pa.int64()),
        pa.array(uncorrected, pa.int64()),
        pa.array(status, pa.int16()),
        outcome_col,
        pa.array(retries, pa.int8()),
        pa.array(nbytes, pa.int32()),
        error_col,
    ]
    return pa.Table.from_arrays(arrays, schema=RESULTS)


# -- histograms -----------------------------------------------------------------------
def new_histogram() -> HdrHistogram:
    return HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_DIGITS)


def quantise(values: I64, digits: int = HIST_DIGITS) -> I64:
    """Each value's lowest equivalent value at the histogram's resolution (lowest = 1)."""
    sub_bucket_bits = int(np.ceil(np.log2(2 * 10**digits)))
    v = np.maximum(values.astype(np.int64), 0)
    bit_length = np.zeros(len(v), dtype=np.int64)
    nonzero = v > 0
    bit_length[nonzero] = np.floor(np.log2(v[nonzero])).astype(np.int64) + 1
    shift = np.maximum(bit_length - sub_bucket_bits, 0)
    return (v >> shift) << shift


def record_values(hist: HdrHistogram, values_us: I64) -> None:
    """Add many values at once: quantise, count unique values, record each with its count."""
    clipped = np.clip(values_us, HIST_LOWEST_US, HIST_HIGHEST_US)
    unique, counts = np.unique(quantise(clipped), return_counts=True)
    for value, count in zip(unique.tolist(), counts.tolist(), strict=True):
        hist.record_value(value, count)


def build_histograms(results: pa.Table) -> tuple[HdrHistogram, HdrHistogram]:
    """Corrected and uncorrected latency histograms of the answered events."""
    corrected, uncorrected = new_histogram(), new_histogram()
    record_rows(corrected, uncorrected, results)
    return corrected, uncorrected


def record_rows(corrected: HdrHistogram, uncorrected: HdrHistogram, results: pa.Table) -> None:
    """Add the answered events of RESULTS rows to the two latency histograms."""
    done = results.column("t_done").to_numpy() >= 0
    record_values(corrected, results.column("latency_corrected_us").to_numpy()[done])
    unc = results.column("latency_uncorrected_us").to_numpy()[done]
    record_values(uncorrected, unc[unc >= 0])


def write_histogram(path: Path, hist: HdrHistogram, duration_s: float = 0.0) -> None:
    """Write one histogram as an HdrHistogram log (.hlog) with a single interval, in us."""
    with path.open("w", encoding="utf-8") as out:
        writer = HistogramLogWriter(out)
        writer.output_log_format_version()
        writer.output_comment("[values in microseconds]")
        writer.output_legend()
        writer.output_interval_histogram(hist, 0.0, max(duration_s, 1e-6), 1000.0)


def read_histogram(path: Path) -> HdrHistogram:
    """Read an .hlog written by `write_histogram` (or any log): the sum of its intervals."""
    hist = new_histogram()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(("#", '"')):
            continue
        hist.decode_and_add(line.rsplit(",", 1)[1])
    return hist


def merge_histograms(paths: Iterable[Path]) -> HdrHistogram:
    """One histogram holding the values of several .hlog files."""
    merged = new_histogram()
    for path in paths:
        merged.add(read_histogram(path))
    return merged


# -- files ----------------------------------------------------------------------------
def write_results(run_dir: Path, results: pa.Table) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / RESULTS_FILE
    pq.write_table(results, path)
    return path


def read_results(run_dir: Path) -> pa.Table:
    return read_stage(run_dir / RESULTS_FILE, "results")


def merge_results(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate result tables (for example from worker processes) in event order."""
    combined = pa.concat_tables([t.cast(RESULTS) for t in tables]).unify_dictionaries()
    return combined.sort_by("event_id").combine_chunks()


def percentiles(hist: HdrHistogram) -> dict[str, float]:
    """p50..p99.9 and max in milliseconds (0 for an empty histogram)."""
    out = {f"p{p:g}": hist.get_value_at_percentile(p) / 1000.0 for p in PERCENTILES}
    out["max"] = hist.get_max_value() / 1000.0 if hist.get_total_count() else 0.0
    return out


def summarize(
    results: pa.Table,
    corrected: HdrHistogram,
    uncorrected: HdrHistogram,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The replay.json summary: counts by outcome, throughput, latency percentiles."""
    counts = {name: 0 for name in OUTCOMES} | value_counts(results.column("outcome"))
    sent = results.column("t_sent").to_numpy()
    done = results.column("t_done").to_numpy()
    acknowledged = counts["ok"] + counts["late"]
    span_s = (done.max() - sent[sent >= 0].min()) / 1e6 if (done >= 0).any() else 0.0
    reasons = {k: n for k, n in value_counts(results.column("error")).items() if k}
    return {
        **meta,
        "events": results.num_rows,
        "outcomes": counts,
        "acknowledged": acknowledged,
        "errors_by_reason": reasons,
        "retries": int(results.column("retries").to_numpy().astype(np.int64).sum()),
        "bytes_sent": int(results.column("bytes").to_numpy().astype(np.int64).sum()),
        "throughput_per_s": acknowledged / span_s if span_s > 0 else 0.0,
        "latency_corrected_ms": percentiles(corrected),
        "latency_uncorrected_ms": percentiles(uncorrected),
        "send_lag_ms": send_lag_percentiles(results),
    }


def value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """How often each value of a (dictionary-encoded) string column occurs; nulls skipped."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    counted = pc.value_counts(column)
    values, counts = counted.field("values").to_pylist(), counted.field("counts").to_pylist()
    return {str(v): int(n) for v, n in zip(values, counts, strict=True) if v is not None}


def send_lag_percentiles(results: pa.Table) -> dict[str, float]:
    """How far behind schedule events went out: p50/p99/max in milliseconds."""
    sent = results.column("t_sent").to_numpy()
    lag = (sent - results.column("t_intended").to_numpy())[sent >= 0]
    if len(lag) == 0:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    p50, p99 = np.percentile(lag, [50, 99])
    return {"p50": float(p50) / 1000, "p99": float(p99) / 1000, "max": float(lag.max()) / 1000}


def write_run(
    run_dir: Path,
    results: pa.Table,
    meta: Mapping[str, Any],
    corrected: HdrHistogram | None = None,
    uncorrected: HdrHistogram | None = None,
) -> dict[str, Any]:
    """Write results.parquet, both .hlog files and replay.json; return the summary."""
    if corrected is None or uncorrected is None:
        corrected, uncorrected = build_histograms(results)
    write_results(run_dir, results)
    duration = float(meta.get("duration_s", 0.0))
    write_histogram(run_dir / CORRECTED_FILE, corrected, duration)
    write_histogram(run_dir / UNCORRECTED_FILE, uncorrected, duration)
    summary = summarize(results, corrected, uncorrected, meta)
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary

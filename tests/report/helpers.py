"""A hand-made results table with known latencies and outcomes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.columns import RESULTS


def results_table(
    latency_ms: list[float], outcomes: list[str], errors: list[str] | None = None
) -> pa.Table:
    n = len(latency_ms)
    intended = np.arange(n, dtype=np.int64) * 10_000  # one event every 10 ms
    sent = intended + 500
    answered = np.array([o in ("ok", "late", "rejected") for o in outcomes])
    done = np.where(answered, intended + (np.array(latency_ms) * 1000).astype(np.int64), -1)
    corrected = np.where(answered, done - intended, -1)
    uncorrected = np.where(answered, done - sent, -1)
    columns = {
        "event_id": np.arange(n, dtype=np.int64),
        "t_intended": intended,
        "t_sent": sent,
        "t_done": done,
        "latency_corrected_us": corrected,
        "latency_uncorrected_us": uncorrected,
        "status": np.where(answered, 250, 0).astype(np.int16),
        "outcome": pa.array(outcomes).dictionary_encode(),
        "retries": np.zeros(n, dtype=np.int8),
        "bytes": np.full(n, 1000, dtype=np.int32),
        "error": pa.array(errors or [""] * n).dictionary_encode(),
    }
    table = pa.table(columns)
    return table.cast(RESULTS)

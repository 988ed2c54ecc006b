"""A hand-made results table with known latencies and outcomes, and a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.app.record import RunInfo, RunRecord, StoreCheck, write_record
from simulator.columns import RESULTS
from simulator.traffic.record import RESULTS_FILE, SUMMARY_FILE


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


FIRST_EVENT = "2025-02-22T21:30:00"  # UTC: Saturday 16:30 in New York
SPEEDUP = 20_000.0


def run_directory(folder: Path, n: int = 100) -> Path:
    """A run directory as `pulsecheck run` leaves one (results, schedule, the replay's
    summary, the record), for `n` events one every 10 ms of replay (x20,000: 5.5 hours of
    the scenario's time from Saturday 16:30 in New York): a broadcast, then replies, one
    in ten refused by a content rule and one in ten late."""
    outcomes = (["ok"] * 8 + ["late", "rejected"]) * (n // 10)
    errors = ["" if o != "rejected" else "content rule broken: link" for o in outcomes]
    results = results_table([float(i % 37) for i in range(n)], outcomes, errors)
    pq.write_table(results, folder / RESULTS_FILE)
    first = np.datetime64(FIRST_EVENT, "us")
    schedule = pa.table(
        {
            "event_id": pa.array(np.arange(n), pa.int64()),
            "t_intended": pa.array(
                first + (np.arange(n) * 10_000 * SPEEDUP).astype("timedelta64[us]"),
                pa.timestamp("us", tz="UTC"),
            ),
            "kind": pa.array(["broadcast"] + ["reply"] * (n - 1)).dictionary_encode(),
            "collection": pa.array([""] + ["opm-hr"] * (n - 1)).dictionary_encode(),
            "agency": pa.array(
                ["OPM"] + ["VA", "DOD"] * ((n - 1) // 2) + ["VA"] * (n % 2 == 0)
            ).dictionary_encode(),
        }
    )
    pq.write_table(schedule, folder / "schedule.parquet")
    replay = {"speedup": SPEEDUP, "late_after_ms": 10.0, "drop_after_s": 10.0}
    (folder / SUMMARY_FILE).write_text(json.dumps(replay))
    acknowledged = outcomes.count("ok") + outcomes.count("late")
    info = RunInfo(
        kind="mass-reply",
        scenario="scenarios/unit.toml",
        target="embedded mailbox (smtp://127.0.0.1:2525)",
        protocol="smtp",
        speedup=SPEEDUP,
        concurrency=64,
        workers=1,
        scale=0.001,
        list_size=None,
        started_at="2026-12-01T12:00:00+00:00",
        wall_s=3.2,
        version="0.1.0",
        command="pulsecheck run scenarios/unit.toml",
        timezone="America/New_York",
    )
    check = StoreCheck(acknowledged, acknowledged, 0, 0)
    write_record(folder, RunRecord(scenario_name="unit", run=info, store_check=check))
    return folder

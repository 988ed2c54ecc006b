"""Reading a replay run's files into the plain numbers capacity planning takes.

Theory of operation: this is the IO edge of `simulator.cost`. From a run directory it
reads `replay.json` (the replay summary: p99 latency from the intended time, outcomes),
`results.parquet` (when present: the acknowledgement times, to find the busiest second)
and `run.json` (when `pulsecheck run` wrote it: how many acknowledged events the store
really holds, so the acks counted are durable ones). Lost events are those with no
answer (error, timeout, dropped) plus acknowledged ones missing from the store; a
rejection is the system's answer and is not a loss. Capacity is the busiest rolling
second of acknowledgements; completions cannot outpace the server, so it is a lower bound
of what the system can do. Without results.parquet the run's mean rate is used instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.cost.capacity import US_PER_S, RunMeasure, peak_count
from simulator.tables import read_stage
from simulator.traffic.record import RESULTS_FILE, RUN_FILE, SUMMARY_FILE
from simulator.validation import InputError

ACKED = ("ok", "late")  # outcomes the replay counts as acknowledged
LOST = ("error", "timeout", "dropped")  # no answer; "rejected" is an answer, not a loss


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "(file)", str(path), "no such file") from None
    except (OSError, ValueError) as err:
        raise InputError(str(path), "(file)", str(path), f"must be readable JSON: {err}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "(file)", type(data).__name__, "must be a JSON object")
    return data


def _number(data: dict[str, Any], path: Path, *keys: str) -> float:
    value: Any = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(str(path), ".".join(keys), value, "must be a number")
    return float(value)


def peak_ack_rate(run_dir: Path) -> float | None:
    """Acks in the busiest rolling second of the run, from results.parquet; None if absent."""
    path = run_dir / RESULTS_FILE
    if not path.exists():
        return None
    table = read_stage(path, "results", ["t_done", "outcome"])
    acked = pc.is_in(table.column("outcome").cast("string"), value_set=pa.array(ACKED))
    done = np.asarray(table.column("t_done").to_numpy(), np.int64)
    mask = np.asarray(acked.to_numpy(zero_copy_only=False), np.bool_) & (done >= 0)
    return float(peak_count(done[mask], US_PER_S))


def _lost(summary: dict[str, Any], path: Path, default: float) -> float:
    outcomes = summary.get("outcomes")
    if not isinstance(outcomes, dict):
        return default
    return sum(_number(outcomes, path, name) for name in LOST if name in outcomes)


def read_run(run_dir: Path, cores: float) -> RunMeasure:
    """The capacity a run measured; `cores` is what the system under test had."""
    path = run_dir / SUMMARY_FILE
    summary = _json(path)
    events = int(_number(summary, path, "events"))
    acked = _number(summary, path, "acknowledged")
    rate = peak_ack_rate(run_dir) or _number(summary, path, "throughput_per_s")
    durable, lost = acked, _lost(summary, path, events - acked)
    run_meta = run_dir / RUN_FILE
    if run_meta.exists():
        check = _json(run_meta).get("store_check", {})
        durable = _number({"c": check}, run_meta, "c", "stored")
        lost += _number({"c": check}, run_meta, "c", "missing")
    share = durable / acked if acked > 0 else 0.0
    return RunMeasure(
        acks_per_s=rate * share,
        cores=cores,
        p99_ms=_number(summary, path, "latency_corrected_ms", "p99"),
        lost=int(lost),
        events=events,
        target=str(summary.get("target", "")),
    )

"""The master's merge: histograms add up, duplicates are counted, missing events show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simulator.locust.collector import NOT_REPORTED, RunCollector
from simulator.tables import read_stage
from tests.locust.reports import answered_report

IDS = np.arange(100, 106, dtype=np.int64)
OFFSETS = np.arange(6, dtype=np.int64) * 1000


def worker_report(positions: list[int]) -> dict:
    """A worker that sent `positions` of the plan, each answered 2 ms after it was due."""
    return answered_report(IDS[positions], OFFSETS[positions])


def test_two_disjoint_workers_merge_into_the_whole_plan(tmp_path: Path) -> None:
    collector = RunCollector(IDS, OFFSETS)
    collector.add(worker_report([0, 2, 4]))
    collector.add(worker_report([1, 3, 5]))
    results, duplicates = collector.results()
    assert duplicates == 0
    assert results.column("event_id").to_pylist() == IDS.tolist()
    assert collector.figures()["latency_corrected_ms"]["p50"] > 0
    summary = collector.write(tmp_path, {"duration_s": 1.0})
    assert summary["acknowledged"] == 6
    assert summary["histogram_count_corrected"] == 6
    table = read_stage(tmp_path / "results.parquet", "results")  # what `report` reads
    assert table.num_rows == 6
    assert json.loads((tmp_path / "replay.json").read_text())["events"] == 6


def test_an_event_reported_twice_is_counted_and_kept_once() -> None:
    collector = RunCollector(IDS, OFFSETS)
    collector.add(worker_report([0, 1, 2, 3, 4, 5]))
    collector.add(worker_report([3]))
    results, duplicates = collector.results()
    assert duplicates == 1
    assert results.num_rows == 6


def test_events_nobody_reported_are_dropped_with_a_reason() -> None:
    collector = RunCollector(IDS, OFFSETS)
    collector.add(worker_report([0, 2, 4]))  # the other worker never reported
    results, _ = collector.results()
    rows = {r["event_id"]: r for r in results.to_pylist()}
    assert [rows[i]["outcome"] for i in (101, 103, 105)] == ["dropped"] * 3
    assert rows[103]["error"] == NOT_REPORTED
    assert rows[103]["t_intended"] == 3000
    assert rows[100]["outcome"] == "ok"

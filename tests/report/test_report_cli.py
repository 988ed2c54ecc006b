"""`pulsecheck report RUN_DIR` rebuilds the page from files, and exits 99 on a failed threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from simulator.app.record import RunInfo, RunRecord, StoreCheck, write_record
from simulator.cli import main
from simulator.scenario import Threshold
from tests.report.helpers import results_table


def make_run(tmp_path: Path, thresholds: list[dict[str, object]]) -> Path:
    pq.write_table(
        results_table([1.0, 2.0, 900.0], ["ok", "ok", "ok"]), tmp_path / "results.parquet"
    )
    info = RunInfo(
        "mass-reply",
        "unit.toml",
        "embedded mailbox",
        "smtp",
        1.0,
        1,
        1,
        0.001,
        None,
        "2025-02-22T21:30:00+00:00",
        1.0,
        "test",
        "pulsecheck run unit.toml",
    )
    record = RunRecord(
        scenario_name="unit",
        run=info,
        thresholds=tuple(Threshold(**t) for t in thresholds),  # type: ignore[arg-type]
        store_check=StoreCheck(3, 3, 0, 0),
    )
    write_record(tmp_path, record)
    return tmp_path


def test_report_passes(tmp_path: Path) -> None:
    run = make_run(tmp_path, [{"metric": "lost", "op": "==", "value": 0}])
    assert main(["report", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["schema"] == "pulsecheck.summary/1"
    assert summary["events"]["lost"] == 0
    assert (run / "report.html").stat().st_size > 10_000


def test_report_exits_99_on_failed_threshold(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run = make_run(tmp_path, [{"metric": "p99_ms", "op": "<", "value": 100}])
    assert main(["report", str(run)]) == 99
    assert "threshold failed: p99_ms < 100" in capsys.readouterr().err


def test_report_without_results_is_bad_input(tmp_path: Path) -> None:
    assert main(["report", str(tmp_path)]) == 2


def test_report_of_an_older_record_is_bad_input(tmp_path: Path) -> None:
    pq.write_table(results_table([1.0], ["ok"]), tmp_path / "results.parquet")
    (tmp_path / "run.json").write_text(json.dumps({"scenario_name": "old", "stored": 1}))
    assert main(["report", str(tmp_path)]) == 2

"""`pulsecheck report RUN_DIR` rebuilds the page from files, and exits 99 on a failed threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from simulator.cli import main
from tests.report.helpers import results_table


def make_run(tmp_path: Path, thresholds: list[dict[str, object]]) -> Path:
    pq.write_table(
        results_table([1.0, 2.0, 900.0], ["ok", "ok", "ok"]), tmp_path / "results.parquet"
    )
    meta = {"scenario_name": "unit", "stored": 3, "thresholds": thresholds}
    (tmp_path / "run.json").write_text(json.dumps(meta))
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

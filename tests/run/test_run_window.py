"""`pulsecheck run --window busiest:1h` on the CI smoke scenario: only that hour replayed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "ci-smoke.toml"
HOUR_US = 3600 * 1_000_000


@pytest.mark.integration
def test_busiest_hour_run_replays_only_that_hour_and_records_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["run", str(SMOKE), "--out", str(out), "--window", "busiest:1h"])
    schedule = pq.read_table(out / "schedule.parquet")
    t = schedule.column("t_intended").cast(pa.int64()).to_numpy()
    # the busiest hour by brute force: every window that starts at an event
    counts = [int(((t >= s) & (t < s + HOUR_US)).sum()) for s in np.unique(t)]
    start = int(np.unique(t)[int(np.argmax(counts))])
    in_hour = schedule.column("event_id").to_numpy()[(t >= start) & (t < start + HOUR_US)]
    assert 0 < len(in_hour) < schedule.num_rows
    results = pq.read_table(out / "results.parquet")
    assert sorted(results.column("event_id").to_pylist()) == sorted(in_hour.tolist())
    assert int(results.column("t_intended").to_numpy().min()) == 0  # no wait for the hour
    summary = json.loads((out / "summary.json").read_text())
    events = summary["events"]
    assert events["scheduled"] == len(in_hour)
    assert events["acknowledged"] > 0
    assert events["lost"] == 0 and events["stored"] == events["acknowledged"]
    assert code == (0 if summary["verdict"] == "pass" else 99)
    record = json.loads((out / "run.json").read_text())
    window = record["run"]["window"]
    assert window["spec"] == "busiest:1h"
    assert (window["events"], window["round_events"]) == (len(in_hour), schedule.num_rows)
    assert window["share"] == pytest.approx(len(in_hour) / schedule.num_rows)
    assert window == json.loads((out / "replay.json").read_text())["window"]
    assert record["store_check"]["acknowledged"] == events["acknowledged"]
    # cost and capacity still describe the whole round
    assert record["cost"]["inputs"]["schedule_rows"] == schedule.num_rows
    assert record["cost"]["estimate"]["rounds"]["r1"]["total"]["p50"] > 0
    page = (out / "report.html").read_text()
    assert f"of the round&#x27;s {schedule.num_rows:,} events" in page
    assert "busiest:1h" in capsys.readouterr().err


@pytest.mark.integration
def test_window_outside_the_round_exits_2_before_any_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    window = "2025-03-01T00:00/2025-03-02T00:00"
    assert main(["run", str(SMOKE), "--out", str(out), "--window", window]) == 2
    err = capsys.readouterr().err
    assert f"--window = '{window}': is outside the round" in err
    assert not (out / "results.parquet").exists()
    assert not (out / "replay.json").exists()
    assert "collection system" not in err  # refused before the system under test started

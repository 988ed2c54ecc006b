"""Arrival curve, Parquet + manifest round trip, and the `pulsecheck schedule` command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.cli import main
from simulator.columns import SCHEDULE
from simulator.schedule.io import read_schedule
from simulator.schedule.summary import arrival_curve
from tests.conftest import SCENARIOS
from tests.schedule.fixtures import make_workforce

ET = ZoneInfo("America/New_York")
SEND = dt.datetime(2025, 2, 22, 16, 30, tzinfo=ET)
DEADLINE = dt.datetime(2025, 2, 24, 23, 59, tzinfo=ET)


def us(t: dt.datetime) -> int:
    return int(t.timestamp() * 1e6)


def test_arrival_curve_counts_peak_and_last_day() -> None:
    times = [SEND + dt.timedelta(minutes=5)] * 3 + [DEADLINE - dt.timedelta(hours=1)] * 5
    curve = arrival_curve("r1", np.array([us(t) for t in times]), SEND, DEADLINE, {"reply": 8})
    assert curve.replies == 8 and len(curve.per_hour) == 56
    assert curve.per_hour[0] == 3 and curve.peak_count == 5 and curve.peak_hour == 54
    assert curve.share_last_24h == pytest.approx(5 / 8)


@pytest.fixture
def workforce_file(tmp_path: Path) -> Path:
    path = tmp_path / "wf.parquet"
    pq.write_table(make_workforce([("DOD", "ARMY", 3000), ("VA", "VHA", 3000)], away=0.05), path)
    (tmp_path / "wf.parquet.manifest.json").write_text('{"seed": 1}\n')
    return path


def test_cli_writes_schedule_manifest_summary_and_plot(
    workforce_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "s.parquet", tmp_path / "a.png"
    argv = ["schedule", str(SCENARIOS / "opm-round1.toml"), "--workforce", str(workforce_file)]
    code = main([*argv, "--out", str(out), "--seed", "3", "--summary", "--plot", str(png)])
    assert code == 0
    table = read_schedule(out)
    assert table.schema.equals(SCHEDULE, check_metadata=False)
    manifest = json.loads((tmp_path / "s.parquet.manifest.json").read_text())
    assert manifest["scenario"] == "opm-round1" and manifest["seed"] == 3
    assert manifest["rows"] == table.num_rows and manifest["workforce_manifest_sha256"]
    printed = capsys.readouterr().out
    assert "share in last 24 h" in printed and "peak hour" in printed
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--round", "r9"], "--round"),  # no such round in the scenario
        (["--seed", "-1"], "--seed"),  # seeds are >= 0
        (["--plot", "/nonexistent/dir/a.png"], "--plot"),  # directory missing
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    workforce_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    field: str,
) -> None:
    argv = ["schedule", str(SCENARIOS / "opm-round1.toml"), "--workforce", str(workforce_file)]
    assert main([*argv, "--out", str(tmp_path / "s.parquet"), *extra]) == 2
    assert field in capsys.readouterr().err


def test_missing_workforce_and_bad_workforce_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(SCENARIOS / "opm-round1.toml")
    out = str(tmp_path / "s.parquet")
    assert (
        main(["schedule", scenario, "--workforce", str(tmp_path / "no.parquet"), "--out", out]) == 2
    )
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    assert main(["schedule", scenario, "--workforce", str(bad), "--out", out]) == 2
    assert "bad.parquet" in capsys.readouterr().err

"""`pulsecheck run` end to end on the CI smoke scenario, against the real embedded servers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "ci-smoke.toml"


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["smtp", "http"])
def test_smoke_run_stores_every_acknowledged_event(tmp_path: Path, protocol: str) -> None:
    out = tmp_path / protocol
    code = main(["run", str(SMOKE), "--out", str(out), "--protocol", protocol])
    summary = json.loads((out / "summary.json").read_text())
    events = summary["events"]
    schedule = pq.read_table(out / "schedule.parquet")
    assert events["scheduled"] == schedule.num_rows > 0
    assert events["acknowledged"] > 0
    assert events["lost"] == 0, summary["events"]
    assert events["stored"] == events["acknowledged"]
    assert summary["schema"] == "pulsecheck.summary/1"
    for key in ("p50", "p90", "p99", "p99.9", "max"):
        assert summary["latency_ms"]["corrected"][key] is not None
    assert summary["cost"]["estimate"]["rounds"]["r1"]["total"]["p50"] > 0
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 8
    assert code == (0 if summary["verdict"] == "pass" else 99)


def test_run_refuses_bad_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SMOKE), "--scale", "-1", "--out", str(tmp_path)]) == 2
    assert "scale = -1.0" in capsys.readouterr().err

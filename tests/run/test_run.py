"""`pulsecheck run` end to end on the CI smoke scenario, against the real embedded servers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.cli import main
from tests.report.rebuild import assert_report_rebuilds_the_same_page

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
    if protocol == "smtp":
        assert_sent_bodies_are_the_sized_ones(out)
        # the mailbox names the content rule it applied; the page shows that rule
        rules = [r for r in events["failed_by_reason"] if r.startswith("content rule broken: ")]
        assert rules, events["failed_by_reason"]
        assert f"<td>{rules[0]}</td>" in page
    record = assert_report_rebuilds_the_same_page(out)
    assert "Cost and capacity" in record["sections"]
    assert {"cost_year", "tornado_year", "response_by_agency"} <= set(record["figures"])


def assert_sent_bodies_are_the_sized_ones(out: Path) -> None:
    """The replay renders the bodies the schedule sized (same seed, same HTML share): what
    went on the wire differs from `size_bytes` by about the header allowance only, where
    plain text in place of HTML would differ by hundreds of bytes more."""
    manifest = json.loads((out / "schedule.parquet.manifest.json").read_text())
    assert manifest["rendering"]["html_share"] > 0
    results = pq.read_table(out / "results.parquet")
    schedule = pq.read_table(out / "schedule.parquet").sort_by("event_id")
    assert schedule.column("event_id").to_pylist() == list(range(schedule.num_rows))
    ids = results.column("event_id").to_numpy()
    kind = np.array(schedule.column("kind").to_pylist())[ids]
    violation = np.array(schedule.column("violation").to_pylist())[ids]
    acked = np.isin(results.column("outcome").to_pylist(), ["ok", "late"])
    keep = acked & (kind == "reply") & (violation == "")
    sent = results.column("bytes").to_numpy()[keep]
    gap = sent - schedule.column("size_bytes").to_numpy()[ids][keep]
    assert gap.size > 100
    p5, p95 = np.percentile(gap, [5, 95])
    assert p95 - p5 < 100, (p5, p95)

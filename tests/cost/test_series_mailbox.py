"""The central mailbox over a series of rounds, with and without the 3,600/h limit: when
each quota fills, and which of the two the record (round 1: over a million) supports."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from simulator.app.costing import CostRequest, cost
from simulator.cli import cost as cost_cli
from simulator.cost import capacity as cap
from simulator.cost.plan import CostOptions, CostPlan, recorded_central
from simulator.report.cost_section import cost_html

MIN = cap.MINUTE_US


def _series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 6 * 60 * MIN, n)).astype(np.int64)
    size = rng.integers(2_000, 9_000, n).astype(np.int64)
    code = (t >= 3 * 60 * MIN).astype(np.int64)  # two "rounds" of three hours
    return t, size, code


@pytest.mark.parametrize(("limit", "quota"), [(50, 1e12), (None, 3e6), (40, 2e6), (None, 1e12)])
def test_weighted_arrivals_match_the_repeated_series(limit: int | None, quota: float) -> None:
    t, size, code = _series(600)
    weight = 3
    got = cap.mailbox_series(t, size, weight, code, 2, limit, quota)
    ref = cap.mailbox_round(np.repeat(t, weight), np.repeat(size, weight), limit or 10**12, quota)
    assert got.arrivals == ref.arrivals == 1800
    assert (got.accepted, got.rejected_by_limit, got.rejected_by_quota) == (
        ref.accepted,
        ref.rejected_by_limit,
        ref.rejected_by_quota,
    )
    assert got.quota_full_us == ref.quota_full_us
    assert sum(got.accepted_by_round) == got.accepted


def test_without_the_limit_the_quota_fills_where_the_bytes_cross_it() -> None:
    t = np.arange(10, dtype=np.int64) * MIN
    size = np.full(10, 1_000, dtype=np.int64)
    code = np.repeat([0, 1], 5).astype(np.int64)
    res = cap.mailbox_series(t, size, 10, code, 2, None, 65_000)  # 10 kB a minute
    assert res.quota_full_us == 6 * MIN and res.accepted == 65
    assert res.accepted_by_round == (50, 15) and res.rejected_by_quota == 35
    limited = cap.mailbox_series(t, size, 10, code, 2, 25, 65_000)  # 25 an hour
    assert limited.accepted == 25 and limited.quota_full_us is None


@pytest.fixture(scope="module")
def weekly() -> CostPlan:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios"
    return cost(CostRequest(scenarios / "opm-weekly.toml", options=CostOptions(draws=2000)))


def test_the_plan_shows_both_mailboxes_and_the_record_decides(weekly: CostPlan) -> None:
    m = weekly.document["capacity"]["series_mailbox"]
    assert m["collection"] == "opm-hr" and len(m["rounds"]) == 23
    cases = m["cases"]
    assert set(cases) == {"limit_50GB", "limit_100GB", "no_limit_50GB", "no_limit_100GB"}
    limited, free = cases["limit_50GB"], cases["no_limit_50GB"]
    assert limited["arrivals"] == free["arrivals"] > 1_000_000
    assert limited["rejected_by_limit"] > limited["arrivals"] / 2  # the limit refuses most
    assert free["rejected_by_limit"] == 0
    # the quota: 100 GB holds at least what 50 GB holds; a full quota names its round
    assert cases["no_limit_100GB"]["accepted"] >= free["accepted"]
    for case in cases.values():
        full = case["quota_full_us"]
        assert (full is None) == (case["quota_full_round"] is None)
        if full is not None:
            assert case["accepted_bytes"] <= case["quota_gb"] * 1e9
            assert dt.datetime(2025, 2, 28, tzinfo=dt.UTC).timestamp() * 1e6 < full
    record = recorded_central()
    assert record["replies"] == 1_000_000 and "White House" in record["source"]
    assert m["record"]["limit_admits_at_most"] == 3600 * 55 < record["replies"]
    assert m["supported"] == "no_limit"


def test_terminal_and_page_say_which_mailbox_the_record_supports(weekly: CostPlan) -> None:
    out = io.StringIO()
    console = Console(width=80, file=out, force_terminal=False, color_system=None)
    cost_cli.show(weekly.document, weekly.estimate, weekly.swings["year"], console)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "over 23 rounds (r2-r24)" in text
    assert "3,600/h" in text and "│ none" in text
    assert "The record supports the mailbox without the limit" in text.replace("\n", " ")
    assert "Each round's total cost and the sum" in text
    page = cost_html(weekly.document)
    assert "over 23 rounds (r2-r24)" in page and "without the limit" in page


def test_after_starts_the_mailbox_with_round_1(weekly: CostPlan, tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios"
    plan = cost(
        CostRequest(
            scenarios / "opm-weekly.toml",
            options=CostOptions(draws=200),
            after=scenarios / "opm-round1.toml",
        )
    )
    m = plan.document["capacity"]["series_mailbox"]
    alone = weekly.document["capacity"]["series_mailbox"]
    assert m["rounds"] == ["r1", *alone["rounds"]] and m["prior_rounds"] == ["r1"]
    for name, case in m["cases"].items():
        before = alone["cases"][name]
        assert case["arrivals"] > before["arrivals"] + 1_000_000  # round 1's million
        assert case["accepted_bytes"] >= before["accepted_bytes"]
        assert case["accepted_by_round"]["r1"] > 0
    # the costs are the weekly series' own: round 1 only fills the mailbox first
    assert plan.document["counts"].keys() == weekly.document["counts"].keys()


def test_after_must_name_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    weekly = Path(__file__).resolve().parents[2] / "scenarios" / "opm-weekly.toml"
    assert main(["cost", str(weekly), "--after", str(tmp_path / "no.toml")]) == 2
    assert "--after" in capsys.readouterr().err

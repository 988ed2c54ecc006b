"""The calibration fits Bedlam DL3, DHS 2007 and Cisco 2013, and predicts each from the others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.replyall.calibrate import (
    STORMS,
    TOLERANCE,
    Fit,
    LeftOut,
    apply_fit,
    check_fit,
    fit_storms,
    leave_one_out,
)
from simulator.replyall.data import storms_on_record
from simulator.replyall.params import ReplyAllScenario, load_replyall

ROOT = Path(__file__).resolve().parents[2] / "scenarios"
FILES = {
    "bedlam_dl3": "replyall-bedlam1997.toml",
    "dhs_2007": "replyall-dhs2007.toml",
    "cisco_2013": "replyall-cisco2013.toml",
}


@pytest.fixture(scope="module")
def scenarios() -> dict[str, ReplyAllScenario]:
    return {name: load_replyall(ROOT / f) for name, f in FILES.items()}


@pytest.fixture(scope="module")
def fit(scenarios: dict[str, ReplyAllScenario]) -> Fit:
    return fit_storms(scenarios, storms_on_record())


def test_three_storms_on_record_with_sources() -> None:
    records = storms_on_record()
    assert set(STORMS) <= {k for k, r in records.items() if r.calibrate}
    dhs, bedlam = records["dhs_2007"], records["bedlam_dl3"]
    assert (dhs.list_size, dhs.posts, dhs.deliveries) == (7500, 275, 2.2e6)
    assert (bedlam.list_size, bedlam.list_size_high) == (13000, 25000)  # a range
    assert all(r.source for r in records.values())


@pytest.mark.parametrize(
    ("storm", "figure"),
    [
        ("bedlam_dl3", "deliveries"),
        ("bedlam_dl3", "bytes"),
        ("dhs_2007", "deliveries"),
        ("dhs_2007", "posts"),
        ("cisco_2013", "deliveries"),
        ("cisco_2013", "bytes"),
        ("cisco_2013", "peak_posts_per_s"),
    ],
)
def test_fit_within_tolerance(
    scenarios: dict[str, ReplyAllScenario], fit: Fit, storm: str, figure: str
) -> None:
    records = storms_on_record()
    result = check_fit(apply_fit(scenarios[storm], fit, storm), records[storm], 20, 3)[figure]
    assert result["error"] is not None
    assert abs(float(result["error"])) <= TOLERANCE[figure], result


def test_fit_scales_posts_below_proportion(fit: Fit) -> None:
    # the fit itself says the propensity falls with list size
    assert 0.0 < fit.exponent <= 1.0
    assert fit.list_size["bedlam_dl3"] in (13000, 25000)


def test_shipped_scenarios_already_hold_the_fit(
    scenarios: dict[str, ReplyAllScenario], fit: Fit
) -> None:
    b = scenarios["bedlam_dl3"].behaviour
    assert fit.rate_scale == pytest.approx(1.0, rel=0.25)
    assert fit.pool_share == pytest.approx(b.pool_share, rel=0.25)
    assert fit.exponent == pytest.approx(b.responsibility_exponent, abs=0.1)


@pytest.fixture(scope="module")
def loo(scenarios: dict[str, ReplyAllScenario]) -> list[LeftOut]:
    return leave_one_out(scenarios, storms_on_record(), runs=5, seed=1, rounds=3)


def test_leave_one_out_predicts_each_storm_from_the_other_two(loo: list[LeftOut]) -> None:
    assert [r.storm for r in loo] == list(STORMS)
    for r in loo:
        assert r.storm not in r.fit.storms and len(r.fit.storms) == 2
        for figure in ("posts", "deliveries"):
            err = r.error(figure)
            assert err is not None and np.isfinite(err)
            # an honest prediction, not a copy of the record: within a factor of 5
            assert -0.8 < err < 4.0, (r.storm, figure, err)
    dhs = next(r for r in loo if r.storm == "dhs_2007")
    assert dhs.error("bytes") is None  # no bytes published for DHS

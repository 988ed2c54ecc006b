"""The calibration reproduces Bedlam DL3 and Cisco 2013 within the stated tolerance."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.replyall.calibrate import TOLERANCE, apply_fit, check_fit, fit_storms
from simulator.replyall.data import storms_on_record
from simulator.replyall.params import load_replyall

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def fitted() -> dict[str, dict[str, dict[str, object]]]:
    bedlam = load_replyall(ROOT / "replyall-bedlam1997.toml")
    cisco = load_replyall(ROOT / "replyall-cisco2013.toml")
    records = storms_on_record()
    fit = fit_storms(bedlam, cisco, records)
    return {
        name: check_fit(apply_fit(sc, fit, name), records[name], runs=20, seed=3)
        for name, sc in (("bedlam_dl3", bedlam), ("cisco_2013", cisco))
    }


@pytest.mark.parametrize(
    ("storm", "figure"),
    [
        ("bedlam_dl3", "deliveries"),
        ("bedlam_dl3", "bytes"),
        ("cisco_2013", "deliveries"),
        ("cisco_2013", "bytes"),
        ("cisco_2013", "peak_posts_per_s"),
    ],
)
def test_fit_within_tolerance(
    fitted: dict[str, dict[str, dict[str, object]]], storm: str, figure: str
) -> None:
    result = fitted[storm][figure]
    assert result["error"] is not None
    assert abs(float(result["error"])) <= TOLERANCE[figure], result  # type: ignore[arg-type]


def test_shipped_scenarios_already_hold_the_fit() -> None:
    bedlam = load_replyall(ROOT / "replyall-bedlam1997.toml")
    cisco = load_replyall(ROOT / "replyall-cisco2013.toml")
    fit = fit_storms(bedlam, cisco, storms_on_record())
    assert fit.rate_scale == pytest.approx(1.0, rel=0.2)
    assert fit.pool_share == pytest.approx(bedlam.behaviour.pool_share, rel=0.2)

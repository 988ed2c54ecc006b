"""One money formatter for pages, terminal, figures and CI summaries."""

import pytest

from simulator.report.money import usd, usd_short


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (23_415_429, "$23.4M"),
        (15_000_000, "$15.0M"),
        (233_400, "$233k"),
        (1_050_000, "$1.05M"),
        (431_299_912, "$431M"),
        (2_200_000_000, "$2.20B"),
        (862, "$862"),
        (6.27, "$6.27"),
    ],
)
def test_short_dollars_keep_three_figures(value: float, shown: str) -> None:
    assert usd_short(value) == shown


def test_the_sign_is_the_callers() -> None:
    assert usd_short(23_415_429, sign="") == "23.4M"  # GitHub Markdown
    assert usd_short(23_415_429, sign="\\$") == "\\$23.4M"  # matplotlib text
    assert usd(23_415_429) == "$23,415,429" and usd(0.59) == "$0.59"

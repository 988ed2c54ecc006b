"""The report page: self-contained, and it loads in a real browser with every figure shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.report import figures
from simulator.report.html import write_report
from simulator.report.summary import build_summary
from tests.report import browser
from tests.report.helpers import results_table


@pytest.fixture
def page(tmp_path: Path) -> Path:
    outcomes = ["ok"] * 90 + ["rejected"] * 5 + ["dropped"] * 5
    errors = [""] * 90 + ["550 5.7.1 link"] * 5 + ["deadline"] * 5
    table = results_table([float(i % 37) for i in range(100)], outcomes, errors)
    summary = build_summary(table, scenario="unit", stored=90)
    figs = {
        "arrival": ("Arrival vs send", figures.arrival_vs_send(table)),
        "latency": ("Latency over time", figures.latency_over_time(table)),
        "hdr": ("HDR percentiles", figures.hdr_percentiles(table)),
        "errors": ("Errors", figures.errors_over_time(table)),
        "agency": ("Response", figures.response_by_agency({"VA": 10, "DOD": 20}, {"VA": 5})),
    }
    return write_report(tmp_path, summary, figs)


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 5
    assert not re.search(r"src=['\"](?!data:)", text), "the page refers to an outside file"
    assert sorted(p.name for p in (page.parent / "figures").iterdir()) == [
        "agency.png",
        "arrival.png",
        "errors.png",
        "hdr.png",
        "latency.png",
    ]
    assert (page.parent / "summary.json").exists()


@pytest.mark.integration
def test_page_loads_in_headless_chromium(page: Path) -> None:
    dom, log = browser.load(page)
    assert 'data-figures-loaded="5/5"' in dom, log[-2000:]
    assert "Uncaught" not in log and "ERROR:CONSOLE" not in log

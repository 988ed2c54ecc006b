"""The report page: self-contained, and it loads in a real browser with every figure shown."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from simulator.app.reporting import ReportResult, report
from simulator.report import figures
from simulator.report.clock import EventClock
from simulator.report.html import answers_rows, write_report
from simulator.report.summary import build_summary
from tests import browser
from tests.report.helpers import FIRST_EVENT, results_table, run_directory


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


@pytest.fixture
def run_page(tmp_path: Path) -> tuple[Path, ReportResult]:
    done = report(run_directory(tmp_path))
    return done.page, done


def test_the_page_answers_first_then_says_how_the_run_was_made(
    run_page: tuple[Path, ReportResult],
) -> None:
    page, _ = run_page
    text = page.read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", text)
    assert headings[:3] == ["Answers", "Run", "Events"]
    assert headings[-2:] == ["Glossary", "Figures"]
    answers = text[text.index("<section id='answers'>") : text.index("</section>")]
    for words in (
        "thresholds",  # the verdict, or that none were set
        "90 of 90 (100.0%) acknowledged events, found in store.db",  # stored
        "lost (acknowledged, not stored)</td><td>0<",
        "100/s offered",
        "ms corrected (from intended send)",
        "busiest offered second is Sat 22 Feb 2025 16:30 EST",
    ):
        assert words in answers, words
    assert "<pre>" not in text  # no terminal text; the scenario copy is the only <pre>
    assert "Sat 22 Feb 2025 16:30 EST to Sat 22 Feb 2025 22:00 EST" in text  # replayed span


def test_breakdowns_reasons_and_the_glossary_are_on_the_page(
    run_page: tuple[Path, ReportResult],
) -> None:
    page, done = run_page
    text = page.read_text()
    assert "<h3>By event kind</h3>" in text and "<h3>By agency</h3>" in text
    assert "<td>broadcast</td><td>1</td>" in text
    assert "<td>content rule broken: link</td><td>10</td>" in text
    assert done.summary["breakdown"]["collection"]["opm-hr"]["rejected"] == 10
    glossary = text[text.index("<h2>Glossary</h2>") :]
    for term in ("late", "timeout", "dropped", "lost", "duplicates", "corrected latency"):
        assert f"<dt>{term}</dt>" in glossary
    assert "more than 10 ms after their intended time" in glossary


def test_time_axes_read_the_scenario_clock(run_page: tuple[Path, ReportResult]) -> None:
    _, done = run_page
    assert done.summary["clock"]["first_event"] == "Sat 22 Feb 2025 16:30 EST"
    clock = EventClock(_first_us(), 20_000.0, "America/New_York")
    fig = figures.arrival_vs_send(results_table([5.0] * 100, ["ok"] * 100), clock)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    # 16:30 to 22:00 in New York (21:30 to 03:00 UTC)
    assert labels and all(label.startswith("Sat 22 Feb") for label in labels), labels
    hours = {int(label.split("\n")[1][:2]) for label in labels}
    assert hours <= set(range(16, 23)), labels
    assert "EST, America/New_York" in ax.get_xlabel()
    assert any(child.get_xlabel() == "replay time (s)" for child in ax.child_axes)
    plt.close(fig)


def _first_us() -> int:
    return int(np.datetime64(FIRST_EVENT, "us").astype(np.int64))


def test_every_figure_is_closed_once_written(run_page: tuple[Path, ReportResult]) -> None:
    _, done = run_page
    assert len(done.figures) == 5
    assert plt.get_fignums() == []


def test_count_axes_carry_no_offset_text() -> None:
    fig, ax = figures._axes("rates", "events / s")
    ax.plot([0, 1], [12_000, 12_005])  # a narrow range far from zero: offset text by default
    fig.canvas.draw()
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert figures.plain("$5 and $6") == r"\$5 and \$6"  # drawn as written, not as mathtext
    plt.close(fig)


def test_answers_name_the_cost_and_what_it_takes() -> None:
    total = {"p10": 15_048_132.0, "p50": 23_258_664.0, "p90": 32_935_087.0}
    plan = {
        "cores": 3,
        "servers": 1,
        "cores_per_server": 8,
        "peak_per_s": 816.7,
        "per_core_per_s": 498.0,
        "headroom": 1.5,
        "mailboxes_for_rate": 89,
        "mailboxes_for_quota": 1,
        "limit_per_hour": 3600,
    }
    table = results_table([5.0] * 10, ["ok"] * 10)
    summary = build_summary(
        table,
        scenario="unit",
        stored=10,
        extra={
            "cost": {"estimate": {"rounds": {"r1": {"total": total}}}, "priced": "Priced for X."},
            "capacity": {"plans": {"likely": plan}},
        },
    )
    rows = dict(answers_rows(summary))
    assert rows["cost of round r1"] == "P50 $23.3M (P10 $15.0M to P90 $32.9M); Priced for X."
    assert rows["what it takes"].startswith("3 cores (1 server(s) of 8) for a peak of 817")
    assert "89 mailbox(es)" in rows["what it takes"]

"""The planner's page (`pulsecheck cost --html`), its figures, and the cost tables at 80
columns, on the shipped scenarios built in memory."""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cbook import is_math_text
from matplotlib.text import Text
from rich.console import Console

from simulator.app.costing import CostRequest, cost
from simulator.cli import cost as cost_cli
from simulator.cost.plan import CostOptions, CostPlan, cost_figures
from simulator.report.cost_section import cost_html
from simulator.report.money import usd_short
from tests.report import browser


def _plan(scenarios_dir: Path, name: str) -> CostPlan:
    return cost(CostRequest(scenarios_dir / name, options=CostOptions(draws=2000)))


@pytest.fixture(scope="module")
def once(scenarios_dir: Path) -> CostPlan:
    return _plan(scenarios_dir, "opm-round1.toml")


@pytest.fixture(scope="module")
def weekly(scenarios_dir: Path) -> CostPlan:
    return _plan(scenarios_dir, "opm-weekly.toml")


@pytest.fixture(scope="module")
def scenarios_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "scenarios"


def _page(tmp_path: Path, scenarios_dir: Path, scenario: str) -> Path:
    page = tmp_path / "cost.html"
    parser = argparse.ArgumentParser()
    cost_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["cost", str(scenarios_dir / scenario), "--draws", "2000", "--html", str(page)]
    )
    assert args.func(args) == 0
    return page


def test_page_has_headline_every_collection_and_inline_figures(
    tmp_path: Path, scenarios_dir: Path, weekly: CostPlan, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _page(tmp_path, scenarios_dir, "opm-weekly.toml").read_text()
    assert f"wrote {tmp_path / 'cost.html'}" in capsys.readouterr().out
    total = weekly.document["estimate"]["rounds"]["r2"]["total"]
    assert f"Round r2 costs {usd_short(total['p50'])} (P50)" in page
    assert f"{usd_short(total['p10'])} – {usd_short(total['p90'])}" in page
    for collection in ("opm-hr", "dod-consolidation", "dhs-accountability", "hhs-leadership"):
        assert f"<b>{collection}</b>" in page
    assert "Receiving " in page and " replies in " in page
    assert "The series: 23 rounds, each once" in page  # weekly, 28 Feb to 5 Aug 2025
    assert page.count("data:image/png;base64,") == 3  # round, year, tornado
    assert not re.search(r"src=['\"](?!data:)", page), "the page refers to an outside file"
    assert "<table>" in page and "<pre>" not in page


def test_collections_are_sized_on_their_own(weekly: CostPlan) -> None:
    rows = {c["collection"]: c for c in weekly.document["capacity"]["collections"]}
    assert set(rows) == {"opm-hr", "dod-consolidation", "dhs-accountability", "hhs-leadership"}
    # Every reply lands at exactly one collection.
    mailbox = weekly.document["capacity"]["mailbox"]["rounds"]["r2"]["50GB"]["one_round"]
    assert rows["opm-hr"]["arrivals"] == mailbox["arrivals"]
    assert rows["dod-consolidation"]["arrivals"] > rows["hhs-leadership"]["arrivals"] > 0
    for row in rows.values():
        plan = row["plans"]["likely"]
        assert plan["cores"] >= 1
        assert plan["mailboxes_for_rate"] * plan["limit_per_hour"] >= plan["peak_per_hour"]
        assert row["one_mailbox"]["arrivals"] == row["arrivals"]


def test_once_round_has_no_year_table(once: CostPlan) -> None:
    section = cost_html(once.document)
    assert "A year at the rounds' cadence" not in section
    assert "happens once" in section


def test_figures_keep_dollars_and_have_no_offset_text(once: CostPlan) -> None:
    for name, (_, fig) in cost_figures(once).items():
        FigureCanvasAgg(fig).draw()
        texts = [t.get_text() for t in fig.findobj(Text) if "$" in t.get_text()]
        assert texts, f"{name}: no dollar amount drawn"
        for text in texts:
            assert not is_math_text(text), f"{name}: mathtext would eat the $ in {text!r}"
        for ax in fig.axes:
            assert ax.xaxis.get_offset_text().get_text() == "", name


def _terminal(plan: CostPlan) -> str:
    out = io.StringIO()
    console = Console(width=80, file=out, force_terminal=False, color_system=None)
    cost_cli.show(plan.document, plan.estimate, plan.swings["year"], console)
    return out.getvalue()


@pytest.mark.parametrize("which", ["once", "weekly"])
def test_terminal_tables_fit_80_columns(which: str, request: pytest.FixtureRequest) -> None:
    plan: CostPlan = request.getfixturevalue(which)
    text = _terminal(plan)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    header = next(line for line in lines if "┃ assumption" in line)
    assert "swing" in header
    top = plan.swings["year"][0]
    assert top.name in text and usd_short(top.swing) in text
    assert ("The series: 23 rounds, each once" in text) is (which == "weekly")
    for c in plan.document["capacity"]["collections"]:
        assert f"{c['arrivals']:,}" in text


@pytest.mark.integration
@pytest.mark.skipif(browser.chromium() is None, reason="chromium is not installed")
def test_page_in_headless_chromium(tmp_path: Path, scenarios_dir: Path, once: CostPlan) -> None:
    page = _page(tmp_path, scenarios_dir, "opm-round1.toml")
    probe = (
        "<script>window.addEventListener('load', function () {"
        "var h = document.getElementById('cost-headline').getBoundingClientRect();"
        "document.body.setAttribute('data-headline-bottom', Math.round(h.bottom));"
        "document.body.setAttribute('data-first-screen', window.innerHeight);"
        "});</script></body>"
    )
    page.write_text(page.read_text().replace("</body>", probe))
    dom, log = browser.load(page)
    loaded = re.search(r'data-figures-loaded="(\d+)/(\d+)"', dom)
    assert loaded, log[-2000:]
    assert loaded.group(1) == loaded.group(2) == "2"  # the round and the tornado
    bottom = int(re.search(r'data-headline-bottom="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    screen = int(re.search(r'data-first-screen="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    assert 0 < bottom <= screen
    total = once.document["estimate"]["rounds"]["r1"]["total"]
    headline = re.search(r"id=\"cost-headline\">([^<]*)<", dom)
    assert headline, dom[:2000]
    assert usd_short(total["p50"]) in headline.group(1)
    assert f"{usd_short(total['p10'])} – {usd_short(total['p90'])}" in headline.group(1)
    assert "Uncaught" not in log and "ERROR:CONSOLE" not in log

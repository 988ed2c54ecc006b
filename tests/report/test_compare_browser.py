"""The comparison page in a real browser: it loads without console output, its tables
are real tables and nothing is wider than the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.app.comparing import CompareRequest, compare
from simulator.app.reporting import report
from tests import browser
from tests.report.helpers import run_directory

pytestmark = [pytest.mark.integration, browser.needs_chromium]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = []
    for name, n in (("a", 100), ("b", 200)):
        folder = tmp_path_factory.mktemp(name)
        report(run_directory(folder, n))
        runs.append(folder)
    out = tmp_path_factory.mktemp("page") / "compare.html"
    compare(CompareRequest(runs[0], runs[1], html=out))
    return out


def test_the_comparison_page_loads_quietly(page: Path) -> None:
    _, log = browser.load(page)
    assert browser.console_messages(log) == []
    found = browser.probe(
        page,
        {
            "tables": "document.querySelectorAll('table').length",
            "rows": "document.querySelectorAll('tr').length",
            "pre": "document.querySelectorAll('pre').length",
            "wide": "document.documentElement.scrollWidth <= window.innerWidth",
            "ratio": "document.body.textContent.indexOf('B/A') >= 0",
        },
    )
    assert isinstance(found["tables"], int) and found["tables"] >= 1
    assert isinstance(found["rows"], int) and found["rows"] > 5
    assert found["pre"] == 0  # real tables, not terminal text
    assert found["wide"] is True
    assert found["ratio"] is True

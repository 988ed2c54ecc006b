"""The check that `pulsecheck report RUN` rebuilds the page `pulsecheck run` wrote."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from simulator.cli import main


def assert_report_rebuilds_the_same_page(out: Path) -> dict[str, Any]:
    """`pulsecheck report RUN` rebuilds the page `run` wrote: the same sections, the same
    figures, the same summary, from the run directory's files alone."""
    record = json.loads((out / "run.json").read_text())
    assert record["schema"] == "pulsecheck.run/2"
    first_page = (out / "report.html").read_text()
    first_summary = (out / "summary.json").read_text()
    first_figures = sorted(p.name for p in (out / "figures").iterdir())
    for path in (out / "report.html", out / "summary.json"):
        path.unlink()
    main(["report", str(out)])
    page = (out / "report.html").read_text()
    assert _headings(page) == _headings(first_page)
    assert _figure_ids(page) == _figure_ids(first_page)
    assert len(_figure_ids(page)) == len(record["figures"])
    assert sorted(p.name for p in (out / "figures").iterdir()) == first_figures
    assert (out / "summary.json").read_text() == first_summary
    return record


def _headings(page: str) -> list[str]:
    return re.findall(r"<h[23]>(.*?)</h[23]>", page)


def _figure_ids(page: str) -> list[str]:
    return re.findall(r"<figure id='fig-([^']+)'", page)

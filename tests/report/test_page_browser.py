"""The run page in a real browser: no console output, every figure decodes, and the
answers are on the first screen."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from simulator.app.reporting import report
from tests import browser
from tests.report.helpers import run_directory

pytestmark = [pytest.mark.integration, browser.needs_chromium]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report(run_directory(tmp_path_factory.mktemp("run"))).page


def test_the_page_loads_quietly_with_every_figure_decoded(page: Path) -> None:
    dom, log = browser.load(page)
    assert browser.console_messages(log) == []
    assert 'data-figures-loaded="5/5"' in dom, log[-2000:]
    found = browser.probe(
        page,
        {
            "images": "document.images.length",
            "decoded": "Array.prototype.filter.call(document.images,"
            " function (i) { return i.naturalWidth > 0; }).length",
            "narrowest": "Math.min.apply(null, Array.prototype.map.call(document.images,"
            " function (i) { return i.naturalWidth; }))",
        },
    )
    assert found["images"] == found["decoded"] == 5
    assert isinstance(found["narrowest"], int) and found["narrowest"] >= 1200  # 2x DPI


def test_the_answers_are_on_the_first_screen(page: Path) -> None:
    found = browser.probe(
        page,
        {
            "top": "document.getElementById('answers').getBoundingClientRect().top",
            "bottom": "document.getElementById('answers').getBoundingClientRect().bottom",
            "first": "document.querySelector('h2').textContent",
            "wide": "document.documentElement.scrollWidth <= window.innerWidth",
        },
    )
    assert found["first"] == "Answers"
    assert isinstance(found["bottom"], int | float) and found["bottom"] <= browser.WINDOW[1]
    assert isinstance(found["top"], int | float) and 0 <= found["top"] < 200
    assert found["wide"] is True  # nothing wider than the window


def test_a_screenshot_of_the_first_screen(page: Path, tmp_path: Path) -> None:
    shot = browser.screenshot(page, tmp_path / "first.png")
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == browser.WINDOW


def test_a_script_error_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><body><script>notDefined();</script></body>")
    _, log = browser.load(broken)
    assert any("notDefined" in line for line in browser.console_messages(log))

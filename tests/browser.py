"""Load a page in headless Chromium (Debian's package): the DOM after its scripts ran,
Chromium's log (console errors show there), measurements a probe script writes into the
DOM, and screenshots. Page tests skip with `needs_chromium` when it is not installed."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]
WINDOW = (1280, 900)  # the first screen of a laptop


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed: run tests/setup.sh"
)


def _run(page: Path, *args: str, window: tuple[int, int] = WINDOW) -> tuple[str, str]:
    binary = chromium()
    assert binary, "chromium is not installed: run tests/setup.sh"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={window[0]},{window[1]}",
                *args,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return proc.stdout, proc.stderr


def load(page: Path) -> tuple[str, str]:
    """(DOM after load, Chromium's log) for a local page."""
    return _run(page, "--dump-dom")


def console_messages(log: str) -> list[str]:
    """The page's console output and uncaught errors in Chromium's log (headless Chromium
    logs every console message at one level, so a quiet page is one with none)."""
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


PROBE = """
<script>
window.addEventListener('load', function () {
  var probes = %s, out = {};
  Object.keys(probes).forEach(function (k) {
    try { out[k] = (new Function('return (' + probes[k] + ');'))(); }
    catch (e) { out[k] = 'error: ' + e; }
  });
  var node = document.createElement('pre');
  node.id = 'probe-result';
  node.textContent = JSON.stringify(out);
  document.body.appendChild(node);
});
</script>
"""


def probe(page: Path, expressions: Mapping[str, str]) -> dict[str, object]:
    """Evaluate JavaScript expressions in the loaded page (a copy with a probe script
    added at the end, so the page's own layout is measured) and return their values."""
    text = page.read_text(encoding="utf-8")
    script = PROBE % json.dumps(dict(expressions))
    copy = page.with_name(page.stem + ".probe.html")
    copy.write_text(text.replace("</body>", script + "</body>", 1), encoding="utf-8")
    try:
        dom, log = load(copy)
    finally:
        copy.unlink()
    found = re.search(r"<pre id=\"probe-result\">(.*?)</pre>", dom, re.S)
    assert found, log[-2000:]
    values: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return values


def screenshot(page: Path, out: Path, window: tuple[int, int] = WINDOW) -> Path:
    """A PNG of the page's first `window` pixels."""
    _, log = _run(page, f"--screenshot={out}", window=window)
    assert out.exists(), log[-2000:]
    return out

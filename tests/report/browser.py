"""Load a page in headless Chromium (Debian's package) and return the DOM after scripts ran."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def load(page: Path) -> tuple[str, str]:
    """(DOM after load, Chromium's log) for a local page."""
    binary = chromium()
    assert binary, "chromium is not installed: run tests/setup.sh"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return proc.stdout, proc.stderr

"""Bulk logging into Locust's stats, checked against Locust in a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bulk_logging_matches_locust_logging_each_event() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.locust.bulk_check"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "3 checks passed" in proc.stdout

"""Shared fixtures: paths to the shipped scenarios; a real mail stack (tests/mailstack.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mailstack import mailstack, mailstack_factory  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def scenarios_dir() -> Path:
    return SCENARIOS

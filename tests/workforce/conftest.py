"""Shared fixtures: the built-in calibration tables and a small generated workforce."""

from __future__ import annotations

import pyarrow as pa
import pytest

from simulator.workforce import CalibrationTables, build_workforce, load_tables


@pytest.fixture(scope="session")
def tables() -> CalibrationTables:
    return load_tables()


@pytest.fixture(scope="session")
def small_workforce(tables: CalibrationTables) -> pa.Table:
    """About 23,000 employees (scale 0.01), seed 7."""
    return build_workforce(0.01, 7, tables)

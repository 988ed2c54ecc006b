"""The synthetic federal workforce: one row per employee, calibrated to OPM FedScope.

Theory of operation: `load_tables` reads the calibration CSV files (every figure with its
source), `build_workforce` draws the population whole-column with numpy (pure and
deterministic for a seed and scale), `write_workforce` / `read_workforce` store it as
Parquet with a JSON manifest beside it, and `calibration_report` sets each published
marginal beside the generated one.
"""

from simulator.workforce.calibrate import calibration_report
from simulator.workforce.generate import FlagShares, build_workforce
from simulator.workforce.io import read_manifest, read_workforce, write_workforce
from simulator.workforce.tables import CalibrationTables, load_tables

__all__ = [
    "CalibrationTables",
    "FlagShares",
    "build_workforce",
    "calibration_report",
    "load_tables",
    "read_manifest",
    "read_workforce",
    "write_workforce",
]

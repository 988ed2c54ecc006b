"""Parquet + manifest: round trip, provenance, and rejecting foreign files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator import __version__
from simulator.validation import InputError
from simulator.workforce import CalibrationTables, read_manifest, read_workforce, write_workforce


def test_round_trip_keeps_every_column(
    tmp_path: Path, small_workforce: pa.Table, tables: CalibrationTables
) -> None:
    path = tmp_path / "wf.parquet"
    manifest = write_workforce(small_workforce, path)
    assert manifest == tmp_path / "wf.parquet.manifest.json"
    back = read_workforce(path)
    assert back.equals(small_workforce)
    data = json.loads(manifest.read_text())
    assert data["rows"] == small_workforce.num_rows
    assert (data["seed"], data["scale"], data["version"]) == (7, 0.01, __version__)
    assert data["tables_sha256"] == tables.digest
    assert asdict(read_manifest(path)) == data


def test_wrong_columns_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    with pytest.raises(InputError, match="needs employee_id"):
        read_workforce(path)


def test_not_parquet_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "junk.parquet"
    path.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_workforce(path)

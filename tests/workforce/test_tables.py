"""Calibration tables: built-in files load; bad cells are named by file, row and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simulator.validation import InputError
from simulator.workforce import CalibrationTables, load_tables
from simulator.workforce.tables import DATA_DIR, FILES


def _copy(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_builtin_tables_hold_the_published_totals(tables: CalibrationTables) -> None:
    assert sum(d.headcount for d in tables.departments) == 2_313_216
    assert len(tables.small_agencies) == 100
    assert tables.pay_basis["mean_pay"] == 107_722
    assert abs(sum(z.share for z in tables.zones) - 1) < 1e-9
    assert abs(tables.state_shares().sum() - 1) < 1e-9


def test_every_domain_is_reserved(tables: CalibrationTables) -> None:
    for agency in (*tables.departments, *tables.subagencies, *tables.small_agencies):
        assert agency.domain.endswith((".example", ".test")), agency.code


def test_spans_stay_in_published_range_and_give_the_supervisor_share(
    tables: CalibrationTables,
) -> None:
    assert all(7.0 <= s <= 10.0 for s in tables.spans.values())
    total = sum(d.headcount for d in tables.departments)
    share = sum(d.headcount / tables.spans[d.code] for d in tables.departments) / total
    assert abs(share - tables.pay_basis["supervisor_share"]) < 0.002


def test_copied_tables_have_the_same_digest(tmp_path: Path, tables: CalibrationTables) -> None:
    assert load_tables(_copy(tmp_path)).digest == tables.digest


def test_changed_table_changes_the_digest(tmp_path: Path, tables: CalibrationTables) -> None:
    base = _copy(tmp_path)
    _edit(base / "workforce_flags.csv", "away,0.041,0.07", "away,0.041,0.08")
    assert load_tables(base).digest != tables.digest


def test_bad_number_names_file_row_and_column(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    _edit(base / "pay_grades.csv", "1,0.0002,", "1,lots,")
    with pytest.raises(InputError) as err:
        load_tables(base)
    assert "pay_grades.csv" in str(err.value) and "row 2 column share" in str(err.value)


def test_real_domain_is_rejected(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    _edit(base / "agencies.csv", "va.example", "va.gov")
    with pytest.raises(InputError, match="reserved domain"):
        load_tables(base)


def test_missing_file_is_named(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    (base / "duty_states.csv").unlink()
    with pytest.raises(InputError, match=r"duty_states\.csv"):
        load_tables(base)


def test_small_agencies_must_add_up(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    _edit(base / "small_agencies.csv", ",8910,", ",8911,")
    with pytest.raises(InputError, match="must sum to 72475"):
        load_tables(base)


def test_flag_range_must_be_ordered(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    _edit(base / "workforce_flags.csv", "away,0.041,0.07,0.10", "away,0.041,0.2,0.10")
    with pytest.raises(InputError, match="low <= likely <= high"):
        load_tables(base)
